/* test_crawler.c - store/crawler.c: a dump lists each live item once, even
 * while the page mover takes pages from the class being dumped and writers
 * run; expired and flushed items are left out; a crawl reclaims them. */
#include "config.h"

#include "store/store.h"
#include "store/rebalance.h"
#include "store/slab.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/unit/store/fixture.h"

static struct store_tstats ts;

static enum store_status put(struct store_tstats *t, const char *prefix, int i, uint32_t vlen, rel_time_t exp)
{
    char key[32];
    int n = snprintf(key, sizeof(key), "%s%d", prefix, i);
    enum store_status st;
    struct item *it = store_alloc(key, (size_t)n, 0, exp, vlen, t, &st);
    if (it == NULL)
        return st;
    memset(item_data(it), 'v', vlen);
    st = store_link(it, NULL, NULL, t);
    item_release(it);
    return st;
}

static bool present(int i)
{
    char key[32];
    int n = snprintf(key, sizeof(key), "s%d", i);
    struct item *it = store_get(key, (size_t)n, &store_test_peek, NULL, &ts);
    if (it != NULL)
        item_release(it);
    return it != NULL;
}

/* Counts the dumped "s<N>" keys into seen[] (n of them). */
static void dump_all(unsigned char *seen, int n)
{
    struct store_dump *d = store_dump_open(~UINT64_C(0) << 1);
    cr_assert_not_null(d);
    struct store_dump_item items[64];
    size_t got;
    while ((got = store_dump_next(d, items, 64)) > 0) {
        for (size_t i = 0; i < got; i++) {
            if (items[i].nkey < 2 || items[i].key[0] != 's')
                continue;
            char buf[16];
            memcpy(buf, items[i].key + 1, items[i].nkey - 1);
            buf[items[i].nkey - 1] = '\0';
            int k = atoi(buf);
            cr_assert(k >= 0 && k < n);
            cr_assert_lt(seen[k], 255);
            seen[k]++;
        }
    }
    store_dump_close(d);
}

#define STABLE 150000

static atomic_bool stop;
static atomic_int moved;

/* Moves pages to the class of 20 KB values, one every 200 us, 4 at most: the victim is
 * the class with the most pages, the dumped one (its page under the CLOCK
 * hand, wherever the dump's cursor is). */
static void *mover(void *arg)
{
    (void)arg;
    static struct store_tstats mts;
    struct slab_class *to = slab_class_get(slab_clsid(20000));
    cr_assert_not_null(to);
    /* at most 4 pages a round: most of the dumped class stays */
    for (int n = 0; n < 4 && !atomic_load(&stop);) {
        if (rebalance_move_page(to, &mts)) {
            atomic_fetch_add(&moved, 1);
            n++;
        }
        struct timespec t = {0, 200000};
        nanosleep(&t, NULL);
    }
    return NULL;
}

Test(crawler, dump_lists_each_item_once_while_pages_move, .fini = fini, .timeout = 120)
{
    store_test_start(store_test_opts(32u << 20, 16), &ts, 100);
    unsigned char *before = calloc(STABLE, 1);
    int checked = 0, rounds = 0;
    for (; rounds < 6; rounds++) {
        /* refill what the mover evicted */
        for (int i = 0; i < STABLE; i++)
            if (!present(i))
                cr_assert_eq(put(&ts, "s", i, 40, 0), STORE_OK);
        for (int i = 0; i < STABLE; i++)
            before[i] = present(i);
        int moved0 = atomic_load(&moved);
        atomic_store(&stop, false);
        pthread_t th;
        cr_assert_eq(pthread_create(&th, NULL, mover, NULL), 0);
        unsigned char *seen = calloc(STABLE, 1);
        dump_all(seen, STABLE);
        atomic_store(&stop, true);
        pthread_join(th, NULL);
        cr_log_info("round %d: %d pages moved during the dump", rounds, atomic_load(&moved) - moved0);
        for (int i = 0; i < STABLE; i++) {
            cr_assert_leq(seen[i], 1, "round %d: s%d listed %d times", rounds, i, seen[i]);
            /* there before the dump and after it: its chunk never changed
             * (an item is not rewritten here, only evicted with its page) */
            if (before[i] && present(i)) {
                cr_assert_eq(seen[i], 1, "round %d: s%d present throughout, listed %d times", rounds, i,
                             seen[i]);
                checked++;
            }
        }
        free(seen);
    }
    free(before);
    cr_assert_gt(checked, 0, "some items stayed through a dump");
    cr_assert_gt(atomic_load(&moved), 0, "the mover moved pages meanwhile");
}

