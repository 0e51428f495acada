/*
 * soak.c - a long random mixed workload against one server (`make soak`,
 * not part of `make check` or CI).
 *
 *   tests/soak [SECONDS]     default $SOAK_SECONDS or 300
 *
 * Starts $MCD_BIN (harness rules) with -m 64 -t 4 and runs eight client
 * threads doing random set/add/replace/append/prepend/cas/get/gets/multiget
 * /delete/incr/decr/touch on a key space large enough to keep eviction
 * busy, in text and binary-free pipelines of 1..16 requests. Every value
 * carries its own key and a checksum, so a get that returns another key's
 * bytes or torn bytes is caught. Every 10 s it samples the server's VmRSS.
 *
 * Fails (exit 1) on: any reply that is not one the command may give, a bad
 * checksum, the server dying, or RSS growing once warm: the last third of
 * the samples may not exceed the highest sample of the middle third by more
 * than 10% + 4 MB. Prints a summary line either way.
 */
#include "config.h"

#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/harness.h"

#define SOAK_THREADS 8
#define SOAK_KEYS 200000
#define SOAK_MAX_SAMPLES 4096

static atomic_bool stop;
static atomic_ulong ops, errors, hits, misses;

struct rng {
    uint64_t s;
};

static uint64_t rnd(struct rng *r)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return r->s;
}

static uint32_t fnv(const char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 16777619u;
    return h;
}

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "soak: %s: %s\n", what, detail != NULL ? detail : "(nothing)");
    atomic_fetch_add(&errors, 1);
}

/* value = "<key>|<len>|<filler>|<8 hex checksum of all before>" */
static size_t make_value(struct rng *r, const char *key, char *buf)
{
    size_t n = 20 + (size_t)(rnd(r) % 8 == 0 ? rnd(r) % 60000 : rnd(r) % 400);
    int h = snprintf(buf, 64, "%s|%zu|", key, n);
    size_t body = n - 9;
    for (size_t i = (size_t)h; i < body; i++)
        buf[i] = (char)('a' + (i + n) % 26);
    snprintf(buf + body, 10, "|%08" PRIx32, fnv(buf, body));
    return n;
}

/* Checks a value read back for `key` (appends/prepends and incr results
 * change values: those keys live in their own ranges). */
static void check_value(const char *key, const char *v, size_t n)
{
    if (n < 9 || v[n - 9] != '|') {
        fail("value without checksum", key);
        return;
    }
    char want[9];
    snprintf(want, sizeof(want), "%08" PRIx32, fnv(v, n - 9));
    size_t klen = strlen(key);
    if (memcmp(v + n - 8, want, 8) != 0 || n < klen + 1 || memcmp(v, key, klen) != 0 || v[klen] != '|')
        fail("corrupt value for", key);
}

/* Reads one get reply (VALUE... END) and checks every value in it. */
static bool read_get(struct mcd_conn *c)
{
    for (;;) {
        char *line = mcd_read_line(c);
        if (line == NULL) {
            fail("get", "no reply");
            return false;
        }
        if (strcmp(line, "END") == 0) {
            free(line);
            return true;
        }
        char key[256];
        unsigned flags;
        size_t n;
        if (sscanf(line, "VALUE %255s %u %zu", key, &flags, &n) != 3) {
            fail("get reply", line);
            free(line);
            return false;
        }
        free(line);
        while (c->len < n + 2)
            if (mcd_fill(c, MCD_IO_TIMEOUT_MS) <= 0) {
                fail("get", "short value");
                return false;
            }
        if (strncmp(key, "s:", 2) == 0)
            check_value(key, c->buf, n);
        else if (strncmp(key, "n:", 2) == 0 && strspn(c->buf, "0123456789 ") < n)
            fail("counter not a number", key);
        atomic_fetch_add(&hits, 1);
        mcd_consume(c, n + 2);
    }
}

