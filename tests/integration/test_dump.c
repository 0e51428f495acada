/*
 * test_dump.c - the inspection commands: lru_crawler (metadump, mgdump,
 * crawl and its settings), stats cachedump, stats sizes, stats detail.
 * Differential tests send the same bytes to mcd and to memcached 1.6.45
 * and compare the replies (masking what must differ: la, cas); effect
 * tests check what the commands do (a dump lists exactly what is stored,
 * once, while writers run; a crawl reclaims expired items).
 */
#include "config.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/lib/harness.h"

TestSuite(dump, .timeout = 120);

/* Both servers with the same options, or skips when there is no oracle. */
static bool start_pair(const char *const extra[], struct mcd_server **mine, struct mcd_server **theirs)
{
    const char *oracle = mcd_oracle_bin();
    *mine = mcd_start(extra);
    cr_assert_not_null(*mine, "mcd did not start");
    *theirs = oracle != NULL ? mcd_start_bin(oracle, extra) : NULL;
    if (*theirs == NULL) {
        mcd_stop(*mine);
        cr_skip_test("memcached 1.6.45 (the oracle) is not available");
        return false;
    }
    return true;
}

static void send_all(struct mcd_conn *c, const char *req, size_t nreplies)
{
    cr_assert(mcd_sendstr(c, req));
    for (size_t i = 0; i < nreplies; i++)
        free(mcd_read_line(c));
}

/* The same data on a server: keys of several sizes, flags, exptimes. */
static void load(struct mcd_conn *c, long long abs_exp)
{
    char line[256];
    static const int sizes[] = {1, 10, 100, 1000, 5000};
    for (int i = 0; i < 20; i++) {
        int n = sizes[i % 5];
        char *v = mcd_data_block((size_t)n, 'v');
        long long exp = i % 3 == 0 ? abs_exp : 0;
        snprintf(line, sizeof(line), "set key_%d%s %d %lld %d\r\n", i, i % 4 == 0 ? "/%x" : "", i * 7, exp, n);
        cr_assert(mcd_sendstr(c, line));
        cr_assert(mcd_send(c, v, (size_t)n + 2));
        free(v);
        cr_assert(mcd_expectstr(c, "STORED\r\n"));
    }
    /* fetched, then deleted, then flushed-by-overwrite: what the dump shows */
    cr_assert(mcd_roundtrip(c, "get key_1 key_2\r\n", "VALUE key_1 7 10\r\n{str}\r\nVALUE key_2 14 100\r\n{str}\r\nEND\r\n"));
    cr_assert(mcd_roundtrip(c, "delete key_3\r\n", "DELETED\r\n"));
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The lines of a dump between "OK\r\n" and its end, each with the fields
 * that may differ (la=, cas=, cls=) masked, sorted, joined with '\n'. */
static char *normalise(const char *dump, const char *end)
{
    cr_assert(strncmp(dump, "OK\r\n", 4) == 0, "dump starts with %.20s", dump);
    const char *p = dump + 4;
    const char *stop = strstr(p, end);
    cr_assert_not_null(stop);
    char *lines[4096];
    size_t n = 0;
    while (p < stop && n < 4096) {
        const char *nl = memchr(p, '\n', (size_t)(stop - p));
        if (nl == NULL)
            nl = stop;
        char buf[2048];
        size_t o = 0;
        for (const char *q = p; q < nl && o + 8 < sizeof(buf);) {
            /* la and cas differ; so may cls, for items near a class's
             * end (mcd's item header is smaller than memcached's) */
            if (strncmp(q, " la=", 4) == 0 || strncmp(q, " cas=", 5) == 0 || strncmp(q, " cls=", 5) == 0) {
                const char *eq = strchr(q, '=');
                size_t k = (size_t)(eq - q) + 1;
                memcpy(buf + o, q, k);
                o += k;
                buf[o++] = '*';
                q = eq + 1;
                while (q < nl && *q != ' ')
                    q++;
                continue;
            }
            buf[o++] = *q++;
        }
        buf[o] = '\0';
        lines[n++] = strdup(buf);
        p = nl + 1;
    }
    qsort(lines, n, sizeof(lines[0]), cmp_str);
    size_t total = 1;
    for (size_t i = 0; i < n; i++)
        total += strlen(lines[i]) + 1;
    char *out = calloc(1, total);
    for (size_t i = 0; i < n; i++) {
        strcat(out, lines[i]);
        strcat(out, "\n");
        free(lines[i]);
    }
    return out;
}

static char *dump(struct mcd_conn *c, const char *cmd, const char *end)
{
    cr_assert(mcd_sendstr(c, cmd));
    char *d = mcd_read_until(c, end, NULL);
    cr_assert_not_null(d, "%s: no end", cmd);
    return d;
}

Test(dump, metadump_and_mgdump_as_memcached)
{
    struct mcd_server *m, *o;
    if (!start_pair(NULL, &m, &o))
        return;
    struct mcd_conn *cm = mcd_conn_open(m), *co = mcd_conn_open(o);
    long long abs_exp = (long long)time(NULL) + 100000;
    load(cm, abs_exp);
    load(co, abs_exp);
    /* binary keys (meta b): mgdump shows them base64 with " b", metadump
     * URI-encoded */
    for (int s = 0; s < 2; s++)
        cr_assert(mcd_roundtrip(s == 0 ? cm : co, "ms AAEC 1 b\r\nx\r\nms YmluYXJ5IGtleQ== 1 b\r\ny\r\n",
                                "HD\r\nHD\r\n"));

    static const char *const cmds[] = {"lru_crawler metadump all\r\n", "lru_crawler metadump 1,12\r\n",
                                       "lru_crawler metadump hash\r\n", "lru_crawler mgdump all\r\n",
                                       "lru_crawler mgdump 1\r\n"};
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        const char *end = strstr(cmds[i], "mgdump") ? "\r\nEN\r\n" : "\nEND\r\n";
        char *a = dump(cm, cmds[i], end), *b = dump(co, cmds[i], end);
        char *na = normalise(a, end + 1), *nb = normalise(b, end + 1);
        cr_expect_str_eq(na, nb, "%s: mcd\n%s\nmemcached\n%s", cmds[i], na, nb);
        cr_expect(strlen(na) > 0);
        free(a), free(b), free(na), free(nb);
    }
    mcd_conn_close(cm);
    mcd_conn_close(co);
    mcd_stop(m);
    mcd_stop(o);
}

