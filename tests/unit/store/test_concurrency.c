/* test_concurrency.c - many threads, eviction pressure, exact arithmetic. */
#include "config.h"

#include "store/store.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tests/unit/store/fixture.h"

enum { THREADS = 4, KEYS = 20000, OPS = 150000, VMAX = 3000 };

static void
start(void)
{
    struct store_options o = store_test_opts(16u << 20, 8);
    o.background_threads = true;
    store_test_start(o, NULL, 100);
}

static uint64_t
mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

/* value = 8-byte seed, then bytes derived from it; length from the seed */
static uint32_t
vlen(uint64_t seed)
{
    return 8 + (uint32_t)(mix(seed) % VMAX);
}

static void
vfill(char *d, uint64_t seed, uint32_t n)
{
    memcpy(d, &seed, 8);
    for (uint32_t i = 8; i < n; i++)
        d[i] = (char)(mix(seed + i) & 0xff);
}

static bool
vcheck(const struct item *it, const char *key, size_t nkey)
{
    if (item_nkey(it) != nkey || memcmp(item_key(it), key, nkey) != 0)
        return false;
    uint32_t n = item_nbytes(it);
    if (n < 8)
        return false;
    uint64_t seed;
    const char *d = item_data((struct item *)it);
    memcpy(&seed, d, 8);
    if (vlen(seed) != n || item_flags(it) != (uint32_t)seed)
        return false;
    for (uint32_t i = 8; i < n; i++)
        if (d[i] != (char)(mix(seed + i) & 0xff))
            return false;
    return true;
}

struct worker {
    pthread_t th;
    unsigned id;
    struct store_tstats ts;
    long corrupt, hits, sets, nomem;
};

static void *
run(void *p)
{
    struct worker *w = p;
    uint64_t r = 0x1234 + w->id;
    char key[32];
    for (long op = 0; op < OPS; op++) {
        r = mix(r + (uint64_t)op);
        int n = snprintf(key, sizeof(key), "key%u", (unsigned)(r % KEYS));
        if ((r >> 20) % 3 == 0) {
            uint64_t seed = mix(r ^ 0xabcdef);
            uint32_t len = vlen(seed);
            enum store_status st;
            struct item *it = store_alloc(key, (size_t)n, (uint32_t)seed, 0, len, &w->ts, &st);
            if (it == NULL) {
                w->nomem++;
                continue;
            }
            vfill(item_data(it), seed, len);
            if (store_link(it, NULL, NULL, &w->ts) == STORE_OK)
                w->sets++;
            item_release(it);
        } else {
            struct item *it = store_get(key, (size_t)n, NULL, NULL, &w->ts);
            if (it == NULL)
                continue;
            w->hits++;
            if (!vcheck(it, key, (size_t)n))
                w->corrupt++;
            item_release(it);
        }
        if (op % 10000 == 0)
            store_clock_set(store_clock_now() + 1);
    }
    return NULL;
}

Test(concurrency, checksummed_values_under_eviction, .fini = fini, .timeout = 120)
{
    start();
    static struct worker w[THREADS];
    memset(w, 0, sizeof(w));
    for (unsigned i = 0; i < THREADS; i++) {
        w[i].id = i;
        pthread_create(&w[i].th, NULL, run, &w[i]);
    }
    /* maintenance (sweep + hash growth) racing the workers */
    for (int i = 0; i < 20; i++) {
        store_maintain();
        struct timespec d = {.tv_nsec = 10000000};
        nanosleep(&d, NULL);
    }
    long corrupt = 0, hits = 0, sets = 0;
    uint64_t evictions = 0;
    for (unsigned i = 0; i < THREADS; i++) {
        pthread_join(w[i].th, NULL);
        corrupt += w[i].corrupt;
        hits += w[i].hits;
        sets += w[i].sets;
        evictions += atomic_load(&w[i].ts.evictions);
    }
    cr_expect_eq(corrupt, 0);
    cr_expect_gt(hits, 1000);
    cr_expect_gt(sets, 1000);
    cr_expect_gt(evictions, 0);
    struct store_info si;
    store_info(&si);
    cr_expect_leq(si.total_malloced, 16u << 20);
    cr_expect_gt(si.hash_power_level, 8);
    /* everything still there reads back intact, and counts agree */
    uint64_t seen = 0;
    struct store_tstats t;
    memset(&t, 0, sizeof(t));
    for (unsigned k = 0; k < KEYS; k++) {
        char key[32];
        int n = snprintf(key, sizeof(key), "key%u", k);
        struct item *it = store_get(key, (size_t)n, &store_test_peek, NULL, &t);
        if (it != NULL) {
            seen++;
            cr_expect(vcheck(it, key, (size_t)n), "%s", key);
            item_release(it);
        }
    }
    cr_expect_eq(seen, si.curr_items);
    uint64_t used = 0, linked = 0;
    for (unsigned id = 1; id <= store_class_count(); id++) {
        struct store_class_info ci;
        store_class_info(id, &ci);
        used += ci.used_chunks;
        linked += ci.curr_items;
    }
    cr_expect_eq(used, linked, "no chunk leaked or held");
}

struct incr_arg {
    pthread_t th;
    struct store_tstats ts;
    long fails;
};

enum { INCRS = 20000 };

static void *
incr_run(void *p)
{
    struct incr_arg *a = p;
    for (int i = 0; i < INCRS; i++) {
        if (store_arith("ctr", 3, &(struct store_arith_opts){.delta = 1}, NULL, &a->ts) != STORE_OK)
            a->fails++;
    }
    return NULL;
}

Test(concurrency, incr_is_exact, .fini = fini, .timeout = 60)
{
    start();
    struct store_tstats ts;
    memset(&ts, 0, sizeof(ts));
    enum store_status st;
    struct item *it = store_alloc("ctr", 3, 0, 0, 1, &ts, &st);
    cr_assert_not_null(it);
    item_data(it)[0] = '0';
    cr_assert_eq(store_link(it, NULL, NULL, &ts), STORE_OK);
    item_release(it);
    static struct incr_arg a[THREADS];
    memset(a, 0, sizeof(a));
    for (unsigned i = 0; i < THREADS; i++)
        pthread_create(&a[i].th, NULL, incr_run, &a[i]);
    /* a reader holding references forces some increments into new items */
    for (int i = 0; i < 2000; i++) {
        struct item *g = store_get("ctr", 3, NULL, NULL, &ts);
        cr_assert_not_null(g);
        item_release(g);
    }
    for (unsigned i = 0; i < THREADS; i++) {
        pthread_join(a[i].th, NULL);
        cr_expect_eq(a[i].fails, 0);
    }
    struct store_arith_out out; /* an increment by 0 reads the value */
    cr_assert_eq(store_arith("ctr", 3, NULL, &out, &ts), STORE_OK);
    cr_expect_eq(out.value, (uint64_t)THREADS * INCRS);
}
