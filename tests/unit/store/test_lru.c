/* test_lru.c - CLOCK replacement: hand order, second chance for hits,
 * atime refresh rate limit, referenced items skipped, eviction, -M. */
#include "config.h"

#include "store/lru.h"
#include "store/store.h"

#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "tests/unit/store/fixture.h"

#define VLEN 200000

static struct store_tstats ts;
static uint32_t perslab;

static void
start(bool evict)
{
    struct store_options o = store_test_opts(1u << 20, 8);
    o.evict_to_free = evict;
    store_test_start(o, &ts, 100);
}

static enum store_status
put(int i, rel_time_t exp)
{
    char key[16];
    int n = snprintf(key, sizeof(key), "k%d", i);
    enum store_status st;
    struct item *it = store_alloc(key, (size_t)n, 0, exp, VLEN, &ts, &st);
    if (it == NULL)
        return st;
    memset(item_data(it), 'a' + i % 26, VLEN);
    st = store_link(it, NULL, NULL, &ts);
    struct store_class_info ci;
    store_class_info(item_class(it), &ci);
    perslab = ci.chunks_per_page;
    item_release(it);
    return st;
}

static bool
has(int i)
{
    char key[16];
    int n = snprintf(key, sizeof(key), "k%d", i);
    struct item *it = store_get(key, (size_t)n, &store_test_peek, NULL, &ts);
    if (it == NULL)
        return false;
    cr_expect_eq(item_data(it)[VLEN - 1], 'a' + i % 26);
    item_release(it);
    return true;
}

static void
fill(void)
{
    cr_assert_eq(put(0, 0), STORE_OK);
    cr_assert_geq(perslab, 3);
    for (int i = 1; i < (int)perslab; i++)
        cr_assert_eq(put(i, 0), STORE_OK);
    for (int i = 0; i < (int)perslab; i++)
        cr_assert(has(i));
}

/* Nothing was hit (has() does not bump): the hand evicts in chunk order. */
Test(lru, evicts_at_hand_in_order, .fini = fini)
{
    start(true);
    fill();
    cr_assert_eq(put(100, 0), STORE_OK);
    cr_expect_not(has(0));
    for (int i = 1; i < (int)perslab; i++)
        cr_expect(has(i), "k%d", i);
    cr_assert_eq(put(101, 0), STORE_OK);
    cr_expect_not(has(1));
    cr_expect(has(2));
    cr_expect_eq(atomic_load(&ts.evictions), 2);
    cr_expect_eq(atomic_load(&ts.evicted_unfetched), 2); /* has() peeks: nothing was fetched */
    struct store_info si;
    store_info(&si);
    struct store_class_info ci;
    struct item *it = store_get("k2", 2, &store_test_peek, NULL, &ts);
    store_class_info(item_class(it), &ci);
    item_release(it);
    cr_expect_eq(ci.evicted, 2);
    cr_expect_eq(ci.curr_items, perslab);
    cr_expect_eq(si.total_malloced, 1u << 20);
}

/* A hit sets ACTIVE: the hand clears it and passes (second chance), so
 * the item survives one sweep of the hand and goes on the next. */
Test(lru, hit_survives_one_sweep, .fini = fini)
{
    start(true);
    fill();
    struct item *it = store_get("k0", 2, NULL, NULL, &ts);
    cr_assert_not_null(it);
    item_release(it);
    cr_assert_eq(put(200, 0), STORE_OK);
    cr_expect(has(0), "the hit item got a second chance");
    cr_expect_not(has(1), "the next one went instead");
    /* the rest of the sweep: k2.. go, k0 is not hit again */
    for (int i = 2; i < (int)perslab; i++) {
        cr_assert_eq(put(200 + i, 0), STORE_OK);
        cr_expect_not(has(i), "k%d", i);
        cr_expect(has(0));
    }
    /* the hand is back at k0, whose bit it cleared on the way */
    cr_assert_eq(put(300, 0), STORE_OK);
    cr_expect_not(has(0), "no second hit: evicted on the next sweep");
    cr_expect_eq(atomic_load(&ts.evictions), perslab);
}

/* no_bump (meta's u flag) sets no ACTIVE bit. */
Test(lru, no_bump_gives_no_second_chance, .fini = fini)
{
    start(true);
    fill();
    struct item *it = store_get("k0", 2, &store_test_no_bump, NULL, &ts);
    cr_assert_not_null(it);
    item_release(it);
    cr_assert_eq(put(200, 0), STORE_OK);
    cr_expect_not(has(0));
    cr_expect(has(1));
}