/* Every reply but the dumps, line for line. */
Test(dump, replies_as_memcached)
{
    struct mcd_server *m, *o;
    if (!start_pair(NULL, &m, &o))
        return;
    struct mcd_conn *cm = mcd_conn_open(m), *co = mcd_conn_open(o);
    load(cm, 0);
    load(co, 0);
    static const char *const cmds[] = {
        "lru_crawler\r\n", "lru_crawler metadump\r\n", "lru_crawler metadump 0\r\n",
        "lru_crawler metadump 64\r\n", "lru_crawler metadump x\r\n", "lru_crawler metadump 1,x\r\n",
        "lru_crawler mgdump 99\r\n", "lru_crawler metadump all x\r\n",
        "lru_crawler bogus\r\n", "lru_crawler crawl\r\n", "lru_crawler crawl 0\r\n", "lru_crawler crawl x\r\n",
        /* no crawl that starts: memcached's crawler thread is still
         * running it when the later commands come, which answers by timing */
        "lru_crawler tocrawl 10\r\n", "lru_crawler tocrawl x\r\n",
        "lru_crawler tocrawl -1\r\n", "lru_crawler tocrawl 4294967296\r\n", "lru_crawler tocrawl 0\r\n",
        "lru_crawler sleep 10\r\n", "lru_crawler sleep 1000000\r\n", "lru_crawler sleep 1000001\r\n",
        "lru_crawler sleep x\r\n", "lru_crawler sleep 100\r\n", "lru_crawler enable\r\n",
        "lru_crawler disable\r\n", "lru_crawler disable\r\n", "lru_crawler metadump all\r\n",
        "lru_crawler mgdump all\r\n", "lru_crawler crawl 1\r\n", "lru_crawler enable\r\n",
        "stats cachedump\r\n", "stats cachedump 1\r\n", "stats cachedump x 1\r\n", "stats cachedump 100 1\r\n",
        "stats cachedump 64 1\r\n", "stats cachedump 0 1\r\n", "stats cachedump 60 0\r\n",
        "stats detail\r\n", "stats detail x\r\n", "stats sizes\r\n", "stats detail dump\r\n",
    };
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        cr_assert(mcd_sendstr(cm, cmds[i]));
        cr_assert(mcd_sendstr(co, cmds[i]));
        char *a = mcd_read_line(cm), *b = mcd_read_line(co);
        cr_assert_not_null(a, "%s: no reply from mcd", cmds[i]);
        cr_assert_not_null(b, "%s: no reply from memcached", cmds[i]);
        cr_expect_str_eq(a, b, "%s: mcd [%s], memcached [%s]", cmds[i], a, b);
        /* the rest of a multi-line reply */
        if (strcmp(a, "OK") == 0 && strstr(cmds[i], "dump") != NULL) {
            free(dump(cm, "", strstr(cmds[i], "mgdump") ? "EN\r\n" : "END\r\n"));
            free(dump(co, "", strstr(cmds[i], "mgdump") ? "EN\r\n" : "END\r\n"));
        } else if (strncmp(a, "STAT", 4) == 0) {
            free(dump(cm, "", "END\r\n"));
            free(dump(co, "", "END\r\n"));
        }
        free(a);
        free(b);
    }
    /* no class named: NOTSTARTED. 1.6.45 then also sends a stray "OK"
     * before the reply to the next command (memcached-compat.md); mcd
     * does not */
    cr_assert(mcd_roundtrip(cm, "lru_crawler metadump ,\r\nversion\r\n",
                            "NOTSTARTED no items to crawl\r\nVERSION {str}\r\n"));
    mcd_conn_close(cm);
    mcd_conn_close(co);
    mcd_stop(m);
    mcd_stop(o);
}

