/*
 * test_observe.c - mcd's measurement extensions on a running server:
 * `stats latency` (counts equal the requests sent, over several
 * connections and worker threads, pipelined or not; quantiles ordered;
 * `stats reset`; -o no_latency) and `stats hotkeys [N]` (the true top 10 of
 * a zipf workload in the reported top 20; N's bounds; -o no_hotkeys).
 */
#include <criterion/criterion.h>

#include "../lib/harness.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void skip_on_memcached(void)
{
    if (mcd_target_is_memcached())
        cr_skip_test("mcd extension");
}

static double stat_d(const char *st, const char *name)
{
    char v[64];
    if (!mcd_stat_find(st, name, v, sizeof(v)))
        return -1;
    return strtod(v, NULL);
}

/* Sends n copies of req (a whole request) at once, then reads n replies,
 * each ending in `term`. */
static void pipeline(struct mcd_conn *c, const char *req, size_t n, const char *term)
{
    size_t len = strlen(req);
    char *buf = malloc(len * n);
    cr_assert_not_null(buf);
    for (size_t i = 0; i < n; i++)
        memcpy(buf + i * len, req, len);
    cr_assert(mcd_send(c, buf, len * n));
    free(buf);
    for (size_t i = 0; i < n; i++) {
        char *r = mcd_read_until(c, term, NULL);
        cr_assert_not_null(r, "reply %zu of %zu to %s missing", i, n, req);
        free(r);
    }
}

/* The :count line of one command (0 when the command has no lines). */
static long long count_of(const char *st, const char *cmd)
{
    char name[64], v[32];
    snprintf(name, sizeof(name), "%s:count", cmd);
    return mcd_stat_find(st, name, v, sizeof(v)) ? atoll(v) : 0;
}

static void check_ordered(const char *st, const char *cmd)
{
    static const char *const q[] = {"p50_us", "p90_us", "p99_us", "p999_us", "max_us"};
    double last = 0;
    for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
        char name[64];
        snprintf(name, sizeof(name), "%s:%s", cmd, q[i]);
        double v = stat_d(st, name);
        cr_expect_gt(v, 0, "%s missing or 0:\n%s", name, st);
        cr_expect_geq(v, last, "%s below the quantile before it:\n%s", name, st);
        last = v;
    }
}

Test(latency, counts_equal_requests_sent, .timeout = 60)
{
    skip_on_memcached();
    static const char *const args[] = {"-t", "4", "-o", "latency,hotkeys", NULL};
    struct mcd_server *srv = mcd_start(args);
    cr_assert_not_null(srv);
    struct mcd_conn *c[4];
    for (int i = 0; i < 4; i++)
        cr_assert_not_null(c[i] = mcd_conn_open(srv));

    /* 4 connections (round robin over the 4 workers) */
    for (int i = 0; i < 4; i++) {
        pipeline(c[i], "set k 0 0 5\r\nhello\r\n", 250, "STORED\r\n");   /* pipelined */
        for (int j = 0; j < 25; j++)                                       /* one at a time */
            cr_assert(mcd_roundtrip(c[i], "get k\r\n", "VALUE k 0 5\r\nhello\r\nEND\r\n"));
        pipeline(c[i], "get k nope k\r\n", 100, "END\r\n");
        pipeline(c[i], "mg k v\r\n", 50, "hello\r\n");
        pipeline(c[i], "ms m 2\r\nhi\r\n", 10, "HD\r\n");
        pipeline(c[i], "incr n 1\r\n", 5, "NOT_FOUND\r\n");
        pipeline(c[i], "delete nope\r\n", 3, "NOT_FOUND\r\n");
        cr_assert(mcd_roundtrip(c[i], "version\r\n", "VERSION {str}\r\n"));
    }
    char *st = mcd_stats(c[0], "latency");
    cr_assert_not_null(st);
    cr_expect_eq(count_of(st, "set"), 1000, "%s", st);
    cr_expect_eq(count_of(st, "get"), 500, "%s", st);
    cr_expect_eq(count_of(st, "mg"), 200, "%s", st);
    cr_expect_eq(count_of(st, "ms"), 40, "%s", st);
    cr_expect_eq(count_of(st, "incr"), 20, "%s", st);
    cr_expect_eq(count_of(st, "delete"), 12, "%s", st);
    cr_expect_eq(count_of(st, "add"), 0, "%s", st);
    cr_expect(strstr(st, "STAT add:") == NULL, "a command with no requests has no lines:\n%s", st);
    check_ordered(st, "set");
    check_ordered(st, "get");
    check_ordered(st, "mg");
    free(st);

    /* stats reset: from zero again */
    cr_assert(mcd_roundtrip(c[1], "stats reset\r\n", "RESET\r\n"));
    cr_assert(mcd_roundtrip(c[2], "stats latency\r\n", "END\r\n"));
    pipeline(c[3], "get k\r\n", 7, "END\r\n");
    st = mcd_stats(c[0], "latency");
    cr_expect_eq(count_of(st, "get"), 7, "%s", st);
    cr_expect_eq(count_of(st, "set"), 0, "%s", st);
    free(st);

    for (int i = 0; i < 4; i++)
        mcd_conn_close(c[i]);
    mcd_stop(srv);
}