/* A hit refreshes atime at most every ITEM_UPDATE_INTERVAL seconds. */
Test(lru, atime_refresh_is_rate_limited, .fini = fini)
{
    start(true);
    fill();
    /* 30 s later: a hit keeps atime 100 (interval 60) */
    store_clock_set(130);
    struct item *it = store_get("k0", 2, NULL, NULL, &ts);
    cr_assert_not_null(it);
    cr_expect_eq(item_atime(it), 100);
    item_release(it);
    /* 100 s later: k1's atime is refreshed */
    store_clock_set(200);
    it = store_get("k1", 2, NULL, NULL, &ts);
    cr_assert_not_null(it);
    cr_expect_eq(item_atime(it), 200);
    item_release(it);
    /* no_bump: k3 keeps its atime */
    store_clock_set(400);
    it = store_get("k3", 2, &store_test_no_bump, NULL, &ts);
    cr_assert_not_null(it);
    cr_expect_eq(item_atime(it), 100);
    item_release(it);
    /* both hit items pass the hand once; k2 goes first */
    cr_assert_eq(put(500, 0), STORE_OK);
    cr_expect(has(0));
    cr_expect(has(1));
    cr_expect_not(has(2));
}

/* Every item hit: the hand clears all the bits, wraps round and evicts
 * the first one. */
Test(lru, all_active_evicts_after_a_sweep, .fini = fini)
{
    start(true);
    fill();
    for (int i = 0; i < (int)perslab; i++) {
        char key[16];
        int kl = snprintf(key, sizeof(key), "k%d", i);
        struct item *it = store_get(key, (size_t)kl, NULL, NULL, &ts);
        cr_assert_not_null(it);
        item_release(it);
    }
    cr_assert_eq(put(600, 0), STORE_OK);
    cr_expect_not(has(0));
    for (int i = 1; i < (int)perslab; i++)
        cr_expect(has(i), "k%d", i);
    cr_expect_eq(atomic_load(&ts.evictions), 1);
}

Test(lru, referenced_items_are_skipped, .fini = fini)
{
    start(true);
    fill();
    struct item *held = store_get("k0", 2, &store_test_peek, NULL, &ts);
    cr_assert_not_null(held);
    cr_assert_eq(put(300, 0), STORE_OK);
    cr_expect(has(0));
    cr_expect_not(has(1));
    cr_expect_eq(item_data(held)[0], 'a');
    item_release(held);
}

Test(lru, all_referenced_gives_no_memory, .fini = fini)
{
    start(true);
    fill();
    struct item *held[16];
    int n = (int)perslab < 16 ? (int)perslab : 16;
    for (int i = 0; i < n; i++) {
        char key[16];
        int kl = snprintf(key, sizeof(key), "k%d", i);
        held[i] = store_get(key, (size_t)kl, &store_test_peek, NULL, &ts);
        cr_assert_not_null(held[i]);
    }
    if (n == (int)perslab) {
        cr_expect_eq(put(400, 0), STORE_NO_MEMORY);
    }
    for (int i = 0; i < n; i++)
        item_release(held[i]);
    cr_expect_eq(put(400, 0), STORE_OK);
}

Test(lru, unfetched_evictions_counted, .fini = fini)
{
    start(true);
    for (int i = 0; i < 3 || i < (int)perslab; i++)
        cr_assert_eq(put(i, 0), STORE_OK);
    cr_expect_eq(atomic_load(&ts.evictions), 0);
    cr_assert_eq(put(1000, 0), STORE_OK);
    cr_expect_eq(atomic_load(&ts.evictions), 1);
    cr_expect_eq(atomic_load(&ts.evicted_unfetched), 1);
    cr_expect_not(has(0));
}

Test(lru, no_evict_gives_no_memory, .fini = fini)
{
    start(false);
    fill();
    cr_expect_eq(put(500, 0), STORE_NO_MEMORY);
    for (int i = 0; i < (int)perslab; i++)
        cr_expect(has(i));
    cr_expect_eq(atomic_load(&ts.evictions), 0);
    struct item *it = store_get("k0", 2, &store_test_peek, NULL, &ts);
    struct store_class_info ci;
    store_class_info(item_class(it), &ci);
    item_release(it);
    cr_expect_eq(ci.outofmemory, 1);
}

Test(lru, no_evict_still_reclaims_expired, .fini = fini)
{
    start(false);
    cr_assert_eq(put(0, 150), STORE_OK);
    for (int i = 1; i < (int)perslab; i++)
        cr_assert_eq(put(i, 0), STORE_OK);
    store_clock_set(200);
    cr_expect_eq(put(600, 0), STORE_OK);
    cr_expect_eq(atomic_load(&ts.reclaimed), 1);
    cr_expect_eq(atomic_load(&ts.expired_unfetched), 1);
    cr_expect_eq(atomic_load(&ts.evictions), 0);
    cr_expect(has(600));
}