/* One key per class, so LRU order (memcached) and page order (mcd) agree. */
Test(dump, cachedump_as_memcached)
{
    struct mcd_server *m, *o;
    if (!start_pair(NULL, &m, &o))
        return;
    struct mcd_conn *c[2] = {mcd_conn_open(m), mcd_conn_open(o)};
    long long abs_exp = (long long)time(NULL) + 100000;
    char line[128];
    for (int s = 0; s < 2; s++) {
        snprintf(line, sizeof(line), "set small 3 %lld 5\r\nhello\r\n", abs_exp);
        cr_assert(mcd_roundtrip(c[s], line, "STORED\r\n"));
        char *v = mcd_data_block(2000, 'b');
        cr_assert(mcd_sendstr(c[s], "set big 0 0 2000\r\n"));
        cr_assert(mcd_send(c[s], v, 2002));
        free(v);
        cr_assert(mcd_expectstr(c[s], "STORED\r\n"));
    }
    char small[96];
    snprintf(small, sizeof(small), "ITEM small [5 b; %lld s]\r\n", abs_exp);
    static const char *const cmds[] = {"stats cachedump 1 0\r\n", "stats cachedump 1 1\r\n",
                                       "stats cachedump 15 0\r\n", "stats cachedump 2 10\r\n"};
    const char *const want[] = {small, small, "ITEM big [2000 b; 0 s]\r\n", ""};
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        char *a = dump(c[0], cmds[i], "END\r\n"), *b = dump(c[1], cmds[i], "END\r\n");
        char exp[128];
        snprintf(exp, sizeof(exp), "%sEND\r\n", want[i]);
        cr_expect_str_eq(a, exp, "%s", cmds[i]);
        /* 1.6.45 lists only the items still in the class's HOT segment
         * (its LRU maintainer soon moves them on): END, or the same */
        cr_expect(strcmp(b, exp) == 0 || strcmp(b, "END\r\n") == 0, "%s: memcached %s", cmds[i], b);
        free(a), free(b);
    }
    mcd_conn_close(c[0]);
    mcd_conn_close(c[1]);
    mcd_stop(m);
    mcd_stop(o);
}

