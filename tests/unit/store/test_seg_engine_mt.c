/*
 * test_seg_engine_mt.c - the segment engine under threads: appends and
 * incrs that race on one key all land (the compare on the slot and its
 * retry), one win token among racing vivifies, and mixed operations under
 * merge eviction with self-describing values, the index growing under
 * readers and writers. Plain Test()s with their own
 * .init/.fini, so that tests/tsan's shim runs it under ThreadSanitizer too
 * (tests/tsan/store_seg_engine).
 */
#include "config.h"

#include "store/store.h"
#include "store/seg/seg_engine.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define THREADS 4

static void
start(size_t mem)
{
    struct store_options o = {
        .mem_limit = mem, .item_size_max = 1u << 20, .factor = 1.25, .chunk_size = 48,
        .use_cas = true, .evict_to_free = true, .hashpower = 8,
    };
    cr_assert_eq(seg_engine_setup(&o), 0);
    store_clock_set(100);
}

static void
init_small(void)
{
    start(4u << 20);
}

static void
init_mid(void)
{
    start(16u << 20);
}

static void
init_big(void)
{
    start(64u << 20);
}

static void
fini(void)
{
    seg_engine_teardown();
}

static bool
set(const char *k, const char *v, size_t n, enum store_mode mode, struct store_tstats *ts)
{
    enum store_status st;
    struct item *it = seg_engine_alloc(k, strlen(k), 0, 0, (uint32_t)n, ts, &st);
    if (it == NULL)
        return false;
    memcpy(seg_engine_item_data(it), v, n);
    struct store_link_opts o = {.mode = mode};
    st = seg_engine_link(it, &o, NULL, ts);
    seg_engine_item_release(it);
    return st == STORE_OK;
}

#define ROUNDS 2000

static void *
appender(void *arg)
{
    struct store_tstats *ts = arg;
    for (int i = 0; i < ROUNDS; i++)
        cr_assert(set("app", "x", 1, STORE_APPEND, ts));
    seg_engine_thread_release();
    return NULL;
}

static void *
incrementer(void *arg)
{
    struct store_tstats *ts = arg;
    for (int i = 0; i < ROUNDS; i++)
        cr_assert_eq(seg_engine_arith("cnt", 3, &(struct store_arith_opts){.delta = 1}, NULL, ts), STORE_OK);
    seg_engine_thread_release();
    return NULL;
}

static void
run(void *(*fn)(void *))
{
    pthread_t th[THREADS];
    static struct store_tstats ts[THREADS];
    memset(ts, 0, sizeof(ts));
    for (int i = 0; i < THREADS; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, fn, &ts[i]), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
}

/* every append lands once: a new item linked only over the one it copied */
Test(seg_engine_mt, racing_appends_all_land, .init = init_big, .fini = fini)
{
    struct store_tstats ts = {0};
    cr_assert(set("app", "", 0, STORE_SET, &ts));
    run(appender);
    struct item *it = seg_engine_get("app", 3, NULL, NULL, &ts);
    cr_assert_not_null(it);
    cr_expect_eq(seg_engine_item_nbytes(it), THREADS * ROUNDS);
    seg_engine_item_release(it);
}

/* every incr lands once */
Test(seg_engine_mt, racing_incrs_all_land, .init = init_big, .fini = fini)
{
    struct store_tstats ts = {0};
    cr_assert(set("cnt", "0", 1, STORE_SET, &ts));
    run(incrementer);
    struct store_arith_out out;
    cr_assert_eq(seg_engine_arith("cnt", 3, &(struct store_arith_opts){.delta = 0}, &out, &ts), STORE_OK);
    cr_expect_eq(out.value, THREADS * ROUNDS);
}

static atomic_int winners;
static pthread_barrier_t round_start, round_end;
#define WIN_ROUNDS 50

/* the same threads race round after round (a thread's append segments
 * are its own: short-lived threads would each take a segment) */
static void *
vivifier(void *arg)
{
    struct store_tstats *ts = arg;
    struct store_get_opts o = {.kind = STORE_GET_META, .vivify = true};
    struct store_get_info info;
    for (int round = 0; round < WIN_ROUNDS; round++) {
        pthread_barrier_wait(&round_start);
        struct item *it = seg_engine_get("race", 4, &o, &info, ts);
        if (it != NULL) {
            if (info.win)
                atomic_fetch_add(&winners, 1);
            seg_engine_item_release(it);
        }
        pthread_barrier_wait(&round_end);
    }
    seg_engine_thread_release();
    return NULL;
}

