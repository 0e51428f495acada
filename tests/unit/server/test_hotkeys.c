/*
 * test_hotkeys.c - the sampled space-saving hot keys (server/hotkeys.c):
 * the true top 10 of zipf traffic in the reported top 20, from one thread
 * and from several (merged on read), estimated counts near the true ones,
 * halving with the clock, reset, and the `stats hotkeys` lines.
 */
#include <criterion/criterion.h>

#include "fixture.h"
#include "server/hotkeys.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NKEYS 10000

/* Zipf(s) ranks 0..NKEYS-1 by inverse CDF over a precomputed table. */
struct zipf {
    double cdf[NKEYS];
    unsigned seed;
};

static void zipf_init(struct zipf *z, double s, unsigned seed)
{
    double sum = 0;
    for (size_t i = 0; i < NKEYS; i++)
        sum += 1.0 / pow((double)(i + 1), s);
    double acc = 0;
    for (size_t i = 0; i < NKEYS; i++) {
        acc += 1.0 / pow((double)(i + 1), s) / sum;
        z->cdf[i] = acc;
    }
    z->seed = seed;
}

static size_t zipf_next(struct zipf *z)
{
    double u = (double)rand_r(&z->seed) / ((double)RAND_MAX + 1.0);
    size_t lo = 0, hi = NKEYS - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (z->cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The key of rank r: scrambled so rank order is not key order. */
static size_t key_of(size_t r, char *buf)
{
    return (size_t)snprintf(buf, 32, "user:%zu", (r * 7919u) % 100003u);
}

struct feeder {
    unsigned seed;
    size_t n;
    uint64_t *truth; /* per rank, this feeder's gets */
};

static void *feed(void *arg)
{
    struct feeder *f = arg;
    struct zipf *z = malloc(sizeof(*z));
    cr_assert_not_null(z);
    zipf_init(z, 0.99, f->seed);
    char key[32];
    for (size_t i = 0; i < f->n; i++) {
        size_t r = zipf_next(z);
        f->truth[r]++;
        size_t n = key_of(r, key);
        hotkeys_sample(key, n, false);
    }
    free(z);
    return NULL;
}

/* Feeds `threads` threads of n gets each; checks the true top 10 (by the
 * gets actually sent) is in the reported top 20, and the estimates. */
static void check_zipf(unsigned threads, size_t n)
{
    uint64_t *truth = calloc((size_t)threads * NKEYS, sizeof(*truth));
    struct feeder f[8];
    pthread_t t[8];
    cr_assert_not_null(truth);
    for (unsigned i = 0; i < threads; i++) {
        f[i] = (struct feeder){.seed = 1000 + i, .n = n, .truth = truth + (size_t)i * NKEYS};
        cr_assert_eq(pthread_create(&t[i], NULL, feed, &f[i]), 0);
    }
    for (unsigned i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    uint64_t total[NKEYS] = {0};
    for (unsigned i = 0; i < threads; i++)
        for (size_t r = 0; r < NKEYS; r++)
            total[r] += truth[(size_t)i * NKEYS + r];
    /* the true top 10 (ranks by count sent, not by the distribution) */
    size_t top[10];
    for (size_t k = 0; k < 10; k++) {
        size_t best = SIZE_MAX;
        for (size_t r = 0; r < NKEYS; r++) {
            bool taken = false;
            for (size_t j = 0; j < k; j++)
                taken |= top[j] == r;
            if (!taken && (best == SIZE_MAX || total[r] > total[best]))
                best = r;
        }
        top[k] = best;
    }
    struct hotkey got[20];
    size_t m = hotkeys_top(got, 20);
    cr_assert_eq(m, 20);
    for (size_t i = 1; i < m; i++)
        cr_expect_geq(got[i - 1].count, got[i].count, "not highest first at %zu", i);
    for (size_t k = 0; k < 10; k++) {
        char key[32];
        size_t nk = key_of(top[k], key);
        size_t at = SIZE_MAX;
        for (size_t i = 0; i < m; i++)
            if (got[i].nkey == nk && memcmp(got[i].key, key, nk) == 0)
                at = i;
        cr_expect_neq(at, SIZE_MAX, "true #%zu %s (%llu gets) not in the reported top 20", k + 1, key,
                      (unsigned long long)total[top[k]]);
        if (at != SIZE_MAX && k < 3) {
            /* the hottest keys' estimates: within 20% of the truth */
            double ratio = (double)got[at].count / (double)total[top[k]];
            cr_log_info("#%zu %s: %llu gets, estimated %llu", k + 1, key, (unsigned long long)total[top[k]],
                        (unsigned long long)got[at].count);
            cr_expect(ratio > 0.8 && ratio < 1.2, "%s: %llu gets, estimated %llu", key,
                      (unsigned long long)total[top[k]], (unsigned long long)got[at].count);
        }
    }
    free(truth);
}

TestSuite(hotkeys, .init = fx_start, .fini = fx_stop);

Test(hotkeys, zipf_top10_in_top20_one_thread)
{
    check_zipf(1, 1600000);
}

Test(hotkeys, zipf_top10_in_top20_four_threads_merged)
{
    check_zipf(4, 400000);
}

Test(hotkeys, counts_halve_with_the_clock_and_reset_empties)
{
    for (int i = 0; i < 6400; i++)
        hotkeys_sample("hot", 3, false);
    struct hotkey k[2];
    cr_assert_eq(hotkeys_top(k, 2), 1);
    cr_expect_str_eq(k[0].key, "hot");
    uint64_t before = k[0].count;
    cr_expect(before > 6200 && before <= 6400, "%llu", (unsigned long long)before);
    store_clock_set(100 + HOTKEYS_HALF_LIFE);
    cr_assert_eq(hotkeys_top(k, 2), 1);
    cr_expect_eq(k[0].count, before / 2);
    store_clock_set(100 + 3 * HOTKEYS_HALF_LIFE);
    cr_assert_eq(hotkeys_top(k, 2), 1);
    cr_expect_eq(k[0].count, before / 8);
    hotkeys_reset();
    cr_expect_eq(hotkeys_top(k, 2), 0);
}

Test(hotkeys, binary_and_text_keys_are_different_keys)
{
    for (int i = 0; i < 1000; i++) {
        hotkeys_sample("ab", 2, false);
        hotkeys_sample("ab", 2, true);
    }
    struct hotkey k[4];
    cr_assert_eq(hotkeys_top(k, 4), 2);
    cr_expect_neq(k[0].binary, k[1].binary);
}

Test(hotkeys, off_samples_nothing)
{
    hotkeys_set_enabled(false);
    for (int i = 0; i < 1000; i++)
        hotkeys_sample("k", 1, false);
    struct hotkey k[1];
    cr_expect_eq(hotkeys_top(k, 1), 0);
    hotkeys_set_enabled(true);
}

Test(hotkeys, stats_lines)
{
    char *r = fx_text("stats hotkeys\r\n");
    cr_expect_str_eq(r, "END\r\n");
    free(r);
    for (int i = 0; i < 40000; i++) {
        hotkeys_sample("hot", 3, false);
        if (i % 2 == 0)
            hotkeys_sample("warm", 4, false);
        if (i % 4 == 0)
            hotkeys_sample("a\x01", 2, false); /* not printable as is: base64, " b" */
    }
    r = fx_text("stats hotkeys 2\r\n");
    cr_expect(strncmp(r, "STAT hotkey hot ", 16) == 0, "%s", r);
    cr_expect(strstr(r, "\r\nSTAT hotkey warm ") != NULL, "%s", r);
    cr_expect(strstr(r, "YQE=") == NULL, "%s", r);
    free(r);
    r = fx_text("stats hotkeys 100\r\n");
    cr_expect(strstr(r, "\r\nSTAT hotkey YQE= ") != NULL && strstr(r, " b\r\nEND\r\n") != NULL, "%s", r);
    free(r);
    static const char *const bad[] = {"stats hotkeys 0\r\n", "stats hotkeys 101\r\n", "stats hotkeys x\r\n",
                                      "stats hotkeys -1\r\n", "stats hotkeys 5 5\r\n",
                                      "stats hotkeys 99999999999999999999999\r\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = fx_text(bad[i]);
        cr_expect_str_eq(r, "CLIENT_ERROR bad command line format\r\n", "%s", bad[i]);
        free(r);
    }
}

Test(hotkeys, gets_and_mg_are_sampled)
{
    char req[64];
    free(fx_text("set k 0 0 1\r\n1\r\n"));
    for (int i = 0; i < 200; i++) {
        snprintf(req, sizeof(req), "%s\r\n", i % 2 ? "get k" : "mg k v");
        free(fx_text(req));
    }
    struct hotkey k[1];
    cr_assert_eq(hotkeys_top(k, 1), 1);
    cr_expect_str_eq(k[0].key, "k");
    cr_expect(k[0].count > 70 && k[0].count <= 200, "%llu", (unsigned long long)k[0].count);
}