Test(dump, sizes_and_detail_as_memcached)
{
    static const char *const opts[] = {"-o", "track_sizes", "-D", "/", NULL};
    struct mcd_server *m, *o;
    if (!start_pair(opts, &m, &o))
        return;
    struct mcd_conn *c[2] = {mcd_conn_open(m), mcd_conn_open(o)};
    for (int s = 0; s < 2; s++) {
        load(c[s], 0);
        send_all(c[s], "get key_0/%x key_4/%x key_8/%x nope/1\r\nset a/b 0 0 1\r\n1\r\ndelete a/b\r\ndelete a/c\r\n", 0);
        cr_assert(mcd_expectstr(c[s], "VALUE key_0/%x 0 1\r\nv\r\nVALUE key_4/%x 28 5000\r\n{str}\r\nVALUE key_8/%x 56 "
                                      "1000\r\n{str}\r\nEND\r\nSTORED\r\nDELETED\r\nNOT_FOUND\r\n"));
    }
    char *a = dump(c[0], "stats sizes\r\n", "END\r\n"), *b = dump(c[1], "stats sizes\r\n", "END\r\n");
    cr_expect_str_eq(a, b, "stats sizes");
    free(a), free(b);
    /* per-prefix counts: the order is each server's hash order */
    a = dump(c[0], "stats detail dump\r\n", "END\r\n");
    b = dump(c[1], "stats detail dump\r\n", "END\r\n");
    /* compare as sorted line sets */
    char *x[2] = {a, b}, *sorted[2];
    for (int s = 0; s < 2; s++) {
        char *lines[64];
        size_t n = 0;
        for (char *t = strtok(x[s], "\n"); t != NULL && n < 64; t = strtok(NULL, "\n"))
            lines[n++] = t;
        qsort(lines, n, sizeof(lines[0]), cmp_str);
        sorted[s] = calloc(1, 4096);
        for (size_t i = 0; i < n; i++) {
            strcat(sorted[s], lines[i]);
            strcat(sorted[s], "\n");
        }
    }
    cr_expect_str_eq(sorted[0], sorted[1], "stats detail dump");
    cr_expect(strstr(sorted[0], "PREFIX key_0 get 1 hit 1 set 1 del 0") != NULL, "%s", sorted[0]);
    cr_expect(strstr(sorted[0], "PREFIX a get 0 hit 0 set 1 del 2") != NULL, "%s", sorted[0]);
    free(sorted[0]), free(sorted[1]), free(a), free(b);
    a = mcd_stats(c[0], "settings");
    char v[16];
    cr_assert(mcd_stat_find(a, "stat_key_prefix", v, sizeof(v)));
    cr_expect_str_eq(v, "/");
    cr_assert(mcd_stat_find(a, "detail_enabled", v, sizeof(v)));
    cr_expect_str_eq(v, "yes");
    cr_assert(mcd_stat_find(a, "track_sizes", v, sizeof(v)));
    cr_expect_str_eq(v, "yes");
    free(a);
    /* stats reset forgets the prefixes, as memcached */
    cr_assert(mcd_roundtrip(c[0], "stats reset\r\n", "RESET\r\n"));
    cr_assert(mcd_roundtrip(c[0], "stats detail dump\r\n", "END\r\n"));
    mcd_conn_close(c[0]);
    mcd_conn_close(c[1]);
    mcd_stop(m);
    mcd_stop(o);
}

/* ---- effects ---- */

#define STABLE 40000
#define CHURN_KEYS 4000

static atomic_bool churn_stop;
static int churn_port;