Test(seg_engine_mt, one_winner, .init = init_big, .fini = fini)
{
    struct store_tstats ts = {0};
    pthread_t th[THREADS];
    static struct store_tstats per[THREADS];
    pthread_barrier_init(&round_start, NULL, THREADS + 1);
    pthread_barrier_init(&round_end, NULL, THREADS + 1);
    for (int i = 0; i < THREADS; i++)
        pthread_create(&th[i], NULL, vivifier, &per[i]);
    for (int round = 0; round < WIN_ROUNDS; round++) {
        atomic_store(&winners, 0);
        seg_engine_delete("race", 4, NULL, &ts);
        pthread_barrier_wait(&round_start);
        pthread_barrier_wait(&round_end);
        cr_expect_eq(atomic_load(&winners), 1, "round %d", round);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&round_start);
    pthread_barrier_destroy(&round_end);
}

/* A value says which key it belongs to: "key|" then filler of its length. */
static size_t
make_value(char *v, const char *k, unsigned n)
{
    int len = snprintf(v, 64, "%s|", k);
    size_t total = (size_t)len + n % 700;
    for (size_t j = (size_t)len; j < total; j++)
        v[j] = (char)('a' + (total + j) % 26);
    return total;
}

static bool
value_ok(const struct item *it, const char *k)
{
    char want[800];
    size_t n = seg_engine_item_nbytes(it), kl = strlen(k);
    const char *d = seg_engine_item_data((struct item *)(uintptr_t)it);
    if (n < kl + 1 || memcmp(d, k, kl) != 0 || d[kl] != '|')
        return false;
    /* appended "+" tails and incr'd values aside: the filler must match */
    size_t base = n;
    while (base > kl + 1 && d[base - 1] == '+')
        base--;
    if (make_value(want, k, (unsigned)(base - kl - 1)) != base)
        return false;
    return memcmp(want, d, base) == 0 && seg_engine_item_nkey(it) == kl &&
           memcmp(seg_engine_item_key(it), k, kl) == 0;
}

static atomic_uint bad;

static void *
mixer(void *arg)
{
    struct store_tstats *ts = arg;
    uint64_t x = (uint64_t)(uintptr_t)arg * 0x9e3779b97f4a7c15ull | 1;
    char k[32], v[800];
    for (unsigned n = 0; n < 80000; n++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        snprintf(k, sizeof(k), "m:%u", (unsigned)(x % 60000));
        unsigned op = (unsigned)((x >> 32) % 10);
        if (op < 4) {
            struct item *it = seg_engine_get(k, strlen(k), NULL, NULL, ts);
            if (it != NULL) {
                if (!value_ok(it, k))
                    atomic_fetch_add(&bad, 1);
                seg_engine_item_release(it);
            }
        } else if (op < 7) {
            size_t len = make_value(v, k, (unsigned)(x >> 40));
            if (!set(k, v, len, STORE_SET, ts))
                atomic_fetch_add(&bad, 1);
        } else if (op == 7) {
            set(k, "+", 1, STORE_APPEND, ts);
        } else if (op == 8) {
            struct store_get_opts t = {.touch = true, .touch_exptime = (rel_time_t)(x % 2 ? 0 : 1200)};
            struct item *it = seg_engine_get(k, strlen(k), &t, NULL, ts);
            if (it != NULL) {
                if (!value_ok(it, k))
                    atomic_fetch_add(&bad, 1);
                seg_engine_item_release(it);
            }
        } else {
            seg_engine_delete(k, strlen(k), (x >> 20) % 2 ? NULL : &(struct store_delete_opts){.invalidate = true},
                              ts);
        }
        if (n % 5000 == 0)
            seg_engine_thread_tick();
    }
    seg_engine_thread_release();
    return NULL;
}

static void *
maintainer(void *arg)
{
    atomic_int *stop_ = arg;
    while (!atomic_load(stop_))
        seg_engine_maintain();
    return NULL;
}

/* under merge eviction (16 MB; ~20 MB of values for 60,000 keys, 2 TTL
 * buckets: each thread holds an append segment in each), with the
 * maintainer running: every set stores, every hit is a whole value of its
 * own key */
