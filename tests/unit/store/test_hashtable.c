/* test_hashtable.c - hashing, growth, lookups during expansion. */
#include "config.h"

#include "store/hashtable.h"
#include "store/store.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "tests/unit/store/fixture.h"

static struct store_tstats ts;

static void
start(unsigned hashpower, bool bg)
{
    struct store_options o = store_test_opts(64u << 20, hashpower);
    o.background_threads = bg;
    store_test_start(o, &ts, 100);
}

static void
put(struct store_tstats *t, int i)
{
    char key[32];
    int n = snprintf(key, sizeof(key), "key:%d", i);
    enum store_status st;
    struct item *it = store_alloc(key, (size_t)n, (uint32_t)i, 0, 4, t, &st);
    cr_assert_not_null(it);
    memcpy(item_data(it), &i, 4);
    cr_assert_eq(store_link(it, NULL, NULL, t), STORE_OK);
    item_release(it);
}

static bool
found(struct store_tstats *t, int i)
{
    char key[32];
    int n = snprintf(key, sizeof(key), "key:%d", i);
    struct item *it = store_get(key, (size_t)n, &store_test_peek, NULL, t);
    if (it == NULL)
        return false;
    int v;
    memcpy(&v, item_data(it), 4);
    bool ok = v == i && item_flags(it) == (uint32_t)i;
    item_release(it);
    return ok;
}

Test(hashtable, hash_is_stable_and_spreads)
{
    cr_expect_eq(ht_hash("abc", 3), ht_hash("abc", 3));
    cr_expect_neq(ht_hash("abc", 3), ht_hash("abd", 3));
    unsigned buckets[16] = {0};
    char key[16];
    for (int i = 0; i < 16000; i++) {
        int n = snprintf(key, sizeof(key), "k%d", i);
        buckets[ht_hash(key, (size_t)n) & 15]++;
    }
    for (int b = 0; b < 16; b++)
        cr_expect(buckets[b] > 800 && buckets[b] < 1200, "bucket %d: %u", b, buckets[b]);
}

/* Keys of every length from 0 to 64 (the short-key paths read
 * overlapping words): each length spreads over 64 buckets, and flipping
 * any one bit of a key changes about half of the hash's 32 bits. */
Test(hashtable, hash_spreads_and_avalanches_at_every_length)
{
    unsigned seed = 12345;
    unsigned char key[64];
    for (size_t len = 1; len <= 64; len++) {
        unsigned buckets[64] = {0};
        for (int i = 0; i < 6400; i++) {
            /* i in base 26 in the first three bytes (6400 distinct
             * keys), the rest a fixed pattern: keys that differ little */
            for (size_t j = 0, v = (size_t)i; j < len; j++, v /= 26)
                key[j] = (unsigned char)(j < 3 ? 'a' + v % 26 : 'k' + j % 7);
            buckets[ht_hash((const char *)key, len) & 63]++;
        }
        unsigned lo = 6400, hi = 0;
        for (int b = 0; b < 64; b++) {
            lo = buckets[b] < lo ? buckets[b] : lo;
            hi = buckets[b] > hi ? buckets[b] : hi;
        }
        if (len >= 3) /* shorter keys have fewer than 6400 values */
            cr_expect(lo > 50 && hi < 160, "length %zu: buckets from %u to %u", len, lo, hi);
        double flips = 0;
        int trials = 0;
        for (int i = 0; i < 40; i++) {
            for (size_t j = 0; j < len; j++)
                key[j] = (unsigned char)((seed = seed * 1103515245u + 12345u) >> 16);
            uint32_t h0 = ht_hash((const char *)key, len);
            for (size_t bit = 0; bit < len * 8; bit++) {
                key[bit / 8] ^= (unsigned char)(1u << (bit % 8));
                flips += __builtin_popcount(h0 ^ ht_hash((const char *)key, len));
                key[bit / 8] ^= (unsigned char)(1u << (bit % 8));
                trials++;
            }
        }
        cr_expect(flips / trials > 14.5 && flips / trials < 17.5, "length %zu: %.2f bits change", len,
                  flips / trials);
    }
    /* the same bytes at other lengths (a prefix of the key) */
    memset(key, 'x', sizeof(key));
    for (size_t len = 0; len < 64; len++)
        cr_expect_neq(ht_hash((const char *)key, len), ht_hash((const char *)key, len + 1), "length %zu", len);
}

Test(hashtable, grows_under_inserts, .fini = fini)
{
    start(4, false);
    enum { N = 20000 };
    for (int i = 0; i < N; i++)
        put(&ts, i);
    struct store_info si;
    store_info(&si);
    cr_expect_eq(si.hash_power_level, 4);
    for (int i = 0; i < N; i++)
        cr_assert(found(&ts, i), "key %d before growth", i);
    unsigned last = 4;
    for (int pass = 0; pass < 30; pass++) {
        store_maintain();
        store_info(&si);
        if (si.hash_power_level == last)
            break;
        last = (unsigned)si.hash_power_level;
    }
    cr_expect_geq(si.hash_power_level, 14);
    cr_expect_lt((uint64_t)N, (UINT64_C(3) << si.hash_power_level) / 2 + 1);
    cr_expect_not(si.hash_is_expanding);
    cr_expect_eq(si.hash_bytes, (UINT64_C(1) << si.hash_power_level) * sizeof(uint32_t)); /* 32-bit handles */
    for (int i = 0; i < N; i++)
        cr_assert(found(&ts, i), "key %d after growth", i);
    cr_expect_eq(si.curr_items, N);
}