static void *churn(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    struct mcd_conn *c = mcd_conn_open_port(churn_port);
    cr_assert_not_null(c);
    char line[128];
    while (!atomic_load(&churn_stop)) {
        unsigned k = (unsigned)rand_r(&seed) % CHURN_KEYS;
        size_t n = 1 + (size_t)rand_r(&seed) % 3000;
        char *v = mcd_data_block(n, 'c');
        if (rand_r(&seed) % 5 == 0) {
            snprintf(line, sizeof(line), "delete churn_%u noreply\r\n", k);
            cr_assert(mcd_sendstr(c, line));
        } else {
            snprintf(line, sizeof(line), "set churn_%u 0 0 %zu noreply\r\n", k, n);
            cr_assert(mcd_sendstr(c, line));
            cr_assert(mcd_send(c, v, n + 2));
        }
        free(v);
    }
    cr_assert(mcd_roundtrip(c, "mn\r\n", "MN\r\n"));
    mcd_conn_close(c);
    return NULL;
}

/* Keys stored before the dump and never touched appear exactly once, with
 * writers changing other keys (and so the chunks around them) meanwhile;
 * expired and flushed items never appear. */
Test(dump, every_untouched_key_exactly_once_under_writers)
{
    struct mcd_server *srv = mcd_start(NULL);
    cr_assert_not_null(srv);
    struct mcd_conn *c = mcd_conn_open(srv);
    char line[512];
    for (int i = 0; i < STABLE; i++) {
        snprintf(line, sizeof(line), "set stable_%d 0 0 %d noreply\r\n%0*d\r\n", i, 10 + i % 200, 10 + i % 200, i);
        cr_assert(mcd_sendstr(c, line));
    }
    /* expired before the dump */
    for (int i = 0; i < 100; i++) {
        snprintf(line, sizeof(line), "set gone_%d 0 -1 1 noreply\r\nx\r\n", i);
        cr_assert(mcd_sendstr(c, line));
    }
    cr_assert(mcd_roundtrip(c, "mn\r\n", "MN\r\n"));

    churn_port = srv->port;
    atomic_store(&churn_stop, false);
    pthread_t th[2];
    for (uintptr_t i = 0; i < 2; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, churn, (void *)(i + 1)), 0);

    for (int round = 0; round < 2; round++) {
        cr_assert(mcd_sendstr(c, round == 0 ? "lru_crawler metadump all\r\n" : "lru_crawler mgdump hash\r\n"));
        size_t len;
        char *d = mcd_read_until(c, round == 0 ? "\nEND\r\n" : "\r\nEN\r\n", &len);
        cr_assert_not_null(d);
        unsigned char *seen = calloc(STABLE, 1);
        const char *want = round == 0 ? "key=stable_" : "mg stable_";
        size_t wn = strlen(want);
        bool gone = false;
        /* line by line (strstr from each hit is quadratic under ASan) */
        for (char *p = d, *end = d + len; p < end;) {
            char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t ln = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
            if (ln > wn && memcmp(p, want, wn) == 0) {
                int k = atoi(p + wn);
                cr_assert(k >= 0 && k < STABLE);
                cr_assert_lt(seen[k], 255);
                seen[k]++;
            }
            if (ln > 5 && (memcmp(p, "key=gone_", 9 < ln ? 9 : ln) == 0 || memcmp(p, "mg gone_", 8) == 0))
                gone = true;
            p += ln + 1;
        }
        for (int i = 0; i < STABLE; i++)
            cr_assert_eq(seen[i], 1, "round %d: stable_%d listed %d times", round, i, seen[i]);
        cr_expect_not(gone, "an expired item was listed");
        free(seen);
        free(d);
    }
    atomic_store(&churn_stop, true);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    cr_assert_eq(mcd_stat_ll(c, NULL, "evictions"), 0, "the test assumes no eviction");

    /* flushed items are left out */
    cr_assert(mcd_roundtrip(c, "flush_all\r\n", "OK\r\n"));
    cr_assert(mcd_roundtrip(c, "set after 0 0 1\r\nx\r\n", "STORED\r\n"));
    /* and so are items flush_prefix hid (mcd's extension) */
    cr_assert(mcd_roundtrip(c, "set drop_1 0 0 1\r\nx\r\nflush_prefix drop_\r\n", "STORED\r\nOK\r\n"));
    char *d = dump(c, "lru_crawler mgdump all\r\n", "EN\r\n");
    cr_expect_str_eq(d, "OK\r\nmg after\r\nEN\r\n");
    free(d);
    mcd_conn_close(c);
    mcd_stop(srv);
}

