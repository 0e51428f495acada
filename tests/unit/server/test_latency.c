/*
 * test_latency.c - the latency histograms (server/latency.c): bucket
 * bounds, quantile accuracy against the exact quantiles of random data,
 * threads summed on read, reset, and the hooks of the request path (one
 * value per request, under its command's label, binary opcodes included).
 */
#include <criterion/criterion.h>

#include "fixture.h"
#include "server/latency.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* xorshift64*: the tests' random numbers (seeded, repeatable) */
static uint64_t rng_state = 88172645463325252ull;

static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

static struct latency_snapshot *snap(void)
{
    struct latency_snapshot *s = malloc(sizeof(*s));
    cr_assert_not_null(s);
    latency_snapshot(s);
    return s;
}

Test(latency, buckets_are_monotone_and_tile_the_range)
{
    cr_assert_eq(latency_bucket_count(), LATENCY_BUCKETS);
    cr_assert_eq(latency_bucket_lower_ns(0), 0);
    for (size_t i = 0; i + 1 < LATENCY_BUCKETS; i++) {
        uint64_t lo = latency_bucket_lower_ns(i), hi = latency_bucket_upper_ns(i);
        cr_assert_leq(lo, hi, "bucket %zu: [%llu, %llu]", i, (unsigned long long)lo, (unsigned long long)hi);
        cr_assert_eq(hi + 1, latency_bucket_lower_ns(i + 1), "bucket %zu does not meet bucket %zu", i, i + 1);
        cr_assert_eq(latency_bucket_of(lo), i);
        cr_assert_eq(latency_bucket_of(hi), i);
        /* at most 1/32 of its values wide: the midpoint is within 1.6% */
        cr_assert_leq((double)(hi - lo + 1), (double)lo / 32.0 + 1.0, "bucket %zu too wide", i);
    }
    cr_assert_eq(latency_bucket_upper_ns(LATENCY_BUCKETS - 1), UINT64_MAX);
    cr_assert_eq(latency_bucket_of(UINT64_MAX), LATENCY_BUCKETS - 1);
    /* monotone over values: a sweep of random values in increasing order */
    uint64_t v = 0;
    size_t prev = 0;
    while (v < (1ull << 40)) {
        size_t b = latency_bucket_of(v);
        cr_assert_geq(b, prev, "value %llu went to bucket %zu after %zu", (unsigned long long)v, b, prev);
        prev = b;
        v += 1 + rng() % (v / 8 + 2);
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Random latencies from a few hundred ns to tens of ms, heavy tailed. */
static uint64_t random_ns(void)
{
    double u = ((double)(rng() >> 11) + 1.0) / 9007199254740993.0;
    return (uint64_t)(300.0 * pow(u, -1.3));
}

Test(latency, quantiles_within_two_percent_of_exact)
{
    enum { N = 200000 };
    uint64_t *v = malloc(N * sizeof(*v));
    cr_assert_not_null(v);
    uint64_t sum = 0, max = 0;
    for (size_t i = 0; i < N; i++) {
        v[i] = random_ns();
        sum += v[i];
        max = v[i] > max ? v[i] : max;
        latency_record(LAT_GET, v[i]);
    }
    qsort(v, N, sizeof(*v), cmp_u64);
    struct latency_snapshot *s = snap();
    const struct latency_cmd_snap *g = &s->cmd[LAT_GET];
    cr_assert_eq(g->count, N);
    cr_assert_eq(g->sum_ns, sum);
    cr_assert_eq(g->max_ns, max);
    static const double qs[] = {0.01, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999, 1.0};
    uint64_t last = 0;
    for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
        size_t rank = (size_t)ceil(qs[i] * N);
        uint64_t exact = v[rank - 1], got = latency_quantile_ns(g, qs[i]);
        double err = fabs((double)got - (double)exact) / (double)exact;
        cr_log_info("q=%g exact %llu ns, histogram %llu ns (%.2f%%)", qs[i], (unsigned long long)exact,
                    (unsigned long long)got, 100 * err);
        cr_expect_leq(err, 0.02, "q=%g: exact %llu, got %llu", qs[i], (unsigned long long)exact,
                      (unsigned long long)got);
        cr_expect_geq(got, last, "quantiles out of order at q=%g", qs[i]);
        last = got;
    }
    cr_expect_eq(latency_quantile_ns(g, 1.0), max);
    cr_expect_eq(latency_quantile_ns(&s->cmd[LAT_SET], 0.5), 0, "no values: 0");
    /* cumulative (Prometheus) buckets: monotone, all of them under +Inf */
    uint64_t prev = 0;
    for (uint64_t le = 1000; le < 1000000000; le *= 10) {
        uint64_t c = latency_count_le(g, le);
        cr_expect_geq(c, prev);
        size_t exact = 0;
        while (exact < N && v[exact] <= le)
            exact++;
        cr_expect_leq(c, exact, "le=%llu: %llu counted, only %zu are <= le", (unsigned long long)le,
                      (unsigned long long)c, exact);
        prev = c;
    }
    cr_expect_eq(latency_count_le(g, UINT64_MAX), N);
    free(s);
    free(v);
}

static void *record_many(void *arg)
{
    enum latency_cmd c = (enum latency_cmd)(uintptr_t)arg;
    for (uint64_t i = 1; i <= 10000; i++)
        latency_record(c, i);
    latency_record(LAT_NONE, 5); /* ignored */
    return NULL;
}

Test(latency, threads_summed_on_read_and_reset)
{
    pthread_t t[4];
    for (uintptr_t i = 0; i < 4; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, record_many, (void *)(uintptr_t)(i % 2 == 0 ? LAT_SET : LAT_MG)), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    struct latency_snapshot *s = snap();
    cr_expect_eq(s->cmd[LAT_SET].count, 20000);
    cr_expect_eq(s->cmd[LAT_MG].count, 20000);
    cr_expect_eq(s->cmd[LAT_SET].sum_ns, 2 * 10000ull * 10001 / 2);
    cr_expect_eq(s->cmd[LAT_SET].max_ns, 10000);
    cr_expect_eq(s->cmd[LAT_GET].count, 0);
    free(s);

    latency_reset();
    s = snap();
    for (unsigned c = 0; c < LAT__COUNT; c++)
        cr_expect_eq(s->cmd[c].count, 0, "%s counts %llu after the reset", latency_cmd_name(c),
                     (unsigned long long)s->cmd[c].count);
    free(s);
    /* a thread that counts again starts from zero */
    latency_record(LAT_SET, 77);
    latency_record(LAT_SET, 77);
    s = snap();
    cr_expect_eq(s->cmd[LAT_SET].count, 2);
    cr_expect_eq(s->cmd[LAT_SET].max_ns, 77);
    free(s);
}

/* Whichever clock latency_clock_setup() picks (the time-stamp counter here,
 * where the kernel's clocksource is tsc), it measures a 20 ms sleep as
 * about 20 ms of CLOCK_MONOTONIC. */
Test(latency, clock_measures_in_ns)
{
    latency_clock_setup();
    for (int attempt = 0;; attempt++) {
        struct timespec a, b, nap = {0, 20000000};
        clock_gettime(CLOCK_MONOTONIC, &a);
        uint64_t t0 = latency_now();
        nanosleep(&nap, NULL);
        uint64_t t1 = latency_now();
        clock_gettime(CLOCK_MONOTONIC, &b);
        double mono = (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
        double got = (double)latency_elapsed_ns(t0, t1);
        cr_assert(t0 != 0 && t1 != 0);
        /* the two clocks are read a few ns apart: within 2% of each other,
         * unless this shared machine preempted us between the reads */
        if (fabs(got - mono) <= mono * 0.02 || attempt == 4) {
            cr_expect(fabs(got - mono) <= mono * 0.02, "latency clock %.0f ns, CLOCK_MONOTONIC %.0f ns (tsc %d)",
                      got, mono, (int)latency_clock_tsc);
            break;
        }
    }
    cr_expect_eq(latency_elapsed_ns(10, 5), 0, "a clock read later on another CPU that reads lower counts 0");
}

Test(latency, names)
{
    cr_expect_str_eq(latency_cmd_name(LAT_GET), "get");
    cr_expect_str_eq(latency_cmd_name(LAT_TOUCH), "touch");
    cr_expect_str_eq(latency_cmd_name(LAT_ME), "me");
    cr_expect_null(latency_cmd_name(LAT_NONE));
}

/* ---- the request path ---- */

TestSuite(latency_path, .init = fx_start, .fini = fx_stop);

static uint64_t count_of(enum latency_cmd c)
{
    struct latency_snapshot *s = snap();
    uint64_t n = s->cmd[c].count;
    free(s);
    return n;
}

Test(latency_path, one_value_per_request_under_its_label)
{
    struct session s;
    fx_session(&s, PROTO_AUTO);
    /* pipelined in one buffer: each request is measured on its own */
    free(fx_talk(&s, "set a 0 0 1\r\n1\r\nget a\r\nget a b c\r\ngets a\r\ntouch a 10\r\nincr a 1\r\ndecr a 1\r\n"
                     "append a 0 0 1\r\nx\r\ndelete a\r\nmn\r\nmg a v\r\nms b 1\r\nx\r\nma b\r\nmd b\r\n"
                     "version\r\nstats\r\nbogus\r\n"));
    static const struct {
        enum latency_cmd c;
        uint64_t n;
    } want[] = {{LAT_SET, 1}, {LAT_GET, 2}, {LAT_GETS, 1}, {LAT_TOUCH, 1}, {LAT_INCR, 1}, {LAT_DECR, 1},
                {LAT_APPEND, 1}, {LAT_DELETE, 1}, {LAT_MN, 1}, {LAT_MG, 1}, {LAT_MS, 1}, {LAT_MA, 1},
                {LAT_MD, 1}, {LAT_ADD, 0}, {LAT_ME, 0}};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        cr_expect_eq(count_of(want[i].c), want[i].n, "%s: %llu", latency_cmd_name(want[i].c),
                     (unsigned long long)count_of(want[i].c));
    session_deinit(&s);
}

Test(latency_path, value_split_across_reads_counts_once)
{
    struct session s;
    struct fx_buf b = {0};
    fx_session(&s, PROTO_ASCII);
    fx_feed(&s, "set k 0 0 10\r\n01234", 19, &b);
    cr_expect_eq(count_of(LAT_SET), 0, "counted before its value is in");
    fx_feed(&s, "56789\r\n", 7, &b);
    cr_expect_str_eq(b.p, "STORED\r\n");
    cr_expect_eq(count_of(LAT_SET), 1);
    free(b.p);
    session_deinit(&s);
}

Test(latency_path, binary_opcodes_map_to_text_labels)
{
    struct session s;
    fx_session(&s, PROTO_BINARY);
    /* GetQ "k" (a miss, silent), then Noop to flush it */
    static const unsigned char getq[] = {0x80, 0x09, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0,
                                         0,    0,    0,    0,    0, 0, 0, 0, 'k'};
    static const unsigned char noop[] = {0x80, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    struct fx_buf b = {0};
    fx_feed(&s, getq, sizeof(getq), &b);
    fx_feed(&s, noop, sizeof(noop), &b);
    cr_expect_eq(count_of(LAT_GET), 1);
    free(b.p);
    session_deinit(&s);
}

Test(latency_path, off_records_nothing)
{
    latency_set_enabled(false);
    free(fx_text("set a 0 0 1\r\n1\r\nget a\r\n"));
    cr_expect_eq(count_of(LAT_SET), 0);
    cr_expect_eq(count_of(LAT_GET), 0);
    latency_set_enabled(true);
}

Test(latency_path, stats_latency_lines)
{
    free(fx_text("set a 0 0 1\r\n1\r\nget a\r\nget a\r\n"));
    char *r = fx_text("stats latency\r\n");
    cr_expect(strstr(r, "STAT get:count 2\r\nSTAT get:p50_us ") != NULL, "%s", r);
    cr_expect(strstr(r, "STAT set:count 1\r\n") != NULL, "%s", r);
    cr_expect(strstr(r, ":max_us ") != NULL, "%s", r);
    cr_expect(strstr(r, "STAT delete:") == NULL, "commands with no count are left out: %s", r);
    cr_expect(strlen(r) >= 5 && strcmp(r + strlen(r) - 5, "END\r\n") == 0, "%s", r);
    free(r);
    r = fx_text("stats reset\r\nstats latency\r\n");
    cr_expect_str_eq(r, "RESET\r\nEND\r\n");
    free(r);
}
