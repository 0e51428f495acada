/*
 * test_concurrency.c - several client threads on their own connections:
 * atomic incr, checksummed values under eviction pressure, and a CAS race.
 * Each test starts its own server.
 */
#include "config.h"

#include <criterion/criterion.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/harness.h"

static struct mcd_server *srv;

/* --- (a) incr from 8 threads ----------------------------------------------- */

#define INCR_THREADS 8
#define INCR_PER_THREAD 2000

static void *incr_worker(void *arg)
{
    struct mcd_conn *c = mcd_conn_open(srv);
    long ok = 0;

    (void)arg;
    if (c == NULL)
        return (void *)-1L;
    for (int i = 0; i < INCR_PER_THREAD; i++) {
        char *line;

        if (!mcd_sendstr(c, "incr counter 1\r\n") || (line = mcd_read_line(c)) == NULL)
            break;
        if (line[0] >= '0' && line[0] <= '9')
            ok++;
        free(line);
    }
    mcd_conn_close(c);
    return (void *)ok;
}

Test(concurrency, incr_total, .timeout = 60)
{
    pthread_t th[INCR_THREADS];
    long total = 0;

    srv = mcd_start(NULL);
    cr_assert_not_null(srv);
    struct mcd_conn *c = mcd_conn_open(srv);
    cr_assert(mcd_roundtrip(c, "set counter 0 0 1\r\n0\r\n", "STORED\r\n"));
    for (int i = 0; i < INCR_THREADS; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, incr_worker, NULL), 0);
    for (int i = 0; i < INCR_THREADS; i++) {
        void *r;

        pthread_join(th[i], &r);
        cr_expect_eq((long)r, INCR_PER_THREAD, "thread %d: %ld incr replies", i, (long)r);
        total += (long)r;
    }
    char want[64];
    snprintf(want, sizeof(want), "VALUE counter 0 %d\r\n%d\r\nEND\r\n", (int)strlen("16000"), INCR_THREADS * INCR_PER_THREAD);
    cr_assert(mcd_roundtrip(c, "get counter\r\n", want));
    cr_assert_eq(total, INCR_THREADS * INCR_PER_THREAD);
    mcd_conn_close(c);
    mcd_stop(srv);
}

/* --- (b) checksummed values under eviction --------------------------------- */

#define RW_THREADS 4
#define RW_OPS 6000
#define RW_KEYS 3000

static uint32_t fnv1a(const char *p, size_t n, uint32_t h)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 16777619u;
    }
    return h;
}

/* value = "<key>|<checksum 8 hex>|<payload>"; checksum covers key and payload */
static size_t make_value(char *out, const char *key, size_t payload, unsigned *seed)
{
    size_t klen = strlen(key), n = klen + 10;
    char *pl = out + n;

    for (size_t i = 0; i < payload; i++)
        pl[i] = (char)('a' + rand_r(seed) % 26);
    uint32_t h = fnv1a(pl, payload, fnv1a(key, klen, 2166136261u));
    char hdr[12];

    snprintf(hdr, sizeof(hdr), "|%08" PRIx32 "|", h);
    memcpy(out, key, klen);
    memcpy(out + klen, hdr, 10);
    return n + payload;
}

static bool check_value(const char *key, const char *v, size_t n)
{
    size_t klen = strlen(key);
    char hex[9];

    if (n < klen + 10 || memcmp(v, key, klen) != 0 || v[klen] != '|' || v[klen + 9] != '|')
        return false;
    memcpy(hex, v + klen + 1, 8);
    hex[8] = '\0';
    uint32_t want = (uint32_t)strtoul(hex, NULL, 16);
    return fnv1a(v + klen + 10, n - klen - 10, fnv1a(key, klen, 2166136261u)) == want;
}

struct rw_result {
    long sets, stored, oom, gets, hits, bad;
};