/* A client that reads nothing does not stop others: the dump waits at the
 * output cap, other connections are served. */
Test(dump, slow_reader_does_not_block)
{
    struct mcd_server *srv = mcd_start((const char *const[]){"-t", "1", NULL});
    cr_assert_not_null(srv);
    struct mcd_conn *c = mcd_conn_open(srv), *other = mcd_conn_open(srv);
    char line[128];
    for (int i = 0; i < 30000; i++) {
        snprintf(line, sizeof(line), "set slow_%d 0 0 1 noreply\r\nx\r\n", i);
        cr_assert(mcd_sendstr(c, line));
    }
    cr_assert(mcd_roundtrip(c, "mn\r\n", "MN\r\n"));
    for (int k = 0; k < 4; k++)
        cr_assert(mcd_sendstr(c, "lru_crawler metadump all\r\n"));
    /* one worker thread: the other client is served while c reads nothing */
    for (int i = 0; i < 50; i++)
        cr_assert(mcd_roundtrip(other, "get slow_1\r\n", "VALUE slow_1 0 1\r\nx\r\nEND\r\n"));
    /* and dumps and crawls meanwhile (1.6.45 would leave them unanswered
     * until the first dump ends, then say BUSY) */
    char *od = dump(other, "lru_crawler mgdump all\r\n", "\r\nEN\r\n");
    cr_assert(strstr(od, "\r\nmg slow_29999\r\n") != NULL);
    free(od);
    cr_assert(mcd_roundtrip(other, "lru_crawler crawl all\r\n", "OK\r\n"));
    for (int k = 0; k < 4; k++) {
        char *d = mcd_read_until(c, "\nEND\r\n", NULL);
        cr_assert_not_null(d, "dump %d did not end", k);
        cr_assert(strstr(d, "key=slow_29999 ") != NULL);
        free(d);
    }
    cr_assert(mcd_roundtrip(c, "version\r\n", "VERSION {str}\r\n"));
    mcd_conn_close(other);
    mcd_conn_close(c);
    mcd_stop(srv);
}

/* A crawl reclaims expired items and counts them. The sweep is off
 * (-o no_lru_crawler, which disables the crawler too, until enabled), so
 * only the crawl can have reclaimed them. */