Test(seg_engine_mt, mixed_under_eviction, .init = init_mid, .fini = fini)
{
    atomic_store(&bad, 0);
    atomic_int stop_ = 0;
    pthread_t m;
    cr_assert_eq(pthread_create(&m, NULL, maintainer, &stop_), 0);
    run(mixer);
    atomic_store(&stop_, 1);
    pthread_join(m, NULL);
    cr_expect_eq(atomic_load(&bad), 0);
    struct store_info si;
    seg_engine_info(&si);
    cr_expect_gt(si.curr_items, 0);
    struct store_class_info ci;
    seg_engine_class_info(1, &ci);
    cr_expect_gt(ci.evicted, 0);
}

/* 8 threads, each with an append segment of its own, in 4 MB (3 segments
 * to append to besides the merge spare): a thread that finds nothing to
 * evict seals another's active segment and evicts it; no set fails */
#define CROWD 8
static atomic_uint crowd_failed;

static void *
crowd_setter(void *arg)
{
    struct store_tstats *ts = arg;
    static char v[1000];
    char k[32];
    for (int i = 0; i < 3000; i++) {
        snprintf(k, sizeof(k), "c%p:%d", arg, i);
        if (!set(k, v, sizeof(v), STORE_SET, ts))
            atomic_fetch_add(&crowd_failed, 1);
    }
    seg_engine_thread_release();
    return NULL;
}

Test(seg_engine_mt, more_threads_than_segments, .init = init_small, .fini = fini)
{
    pthread_t th[CROWD];
    static struct store_tstats per[CROWD];
    atomic_store(&crowd_failed, 0);
    for (int i = 0; i < CROWD; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, crowd_setter, &per[i]), 0);
    for (int i = 0; i < CROWD; i++)
        pthread_join(th[i], NULL);
    cr_expect_eq(atomic_load(&crowd_failed), 0);
}

/* ---- the index grows while threads read and write ---- */

#define GROW_KEYS 20000
static atomic_uint grow_lost;

/* sets its own keys; after each, reads it back and, every 7th, one set
 * earlier: a key is never lost while buckets split under it */
static void *
grow_setter(void *arg)
{
    struct store_tstats *ts = arg;
    char k[32], v[64];
    for (unsigned i = 0; i < GROW_KEYS; i++) {
        snprintf(k, sizeof(k), "g%p:%u", arg, i);
        size_t len = make_value(v, k, 0);
        if (!set(k, v, len, STORE_SET, ts))
            atomic_fetch_add(&grow_lost, 1);
        for (unsigned back = 0; back <= (i % 7 == 0 ? 1u : 0u); back++) {
            unsigned j = back == 0 ? i : i / 2;
            snprintf(k, sizeof(k), "g%p:%u", arg, j);
            struct item *it = seg_engine_get(k, strlen(k), NULL, NULL, ts);
            if (it == NULL || !value_ok(it, k))
                atomic_fetch_add(&grow_lost, 1);
            if (it != NULL)
                seg_engine_item_release(it);
        }
    }
    seg_engine_thread_release();
    return NULL;
}

/* 64 MB from 64 head buckets (hashpower 8) to 80,000 keys: the maintainer
 * and the setters split buckets while 4 threads set and get; no key is
 * ever missed, and the index ends as large as memcached's table would:
 * hash_power_level 16 (80,000 > 1.5 x 2^15, < 1.5 x 2^16) */
Test(seg_engine_mt, index_grows_under_readers_and_writers, .init = init_big, .fini = fini)
{
    struct store_info si;
    seg_engine_info(&si);
    cr_assert_eq(si.hash_power_level, 8);
    atomic_store(&grow_lost, 0);
    atomic_int stop_ = 0;
    pthread_t m;
    cr_assert_eq(pthread_create(&m, NULL, maintainer, &stop_), 0);
    run(grow_setter);
    atomic_store(&stop_, 1);
    pthread_join(m, NULL);
    seg_engine_maintain(); /* finish a round under way */
    cr_expect_eq(atomic_load(&grow_lost), 0);
    seg_engine_info(&si);
    cr_expect_eq(si.curr_items, THREADS * GROW_KEYS);
    cr_expect_eq(si.hash_power_level, 16);
    cr_expect(!si.hash_is_expanding);
}