static void *rw_worker(void *arg)
{
    struct rw_result *res = arg;
    unsigned seed = (unsigned)(uintptr_t)arg * 2654435761u;
    struct mcd_conn *c = mcd_conn_open(srv);
    char *val = malloc(6000), *req = malloc(6100);

    if (c == NULL || val == NULL || req == NULL) {
        res->bad = -1;
        goto out;
    }
    for (int i = 0; i < RW_OPS; i++) {
        char key[32];

        snprintf(key, sizeof(key), "rw:%d", rand_r(&seed) % RW_KEYS);
        if (rand_r(&seed) % 2 == 0) {
            size_t n = make_value(val, key, 10 + (size_t)(rand_r(&seed) % 4991), &seed);
            int h = snprintf(req, 6100, "set %s 0 0 %zu\r\n", key, n);
            char *line;

            memcpy(req + h, val, n);
            memcpy(req + h + n, "\r\n", 2);
            if (!mcd_send(c, req, (size_t)h + n + 2) || (line = mcd_read_line(c)) == NULL) {
                res->bad++;
                break;
            }
            res->sets++;
            if (strcmp(line, "STORED") == 0)
                res->stored++;
            else if (strcmp(line, "SERVER_ERROR out of memory storing object") == 0)
                res->oom++;
            else {
                fprintf(stderr, "set %s: unexpected reply %s\n", key, line);
                res->bad++;
            }
            free(line);
        } else {
            char get[64];
            size_t len;
            char *r;

            snprintf(get, sizeof(get), "get %s\r\n", key);
            if (!mcd_sendstr(c, get) || (r = mcd_read_until(c, "END\r\n", &len)) == NULL) {
                res->bad++;
                break;
            }
            res->gets++;
            if (strncmp(r, "VALUE ", 6) == 0) {
                char rkey[64];
                unsigned flags;
                size_t bytes;
                int off = 0;

                /* the data may itself contain no "END\r\n" (letters and hex only) */
                if (sscanf(r, "VALUE %63s %u %zu\r\n%n", rkey, &flags, &bytes, &off) != 3 || off == 0 ||
                    strcmp(rkey, key) != 0 || (size_t)off + bytes + 7 != len || !check_value(key, r + off, bytes)) {
                    char *e = mcd_escape(r, len > 200 ? 200 : len);
                    fprintf(stderr, "get %s: corrupt reply %s\n", key, e);
                    free(e);
                    res->bad++;
                } else {
                    res->hits++;
                }
            } else if (strcmp(r, "END\r\n") != 0) {
                res->bad++;
            }
            free(r);
        }
    }
out:
    free(val);
    free(req);
    mcd_conn_close(c);
    return NULL;
}

Test(concurrency, checksummed_values_under_eviction, .timeout = 90)
{
    static const char *const args[] = {"-m", "2", NULL};
    pthread_t th[RW_THREADS];
    struct rw_result res[RW_THREADS];
    long stored = 0, hits = 0;

    memset(res, 0, sizeof(res));
    srv = mcd_start(args);
    cr_assert_not_null(srv);
    for (int i = 0; i < RW_THREADS; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, rw_worker, &res[i]), 0);
    for (int i = 0; i < RW_THREADS; i++) {
        pthread_join(th[i], NULL);
        cr_expect_eq(res[i].bad, 0, "thread %d saw %ld bad replies", i, res[i].bad);
        stored += res[i].stored;
        hits += res[i].hits;
    }
    cr_log_info("stored %ld, hits %ld", stored, hits);
    cr_expect_gt(stored, RW_THREADS * RW_OPS / 4, "too few sets stored: %ld", stored);
    cr_expect_gt(hits, 0);

    struct mcd_conn *c = mcd_conn_open(srv);
    char *st = mcd_stats(c, NULL);
    char ev[64], bytes[64], lim[64];
    cr_assert_not_null(st);
    cr_assert(mcd_stat_find(st, "evictions", ev, sizeof(ev)));
    cr_assert(mcd_stat_find(st, "bytes", bytes, sizeof(bytes)));
    cr_assert(mcd_stat_find(st, "limit_maxbytes", lim, sizeof(lim)));
    cr_expect_gt(strtoll(ev, NULL, 10), 0, "no evictions under -m 2");
    /* memcached grants every slab class its first 1 MB page even past -m, so
     * with values spread over ~20 classes it holds ~5 MB under -m 2; mcd
     * promises the strict limit. */
    if (!mcd_target_is_memcached())
        cr_expect_leq(strtoll(bytes, NULL, 10), strtoll(lim, NULL, 10), "bytes %s > limit_maxbytes %s", bytes, lim);
    cr_expect_eq(strtoll(lim, NULL, 10), 2 * 1024 * 1024);
    free(st);
    mcd_conn_close(c);
    mcd_stop(srv);
}