Test(crawler, dump_leaves_out_expired_and_flushed, .fini = fini)
{
    store_test_start(store_test_opts(8u << 20, 12), &ts, 100);
    for (int i = 0; i < 100; i++)
        cr_assert_eq(put(&ts, "s", i, 10, i < 50 ? 101 : 0), STORE_OK);
    unsigned char seen[100] = {0};
    dump_all(seen, 100);
    for (int i = 0; i < 100; i++)
        cr_assert_eq(seen[i], 1);
    store_clock_set(102);
    memset(seen, 0, sizeof(seen));
    dump_all(seen, 100);
    for (int i = 0; i < 100; i++)
        cr_assert_eq(seen[i], i < 50 ? 0 : 1, "s%d", i);
    store_flush(0);
    memset(seen, 0, sizeof(seen));
    dump_all(seen, 100);
    for (int i = 0; i < 100; i++)
        cr_assert_eq(seen[i], 0, "s%d after flush_all", i);
}

Test(crawler, crawl_reclaims_expired, .fini = fini, .timeout = 30)
{
    store_test_start(store_test_opts(8u << 20, 12), &ts, 100);
    for (int i = 0; i < 300; i++)
        cr_assert_eq(put(&ts, "s", i, 10, i < 200 ? 101 : 0), STORE_OK);
    store_clock_set(105);
    struct store_crawl_info before, after;
    store_crawl_info(&before);
    cr_assert_eq(store_crawl_start(~UINT64_C(0) << 1), STORE_CRAWL_OK);
    do
        store_crawl_info(&after);
    while (after.running);
    cr_assert_eq(after.starts, before.starts + 1);
    cr_assert_eq(after.checked - before.checked, 300);
    struct store_info si;
    store_info(&si);
    cr_assert_eq(si.curr_items, 100);
    cr_assert_eq(si.expired_reclaimed, 200);
    cr_assert_eq(store_crawl_enable(true), STORE_CRAWL_FAILED, "enabling an enabled crawler");
    cr_assert_eq(store_crawl_enable(false), STORE_CRAWL_OK);
    cr_assert_eq(store_crawl_start(~UINT64_C(0) << 1), STORE_CRAWL_DISABLED);
    cr_assert_eq(store_crawl_enable(true), STORE_CRAWL_OK);
}

/* The crawl counts belong to the store: after a teardown, a new store's
 * start at zero (the request-path fuzzer, which sets up a store per run,
 * saw crawler_items_checked carried over from the run before). */
Test(crawler, counts_start_at_zero_in_a_new_store, .fini = fini, .timeout = 30)
{
    store_test_start(store_test_opts(8u << 20, 12), &ts, 100);
    for (int i = 0; i < 10; i++)
        cr_assert_eq(put(&ts, "s", i, 10, 0), STORE_OK);
    cr_assert_eq(store_crawl_start(~UINT64_C(0) << 1), STORE_CRAWL_OK);
    struct store_crawl_info ci;
    do
        store_crawl_info(&ci);
    while (ci.running);
    cr_assert_eq(ci.starts, 1);
    cr_assert_eq(ci.checked, 10);
    store_teardown();
    store_test_start(store_test_opts(8u << 20, 12), &ts, 100);
    store_crawl_info(&ci);
    cr_assert_eq(ci.starts, 0);
    cr_assert_eq(ci.checked, 0);
    for (unsigned i = 0; i < STORE_CLASSES_MAX; i++)
        cr_assert_eq(ci.class_checked[i], 0, "class %u", i);
}