Test(lru, oldest_age, .fini = fini)
{
    start(true);
    fill();
    store_clock_set(145);
    struct item *it = store_get("k1", 2, &store_test_peek, NULL, &ts);
    struct store_class_info ci;
    store_class_info(item_class(it), &ci);
    item_release(it);
    cr_expect_eq(ci.oldest_age, 45);
}

/* Classes whose page holds one chunk (or a few): every item hit since the
 * hand last passed (ACTIVE), and all memory in that one class, so neither
 * a free chunk nor the page mover can help. The hand must go round the
 * class, clearing ACTIVE bits, and evict on its second round; it used to
 * look at one chunk (2 x perslab steps, a page boundary costing one) and
 * answer STORE_NO_MEMORY. */
static void
set_get_big(size_t item_max, uint64_t mem, size_t vlen)
{
    struct store_options o = store_test_opts(mem, 8);
    o.item_size_max = item_max;
    store_test_start(o, &ts, 100);
    if (vlen == 0) /* the largest value a 6-byte key allows */
        vlen = store_max_value_len(6);
    for (int i = 0; i < 200; i++) {
        char key[16];
        int n = snprintf(key, sizeof(key), "big%03d", i);
        enum store_status st;
        struct item *it = store_alloc(key, (size_t)n, 0, 0, (uint32_t)vlen, &ts, &st);
        cr_assert_not_null(it, "item %d (%zu bytes, -I %zu): status %d", i, vlen, item_max, st);
        item_data(it)[0] = 'v';
        cr_assert_eq(store_link(it, NULL, NULL, &ts), STORE_OK);
        item_release(it);
        struct item *got = store_get(key, (size_t)n, NULL, NULL, &ts); /* a hit: ACTIVE */
        cr_assert_not_null(got);
        item_release(got);
    }
    uint64_t ev = atomic_load(&ts.evictions);
    cr_expect_gt(ev, 100, "%" PRIu64 " evictions", ev);
}

Test(lru, one_chunk_a_page_evicts_hit_items, .fini = fini)
{
    set_get_big(1u << 20, 48u << 20, 573u * 1024);
}

Test(lru, largest_items_evict, .fini = fini)
{
    set_get_big(1u << 20, 48u << 20, 0);
}

Test(lru, few_chunks_a_page_evict_with_2m_items, .fini = fini)
{
    set_get_big(2u << 20, 48u << 20, 573u * 1024);
}

Test(lru, largest_2m_items_evict, .fini = fini)
{
    set_get_big(2u << 20, 48u << 20, 0);
}

/* A class of many pages of small items, every one hit since the hand last
 * passed (a multiget of every key does that): the hand's budget (two
 * rounds of at most one page's chunks) clears ACTIVE bits and finds no
 * victim. The set must still evict (the next item at the hand) rather than
 * answer STORE_NO_MEMORY after the page mover's pauses, as it used to. */
Test(lru, all_active_in_many_pages_still_evicts, .fini = fini)
{
    struct store_options o = store_test_opts(8u << 20, 16);
    store_test_start(o, &ts, 100);
    int n = 0;
    struct store_class_info ci;
    for (; atomic_load(&ts.evictions) == 0; n++) {
        char key[16];
        int kl = snprintf(key, sizeof(key), "s%d", n);
        enum store_status st;
        struct item *it = store_alloc(key, (size_t)kl, 0, 0, 10, &ts, &st);
        cr_assert_not_null(it, "item %d: status %d", n, st);
        memset(item_data(it), 'x', 10);
        cr_assert_eq(store_link(it, NULL, NULL, &ts), STORE_OK);
        store_class_info(item_class(it), &ci);
        item_release(it);
    }
    cr_assert_gt(ci.total_pages, 2, "the class needs more pages than the budget covers");
    cr_assert_gt(ci.chunks_per_page, LRU_EVICT_ROUND_CAP);
    for (int i = 0; i < n; i++) {
        char key[16];
        int kl = snprintf(key, sizeof(key), "s%d", i);
        struct item *it = store_get(key, (size_t)kl, NULL, NULL, &ts);
        if (it != NULL)
            item_release(it);
    }
    uint64_t ev = atomic_load(&ts.evictions);
    for (int i = 0; i < 100; i++) {
        char key[16];
        int kl = snprintf(key, sizeof(key), "new%d", i);
        enum store_status st;
        struct item *it = store_alloc(key, (size_t)kl, 0, 0, 10, &ts, &st);
        cr_assert_not_null(it, "set %d after the multiget: status %d", i, st);
        cr_assert_eq(store_link(it, NULL, NULL, &ts), STORE_OK);
        item_release(it);
    }
    cr_expect_gt(atomic_load(&ts.evictions), ev + 50); /* some came from the thread cache */
}