static bool expect_one_of(struct mcd_conn *c, const char *const *ok, const char *what)
{
    char *line = mcd_read_line(c);
    if (line == NULL) {
        fail(what, "no reply");
        return false;
    }
    for (size_t i = 0; ok[i] != NULL; i++) {
        size_t l = strlen(ok[i]);
        if (ok[i][l - 1] == '*' ? strncmp(line, ok[i], l - 1) == 0 : strcmp(line, ok[i]) == 0) {
            if (strcmp(line, "NOT_FOUND") == 0)
                atomic_fetch_add(&misses, 1);
            free(line);
            return true;
        }
    }
    fail(what, line);
    free(line);
    return false;
}

static void *client(void *arg)
{
    const struct mcd_server *srv = arg;
    static const char *const store_ok[] = {"STORED", "NOT_STORED", "EXISTS", "NOT_FOUND", NULL};
    static const char *const del_ok[] = {"DELETED", "NOT_FOUND", NULL};
    static const char *const touch_ok[] = {"TOUCHED", "NOT_FOUND", NULL};
    static const char *const num_ok[] = {"NOT_FOUND", "0*", "1*", "2*", "3*", "4*", "5*", "6*", "7*", "8*", "9*",
                                         NULL};
    struct rng r = {.s = 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)&r};
    struct mcd_conn *c = mcd_conn_open(srv);
    char *val = malloc(70000);
    char *buf = malloc(80000);
    if (c == NULL || val == NULL || buf == NULL) {
        fail("client", "setup failed");
        return NULL;
    }
    while (!atomic_load(&stop)) {
        char key[64];
        unsigned k = (unsigned)(rnd(&r) % SOAK_KEYS);
        unsigned op = (unsigned)(rnd(&r) % 100);
        bool ok = true;
        if (op < 30) { /* set/add/replace of checksummed values */
            static const char *const verbs[] = {"set", "set", "add", "replace"};
            snprintf(key, sizeof(key), "s:%u", k);
            size_t n = make_value(&r, key, val);
            int h = snprintf(buf, 128, "%s %s 0 %d %zu\r\n", verbs[rnd(&r) % 4], key,
                             rnd(&r) % 10 == 0 ? 2 : 0, n);
            memcpy(buf + h, val, n);
            memcpy(buf + h + n, "\r\n", 2);
            ok = mcd_send(c, buf, (size_t)h + n + 2) && expect_one_of(c, store_ok, "store");
        } else if (op < 60) { /* get one */
            snprintf(buf, 128, "get s:%u\r\n", k);
            ok = mcd_sendstr(c, buf) && read_get(c);
        } else if (op < 70) { /* multiget of 1..50 keys, some counters */
            int n = 1 + (int)(rnd(&r) % 50), len = snprintf(buf, 8, "gets");
            for (int i = 0; i < n; i++)
                len += snprintf(buf + len, 32, " %s:%u", rnd(&r) % 5 ? "s" : "n", (unsigned)(rnd(&r) % SOAK_KEYS));
            len += snprintf(buf + len, 4, "\r\n");
            ok = mcd_send(c, buf, (size_t)len) && read_get(c);
        } else if (op < 75) {
            snprintf(buf, 128, "delete s:%u\r\n", k);
            ok = mcd_sendstr(c, buf) && expect_one_of(c, del_ok, "delete");
        } else if (op < 88) { /* counters */
            snprintf(key, sizeof(key), "n:%u", k % 1000);
            if (rnd(&r) % 20 == 0) {
                snprintf(buf, 128, "set %s 0 0 1\r\n0\r\n", key);
                ok = mcd_sendstr(c, buf) && expect_one_of(c, store_ok, "counter set");
            } else {
                snprintf(buf, 128, "%s %s %u\r\n", rnd(&r) % 3 ? "incr" : "decr", key, (unsigned)(rnd(&r) % 100));
                ok = mcd_sendstr(c, buf) && expect_one_of(c, num_ok, "incr/decr");
            }
        } else if (op < 93) { /* append/prepend on their own keys */
            snprintf(buf, 128, "%s a:%u 0 0 5\r\nxxxxx\r\n", rnd(&r) % 2 ? "append" : "prepend", k % 5000);
            ok = mcd_sendstr(c, buf) && expect_one_of(c, store_ok, "append");
            if (ok && rnd(&r) % 50 == 0) {
                snprintf(buf, 128, "set a:%u 0 0 1\r\nx\r\n", k % 5000);
                ok = mcd_sendstr(c, buf) && expect_one_of(c, store_ok, "append reset");
            }
        } else if (op < 97) {
            snprintf(buf, 128, "touch s:%u %u\r\n", k, (unsigned)(rnd(&r) % 100));
            ok = mcd_sendstr(c, buf) && expect_one_of(c, touch_ok, "touch");
        } else { /* cas with a stale or made-up unique */
            snprintf(key, sizeof(key), "s:%u", k);
            size_t n = make_value(&r, key, val);
            int h = snprintf(buf, 128, "cas %s 0 0 %zu %" PRIu64 "\r\n", key, n, rnd(&r) % 1000000);
            memcpy(buf + h, val, n);
            memcpy(buf + h + n, "\r\n", 2);
            ok = mcd_send(c, buf, (size_t)h + n + 2) && expect_one_of(c, store_ok, "cas");
        }
        atomic_fetch_add(&ops, 1);
        if (!ok) { /* resynchronise on a new connection */
            mcd_conn_close(c);
            c = mcd_conn_open(srv);
            if (c == NULL) {
                fail("client", "cannot reconnect");
                break;
            }
        }
    }
    mcd_conn_close(c);
    free(val);
    free(buf);
    return NULL;
}