Test(dump, crawl_reclaims_expired)
{
    struct mcd_server *srv = mcd_start((const char *const[]){"-o", "no_lru_crawler", NULL});
    cr_assert_not_null(srv);
    struct mcd_conn *c = mcd_conn_open(srv);
    cr_assert(mcd_roundtrip(c, "lru_crawler crawl all\r\n", "CLIENT_ERROR lru crawler disabled\r\n"));
    char line[128];
    for (int i = 0; i < 300; i++) {
        snprintf(line, sizeof(line), "set ttl_%d 0 %d 1 noreply\r\nx\r\n", i, i < 200 ? 1 : 0);
        cr_assert(mcd_sendstr(c, line));
    }
    cr_assert(mcd_roundtrip(c, "mn\r\n", "MN\r\n"));
    long long t0 = mcd_stat_ll(c, NULL, "time");
    long long deadline = mcd_now_ms() + 10000;
    while (mcd_stat_ll(c, NULL, "time") < t0 + 2 && mcd_now_ms() < deadline)
        mcd_poll_pause();
    cr_assert_eq(mcd_stat_ll(c, NULL, "curr_items"), 300, "the sweep is off: nothing reclaimed yet");
    cr_assert(mcd_roundtrip(c, "lru_crawler enable\r\n", "OK\r\n"));
    cr_assert(mcd_roundtrip(c, "lru_crawler sleep 0\r\n", "OK\r\n"));
    long long starts = mcd_stat_ll(c, NULL, "lru_crawler_starts");
    cr_assert(mcd_roundtrip(c, "lru_crawler crawl all\r\n", "OK\r\n"));
    deadline = mcd_now_ms() + 10000;
    while ((mcd_stat_ll(c, NULL, "lru_crawler_running") != 0 || mcd_stat_ll(c, NULL, "curr_items") != 100) &&
           mcd_now_ms() < deadline)
        mcd_poll_pause();
    cr_expect_eq(mcd_stat_ll(c, NULL, "curr_items"), 100);
    cr_expect_eq(mcd_stat_ll(c, NULL, "crawler_reclaimed"), 200);
    cr_expect_eq(mcd_stat_ll(c, NULL, "lru_crawler_starts"), starts + 1);
    cr_expect_eq(mcd_stat_ll(c, NULL, "crawler_items_checked"), 300);
    cr_expect_eq(mcd_stat_ll(c, "items", "items:1:crawler_reclaimed"), 200);
    cr_expect_eq(mcd_stat_ll(c, "items", "items:1:crawler_items_checked"), 300);
    char *st = mcd_stats(c, "settings");
    char v[16];
    cr_assert(mcd_stat_find(st, "lru_crawler", v, sizeof(v)));
    cr_expect_str_eq(v, "yes");
    cr_assert(mcd_stat_find(st, "lru_crawler_sleep", v, sizeof(v)));
    cr_expect_str_eq(v, "0");
    free(st);
    /* tocrawl bounds the items a crawl checks per class */
    cr_assert(mcd_roundtrip(c, "lru_crawler tocrawl 10\r\n", "OK\r\n"));
    cr_assert(mcd_roundtrip(c, "lru_crawler crawl 1\r\n", "OK\r\n"));
    deadline = mcd_now_ms() + 10000;
    while (mcd_stat_ll(c, NULL, "lru_crawler_running") != 0 && mcd_now_ms() < deadline)
        mcd_poll_pause();
    cr_expect_eq(mcd_stat_ll(c, NULL, "crawler_items_checked"), 310);
    mcd_conn_close(c);
    mcd_stop(srv);
}

/* cachedump lists the items of the class asked for, and only those. */
Test(dump, cachedump_lists_the_class)
{
    struct mcd_server *srv = mcd_start(NULL);
    cr_assert_not_null(srv);
    struct mcd_conn *c = mcd_conn_open(srv);
    char line[128];
    for (int i = 0; i < 50; i++) {
        snprintf(line, sizeof(line), "set tiny_%d 0 0 1 noreply\r\nx\r\n", i);
        cr_assert(mcd_sendstr(c, line));
    }
    char *v = mcd_data_block(3000, 'z');
    cr_assert(mcd_sendstr(c, "set large 0 0 3000\r\n"));
    cr_assert(mcd_send(c, v, 3002));
    free(v);
    cr_assert(mcd_expectstr(c, "STORED\r\n"));
    char *d = dump(c, "stats cachedump 1 0\r\n", "END\r\n");
    int n = 0;
    for (char *p = strstr(d, "ITEM tiny_"); p != NULL; p = strstr(p + 1, "ITEM tiny_"))
        n++;
    cr_expect_eq(n, 50, "%s", d);
    cr_expect_null(strstr(d, "large"));
    cr_expect(strstr(d, "ITEM tiny_7 [1 b; 0 s]\r\n") != NULL);
    free(d);
    d = dump(c, "stats cachedump 1 5\r\n", "END\r\n");
    n = 0;
    for (char *p = strstr(d, "ITEM "); p != NULL; p = strstr(p + 1, "ITEM "))
        n++;
    cr_expect_eq(n, 5);
    free(d);
    mcd_conn_close(c);
    mcd_stop(srv);
}

/* `stats conns` with the same connections open on both: the same lines in
 * the same order, masking the descriptor numbers, ports and ages. */