Test(latency, off_with_no_latency, .timeout = 30)
{
    skip_on_memcached();
    static const char *const args[] = {"-o", "no_latency", NULL};
    struct mcd_server *srv = mcd_start(args);
    cr_assert_not_null(srv);
    struct mcd_conn *c = mcd_conn_open(srv);
    cr_assert_not_null(c);
    pipeline(c, "set k 0 0 1\r\nx\r\n", 10, "STORED\r\n");
    cr_expect(mcd_roundtrip(c, "stats latency\r\n", "END\r\n"));
    mcd_conn_close(c);
    mcd_stop(srv);
}

/* ---- hot keys ---- */

#define NKEYS 5000

static size_t zipf_rank(const double *cdf, unsigned *seed)
{
    double u = (double)rand_r(seed) / ((double)RAND_MAX + 1.0);
    size_t lo = 0, hi = NKEYS - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

Test(hotkeys, zipf_top10_in_reported_top20, .timeout = 120)
{
    skip_on_memcached();
    static const char *const args[] = {"-t", "4", "-o", "latency,hotkeys", NULL};
    struct mcd_server *srv = mcd_start(args);
    cr_assert_not_null(srv);
    struct mcd_conn *c[4];
    for (int i = 0; i < 4; i++)
        cr_assert_not_null(c[i] = mcd_conn_open(srv));

    static double cdf[NKEYS];
    static long long sent[NKEYS];
    double sum = 0, acc = 0;
    for (size_t i = 0; i < NKEYS; i++)
        sum += 1.0 / pow((double)(i + 1), 0.99);
    for (size_t i = 0; i < NKEYS; i++)
        cdf[i] = (acc += 1.0 / pow((double)(i + 1), 0.99) / sum);

    /* 6400 get lines of 100 keys: 640000 gets over 4 connections (misses:
     * hot keys are about gets, stored or not) */
    unsigned seed = 20;
    char line[100 * 16 + 8];
    for (int b = 0; b < 6400; b++) {
        size_t at = (size_t)snprintf(line, sizeof(line), "get");
        for (int k = 0; k < 100; k++) {
            size_t r = zipf_rank(cdf, &seed);
            sent[r]++;
            at += (size_t)snprintf(line + at, sizeof(line) - at, " z%zu", (r * 7919u) % 10007u);
        }
        memcpy(line + at, "\r\n", 3);
        cr_assert(mcd_roundtrip(c[b % 4], line, "END\r\n"));
    }
    /* the true top 10 by gets sent */
    size_t top[10];
    for (size_t k = 0; k < 10; k++) {
        size_t best = SIZE_MAX;
        for (size_t r = 0; r < NKEYS; r++) {
            bool taken = false;
            for (size_t j = 0; j < k; j++)
                taken |= top[j] == r;
            if (!taken && (best == SIZE_MAX || sent[r] > sent[best]))
                best = r;
        }
        top[k] = best;
    }
    char *st = mcd_stats(c[0], "hotkeys 20");
    cr_assert_not_null(st);
    size_t lines = 0;
    long long prev = -1;
    for (const char *p = st; (p = strstr(p, "STAT hotkey ")) != NULL; p++) {
        long long n = atoll(strchr(p + 12, ' ') + 1);
        cr_expect(prev < 0 || n <= prev, "not highest first:\n%s", st);
        prev = n;
        lines++;
    }
    cr_expect_eq(lines, 20, "%s", st);
    for (size_t k = 0; k < 10; k++) {
        char want[32];
        snprintf(want, sizeof(want), "STAT hotkey z%zu ", (top[k] * 7919u) % 10007u);
        const char *p = strstr(st, want);
        cr_expect_not_null(p, "true #%zu %s(%lld gets) not in the top 20:\n%s", k + 1, want + 12, sent[top[k]], st);
        if (p != NULL && k == 0) {
            long long est = atoll(p + strlen(want));
            cr_expect(est > sent[top[0]] * 0.8 && est < sent[top[0]] * 1.2, "#1: %lld gets, estimated %lld",
                      sent[top[0]], est);
        }
    }
    free(st);

    /* N: default 10, 1..100 */
    st = mcd_stats(c[1], "hotkeys");
    lines = 0;
    for (const char *p = st; (p = strstr(p, "STAT hotkey ")) != NULL; p++)
        lines++;
    cr_expect_eq(lines, 10, "%s", st);
    free(st);
    cr_expect(mcd_roundtrip(c[1], "stats hotkeys 0\r\n", "CLIENT_ERROR bad command line format\r\n"));
    cr_expect(mcd_roundtrip(c[1], "stats hotkeys 101\r\n", "CLIENT_ERROR bad command line format\r\n"));
    cr_expect(mcd_roundtrip(c[1], "stats hotkeys ten\r\n", "CLIENT_ERROR bad command line format\r\n"));
    /* stats reset empties them */
    cr_assert(mcd_roundtrip(c[2], "stats reset\r\n", "RESET\r\n"));
    cr_expect(mcd_roundtrip(c[2], "stats hotkeys\r\n", "END\r\n"));

    for (int i = 0; i < 4; i++)
        mcd_conn_close(c[i]);
    mcd_stop(srv);
}

Test(hotkeys, off_with_no_hotkeys, .timeout = 30)
{
    skip_on_memcached();
    static const char *const args[] = {"-o", "no_hotkeys", NULL};
    struct mcd_server *srv = mcd_start(args);
    cr_assert_not_null(srv);
    struct mcd_conn *c = mcd_conn_open(srv);
    cr_assert_not_null(c);
    pipeline(c, "get k\r\n", 200, "END\r\n");
    cr_expect(mcd_roundtrip(c, "stats hotkeys\r\n", "END\r\n"));
    mcd_conn_close(c);
    mcd_stop(srv);
}

/* ---- both, read and reset while the workers count ---- */

struct load {
    struct mcd_server *srv;
    int id;
    bool ok;
};

static void *load_run(void *arg)
{
    struct load *l = arg;
    struct mcd_conn *c = mcd_conn_open(l->srv);
    char req[64];
    l->ok = c != NULL;
    for (int i = 0; l->ok && i < 300; i++) {
        snprintf(req, sizeof(req), "set k%d 0 0 1\r\nx\r\nget k%d k%d\r\nmg k%d v\r\n", i % 7, i % 7, l->id,
                 i % 3);
        l->ok = mcd_send(c, req, strlen(req));
        char *r = l->ok ? mcd_read_until(c, "END\r\n", NULL) : NULL;
        l->ok = r != NULL;
        free(r);
        r = l->ok ? mcd_read_line(c) : NULL; /* mg: VA 1 or EN */
        l->ok = r != NULL;
        if (r != NULL && r[0] == 'V') {
            free(r);
            r = mcd_read_line(c);
        }
        free(r);
    }
    mcd_conn_close(c);
    return NULL;
}

Test(observe, stats_read_and_reset_while_serving, .timeout = 120)
{
    skip_on_memcached();
    static const char *const args[] = {"-t", "4", "-o", "latency,hotkeys", NULL};
    struct mcd_server *srv = mcd_start(args);
    cr_assert_not_null(srv);
    struct mcd_conn *c = mcd_conn_open(srv);
    cr_assert_not_null(c);
    struct load l[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        l[i] = (struct load){.srv = srv, .id = i};
        cr_assert_eq(pthread_create(&t[i], NULL, load_run, &l[i]), 0);
    }
    for (int i = 0; i < 60; i++) {
        char *st = mcd_stats(c, i % 3 == 0 ? "latency" : "hotkeys 100");
        cr_assert_not_null(st);
        free(st);
        if (i % 10 == 9)
            cr_assert(mcd_roundtrip(c, "stats reset\r\n", "RESET\r\n"));
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        cr_expect(l[i].ok, "load %d failed", i);
    }
    /* quiet now: a reset and a known batch */
    cr_assert(mcd_roundtrip(c, "stats reset\r\n", "RESET\r\n"));
    pipeline(c, "mn\r\n", 9, "MN\r\n");
    char *st = mcd_stats(c, "latency");
    cr_expect_eq(count_of(st, "mn"), 9, "%s", st);
    cr_expect_eq(count_of(st, "get"), 0, "%s", st);
    free(st);
    mcd_conn_close(c);
    mcd_stop(srv);
}