int main(int argc, char **argv)
{
    const char *env = getenv("SOAK_SECONDS");
    long seconds = argc > 1 ? atol(argv[1]) : env != NULL ? atol(env) : 300;
    if (seconds < 30)
        seconds = 30;
    signal(SIGPIPE, SIG_IGN);
    static const char *const args[] = {"-m", "64", "-t", "4", NULL};
    struct mcd_server *srv = mcd_start(args);
    if (srv == NULL)
        return 1;
    pthread_t th[SOAK_THREADS];
    for (int i = 0; i < SOAK_THREADS; i++)
        pthread_create(&th[i], NULL, client, srv);

    static long samples[SOAK_MAX_SAMPLES];
    int ns = 0;
    long long t0 = mcd_now_ms();
    bool died = false;
    while (mcd_now_ms() - t0 < seconds * 1000LL) {
        long long next = mcd_now_ms() + 10000;
        while (mcd_now_ms() < next && mcd_now_ms() - t0 < seconds * 1000LL)
            mcd_poll_pause();
        long r = mcd_rss_kb(srv->pid);
        if (r < 0) {
            died = true;
            break;
        }
        if (ns < SOAK_MAX_SAMPLES)
            samples[ns++] = r;
        printf("soak: %3llds ops %lu errors %lu rss %ld KB\n", (mcd_now_ms() - t0) / 1000,
               (unsigned long)atomic_load(&ops), (unsigned long)atomic_load(&errors), r);
        fflush(stdout);
    }
    atomic_store(&stop, true);
    for (int i = 0; i < SOAK_THREADS; i++)
        pthread_join(th[i], NULL);

    long warm = 0, late = 0;
    for (int i = ns / 3; i < 2 * ns / 3; i++)
        warm = samples[i] > warm ? samples[i] : warm;
    for (int i = 2 * ns / 3; i < ns; i++)
        late = samples[i] > late ? samples[i] : late;
    bool grew = ns >= 3 && late > warm + warm / 10 + 4096;
    int st = mcd_stop(srv);
    bool crashed = died || !(WIFEXITED(st) || (WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM));
    printf("soak: %ld s, %lu ops, %lu hits, %lu errors; RSS warm max %ld KB, late max %ld KB%s%s\n", seconds,
           (unsigned long)atomic_load(&ops), (unsigned long)atomic_load(&hits), (unsigned long)atomic_load(&errors),
           warm, late, grew ? "; RSS GREW" : "", crashed ? "; SERVER DIED" : "");
    return atomic_load(&errors) == 0 && !grew && !crashed ? 0 : 1;
}