static char *conns_shape(struct mcd_server *srv)
{
    struct mcd_conn *fresh = mcd_conn_open(srv), *idle = mcd_conn_open(srv), *half = mcd_conn_open(srv);
    struct mcd_conn *asker = mcd_conn_open(srv);
    cr_assert(mcd_roundtrip(idle, "version\r\n", "VERSION {str}\r\n"));
    cr_assert(mcd_sendstr(half, "set k 0 0 10\r\nabc"));
    /* wait until the server has read the half value and its worker has
     * taken the fresh connection (accepted sockets reach a worker through
     * its queue): poll the listing */
    char *st = NULL;
    long long deadline = mcd_now_ms() + 5000;
    for (;;) {
        free(st);
        st = mcd_stats(asker, "conns");
        cr_assert_not_null(st);
        int clients = 0;
        for (const char *p = strstr(st, ":listen_addr "); p != NULL; p = strstr(p + 1, ":listen_addr "))
            clients++;
        if ((strstr(st, "conn_nread") != NULL && clients == 4) || mcd_now_ms() > deadline)
            break;
        mcd_poll_pause();
    }
    /* mask: "STAT <fd>:<field> <value>" -> "STAT N:<field> <value>", ports and ages as N */
    char *out = calloc(1, strlen(st) + 1);
    char *o = out;
    for (const char *p = st; *p != '\0';) {
        if (*p >= '0' && *p <= '9') {
            while (*p >= '0' && *p <= '9')
                p++;
            *o++ = 'N';
            continue;
        }
        *o++ = *p++;
    }
    free(st);
    mcd_conn_close(fresh);
    mcd_conn_close(idle);
    mcd_conn_close(half);
    mcd_conn_close(asker);
    return out;
}

Test(dump, stats_conns_as_memcached)
{
    struct mcd_server *m, *o;
    if (!start_pair(NULL, &m, &o))
        return;
    char *a = conns_shape(m), *b = conns_shape(o);
    cr_expect_str_eq(a, b, "mcd\n%s\nmemcached\n%s", a, b);
    free(a);
    free(b);
    mcd_stop(m);
    mcd_stop(o);
}

/* `stats reset` zeroes the crawler's counts (lru_crawler_starts,
 * crawler_items_checked, per class too), as memcached 1.6.45 does; mcd kept
 * them. The same steps on both servers, the counts after the reset read 0. */
Test(dump, stats_reset_zeroes_the_crawl_counts)
{
    const char *bins[2] = {NULL, mcd_oracle_bin()};
    for (int k = 0; k < (bins[1] != NULL ? 2 : 1); k++) {
        struct mcd_server *srv = bins[k] == NULL ? mcd_start(NULL) : mcd_start_bin(bins[k], NULL);
        cr_assert_not_null(srv);
        const char *who = k == 0 ? "mcd" : "memcached";
        struct mcd_conn *c = mcd_conn_open(srv);
        cr_assert(mcd_roundtrip(c, "set a 0 0 1\r\nx\r\n", "STORED\r\n"));
        cr_assert(mcd_roundtrip(c, "lru_crawler crawl all\r\n", "OK\r\n"));
        long long deadline = mcd_now_ms() + 10000;
        while ((mcd_stat_ll(c, NULL, "lru_crawler_running") != 0 ||
                mcd_stat_ll(c, NULL, "crawler_items_checked") < 1) &&
               mcd_now_ms() < deadline)
            mcd_poll_pause();
        cr_assert_geq(mcd_stat_ll(c, NULL, "lru_crawler_starts"), 1, "%s", who);
        cr_assert_geq(mcd_stat_ll(c, "items", "items:1:crawler_items_checked"), 1, "%s", who);
        cr_assert(mcd_roundtrip(c, "stats reset\r\n", "RESET\r\n"));
        cr_expect_eq(mcd_stat_ll(c, NULL, "lru_crawler_starts"), 0, "%s", who);
        cr_expect_eq(mcd_stat_ll(c, NULL, "crawler_items_checked"), 0, "%s", who);
        cr_expect_eq(mcd_stat_ll(c, "items", "items:1:crawler_items_checked"), 0, "%s", who);
        mcd_conn_close(c);
        mcd_stop(srv);
    }
}