Test(hashtable, partial_expansion_lookups, .fini = fini)
{
    start(4, false);
    for (int i = 0; i < 1000; i++)
        put(&ts, i);
    cr_assert(ht_expand_start());
    cr_expect(ht_is_expanding());
    /* half the old buckets moved: keys in both tables */
    cr_expect(ht_expand_step(8));
    for (int i = 0; i < 1000; i++)
        cr_assert(found(&ts, i), "key %d mid-expansion", i);
    for (int i = 1000; i < 1200; i++)
        put(&ts, i);
    cr_expect_eq(store_delete("key:3", 5, NULL, &ts), STORE_OK);
    cr_expect_not(ht_expand_step(100));
    cr_expect_not(ht_is_expanding());
    cr_expect_eq(ht_power(), 5);
    for (int i = 0; i < 1200; i++)
        cr_assert_eq(found(&ts, i), i != 3, "key %d after", i);
}

struct reader_arg {
    _Atomic bool stop;
    _Atomic int misses;
    _Atomic long lookups;
    int n;
};

static void *
reader(void *p)
{
    struct reader_arg *a = p;
    struct store_tstats t;
    memset(&t, 0, sizeof(t));
    int i = 0;
    while (!atomic_load(&a->stop)) {
        if (!found(&t, i))
            atomic_fetch_add(&a->misses, 1);
        atomic_fetch_add(&a->lookups, 1);
        i = (i + 7) % a->n;
    }
    return NULL;
}

Test(hashtable, lookups_during_growth_from_threads, .fini = fini)
{
    start(6, false);
    enum { BASE = 5000, MORE = 60000 };
    for (int i = 0; i < BASE; i++)
        put(&ts, i);
    struct reader_arg a = {.n = BASE};
    pthread_t th[2];
    for (int t = 0; t < 2; t++)
        pthread_create(&th[t], NULL, reader, &a);
    for (int i = BASE; i < BASE + MORE; i++) {
        put(&ts, i);
        if (i % 5000 == 0)
            store_maintain();
    }
    for (int pass = 0; pass < 10; pass++)
        store_maintain();
    atomic_store(&a.stop, true);
    for (int t = 0; t < 2; t++)
        pthread_join(th[t], NULL);
    cr_expect_eq(atomic_load(&a.misses), 0);
    cr_expect_gt(atomic_load(&a.lookups), 1000);
    struct store_info si;
    store_info(&si);
    cr_expect_geq(si.hash_power_level, 16);
    for (int i = 0; i < BASE + MORE; i++)
        cr_assert(found(&ts, i), "key %d", i);
}

Test(hashtable, background_thread_grows, .fini = fini)
{
    start(4, true);
    for (int i = 0; i < 3000; i++)
        put(&ts, i);
    struct store_info si;
    for (int w = 0; w < 40; w++) {
        store_info(&si);
        if (si.hash_power_level >= 11 && !si.hash_is_expanding)
            break;
        struct timespec d = {.tv_nsec = 100000000};
        nanosleep(&d, NULL);
    }
    cr_expect_geq(si.hash_power_level, 11);
    for (int i = 0; i < 3000; i++)
        cr_assert(found(&ts, i));
}

/* -o no_lru_crawler: the maintainer thread runs without its sweep, and the
 * table still grows (it used to stay at its initial size: without the
 * sweep there was no thread, and nothing else drove the growth). */
Test(hashtable, grows_without_the_sweep, .fini = fini)
{
    struct store_options o = store_test_opts(64u << 20, 4);
    o.background_threads = true;
    o.no_sweep = true;
    store_test_start(o, &ts, 100);
    for (int i = 0; i < 3000; i++)
        put(&ts, i);
    struct store_info si;
    long long deadline = 0;
    for (struct timespec t0, t; ; ) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (deadline == 0) {
            t0 = t;
            deadline = 1;
        }
        store_info(&si);
        if ((si.hash_power_level >= 11 && !si.hash_is_expanding) || t.tv_sec - t0.tv_sec > 10)
            break;
        struct timespec d = {.tv_nsec = 20000000};
        nanosleep(&d, NULL);
    }
    cr_expect_geq(si.hash_power_level, 11, "hash power %u", si.hash_power_level);
    cr_expect_eq(si.hash_bytes, (UINT64_C(1) << si.hash_power_level) * 4);
    for (int i = 0; i < 3000; i++)
        cr_assert(found(&ts, i));
}