/* --- (c) CAS race ---------------------------------------------------------- */

#define CAS_THREADS 4
#define CAS_ATTEMPTS 1500

static void *cas_worker(void *arg)
{
    struct mcd_conn *c = mcd_conn_open(srv);
    long *wins = arg;

    if (c == NULL)
        return NULL;
    for (int i = 0; i < CAS_ATTEMPTS; i++) {
        unsigned long long val, cas;
        char req[128], *r, *line;
        unsigned flags;
        size_t bytes;

        if (!mcd_sendstr(c, "gets casctr\r\n") || (r = mcd_read_until(c, "END\r\n", NULL)) == NULL)
            break;
        if (sscanf(r, "VALUE casctr %u %zu %llu\r\n%llu", &flags, &bytes, &cas, &val) != 4) {
            fprintf(stderr, "gets: unexpected %s\n", r);
            free(r);
            *wins = -1000000;
            break;
        }
        free(r);
        char num[32];
        int n = snprintf(num, sizeof(num), "%llu", val + 1);
        snprintf(req, sizeof(req), "cas casctr 0 0 %d %llu\r\n%s\r\n", n, cas, num);
        if (!mcd_sendstr(c, req) || (line = mcd_read_line(c)) == NULL)
            break;
        if (strcmp(line, "STORED") == 0)
            (*wins)++;
        else if (strcmp(line, "EXISTS") != 0) {
            fprintf(stderr, "cas: unexpected %s\n", line);
            *wins = -1000000;
        }
        free(line);
    }
    mcd_conn_close(c);
    return NULL;
}

Test(concurrency, cas_race, .timeout = 60)
{
    pthread_t th[CAS_THREADS];
    long wins[CAS_THREADS] = {0}, total = 0;

    srv = mcd_start(NULL);
    cr_assert_not_null(srv);
    struct mcd_conn *c = mcd_conn_open(srv);
    cr_assert(mcd_roundtrip(c, "set casctr 0 0 1\r\n0\r\n", "STORED\r\n"));
    for (int i = 0; i < CAS_THREADS; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, cas_worker, &wins[i]), 0);
    for (int i = 0; i < CAS_THREADS; i++) {
        pthread_join(th[i], NULL);
        cr_expect_geq(wins[i], 0, "thread %d saw an unexpected reply", i);
        total += wins[i];
    }
    cr_assert_gt(total, 0);
    cr_assert(mcd_sendstr(c, "get casctr\r\n"));
    char *r = mcd_read_until(c, "END\r\n", NULL);
    unsigned long long val = 0;
    cr_assert_not_null(r);
    cr_assert_eq(sscanf(r, "VALUE casctr %*u %*u\r\n%llu", &val), 1, "got %s", r);
    cr_expect_eq(val, (unsigned long long)total, "counter %llu != %ld successful cas", val, total);
    cr_log_info("cas wins %ld of %d attempts", total, CAS_THREADS * CAS_ATTEMPTS);
    free(r);
    mcd_conn_close(c);
    mcd_stop(srv);
}
