/* test_prefix.c - store_flush_prefix(): which items a registration kills
 * for every operation, its bounds (own CAS, -C, flush_all alongside),
 * retirement by a walk, the full table, the sweep, and writers racing it. */
#include "config.h"

#include "store/prefix.h"
#include "store/store.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/store/fixture.h"

static struct store_tstats ts;

static void
start(bool use_cas)
{
    struct store_options o = store_test_opts(32u << 20, 10);
    o.use_cas = use_cas;
    store_test_start(o, &ts, 1000);
}

static enum store_status
link_mode(const char *key, const char *val, const struct store_link_opts *o)
{
    enum store_status st;
    struct item *it = store_alloc(key, strlen(key), 0, 0, (uint32_t)strlen(val), &ts, &st);
    cr_assert_not_null(it);
    memcpy(item_data(it), val, strlen(val));
    st = store_link(it, o, NULL, &ts);
    item_release(it);
    return st;
}

static void
put(const char *key, const char *val)
{
    cr_assert_eq(link_mode(key, val, NULL), STORE_OK, "set %s", key);
}

static bool
has(const char *key)
{
    struct item *it = store_get(key, strlen(key), &store_test_peek, NULL, &ts);
    if (it != NULL)
        item_release(it);
    return it != NULL;
}

static void
flush(const char *p)
{
    cr_assert_eq(store_flush_prefix(p, strlen(p)), 0);
}

static uint64_t
curr_items(void)
{
    struct store_info si;
    store_info(&si);
    return si.curr_items;
}

Test(prefix, only_matching_keys_linked_before, .fini = fini)
{
    start(true);
    put("user:1:a", "1");
    put("user:1:b", "2");
    put("user:10", "3");
    put("user:2:a", "4");
    put("user:1:", "5"); /* the prefix itself is a key that starts with it */
    put("user:1", "6");  /* shorter than the prefix */
    flush("user:1:");
    cr_expect(!has("user:1:a"));
    cr_expect(!has("user:1:b"));
    cr_expect(!has("user:1:"));
    cr_expect(has("user:10"));
    cr_expect(has("user:2:a"));
    cr_expect(has("user:1"));
    put("user:1:a", "7"); /* written afterwards: visible */
    cr_expect(has("user:1:a"));
    struct store_prefix_info pi;
    store_prefix_info(&pi);
    cr_expect_eq(pi.live, 1);
    cr_expect_eq(pi.flushes, 1);
}

Test(prefix, every_operation_misses, .fini = fini)
{
    start(true);
    const char *keys[] = {"p:get", "p:arith", "p:touch", "p:delete", "p:add", "p:replace", "p:append",
                          "p:prepend", "p:cas", "p:meta"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        put(keys[i], "5");
    struct item *held = store_get("p:cas", 5, NULL, NULL, &ts);
    cr_assert_not_null(held);
    uint64_t cas = item_cas(held);
    item_release(held);
    flush("p:");

    cr_expect_null(store_get("p:get", 5, NULL, NULL, &ts));
    cr_expect_eq(store_arith("p:arith", 7, &(struct store_arith_opts){.delta = 1}, NULL, &ts), STORE_NOT_FOUND);
    cr_expect_null(store_get("p:touch", 7, &(struct store_get_opts){.kind = STORE_GET_TOUCH, .touch = true}, NULL,
                             &ts));
    cr_expect_eq(store_delete("p:delete", 8, NULL, &ts), STORE_NOT_FOUND);
    cr_expect_eq(link_mode("p:add", "x", &(struct store_link_opts){.mode = STORE_ADD}), STORE_OK);
    cr_expect_eq(link_mode("p:replace", "x", &(struct store_link_opts){.mode = STORE_REPLACE}), STORE_NOT_STORED);
    cr_expect_eq(link_mode("p:append", "x", &(struct store_link_opts){.mode = STORE_APPEND}), STORE_NOT_STORED);
    cr_expect_eq(link_mode("p:prepend", "x", &(struct store_link_opts){.mode = STORE_PREPEND}), STORE_NOT_STORED);
    cr_expect_eq(link_mode("p:cas", "x", &(struct store_link_opts){.mode = STORE_CAS, .cas = cas}), STORE_NOT_FOUND);
    struct store_get_info info;
    cr_expect_null(store_get("p:meta", 6, &(struct store_get_opts){.kind = STORE_GET_META}, &info, &ts));
    struct store_meta_debug_info dbg;
    cr_expect(!store_meta_peek("p:meta", 6, &dbg));
    cr_expect(has("p:add"));
    cr_expect_geq(atomic_load(&ts.get_flushed), 2);
}

/* an item whose CAS the client chose (meta E) is placed by its flush
 * generation; a flush_prefix does not make flush_all kill items linked
 * between the two */
Test(prefix, own_cas_items, .fini = fini)
{
    start(true);
    cr_assert_eq(link_mode("e:1", "x", &(struct store_link_opts){.has_new_cas = true, .new_cas = 1u << 30}),
                 STORE_OK);
    cr_assert_eq(link_mode("f:1", "x", &(struct store_link_opts){.has_new_cas = true, .new_cas = 1}), STORE_OK);
    flush("e:");
    cr_expect(!has("e:1"));
    cr_expect(has("f:1"));
    cr_assert_eq(link_mode("e:2", "x", &(struct store_link_opts){.has_new_cas = true, .new_cas = 7}), STORE_OK);
    cr_expect(has("e:2"));

    store_flush(0);
    cr_assert_eq(link_mode("g:1", "x", &(struct store_link_opts){.has_new_cas = true, .new_cas = 9}), STORE_OK);
    flush("zzz");
    cr_expect(has("g:1"), "linked after the flush_all, before an unrelated flush_prefix");
    cr_expect(!has("f:1"));
}

Test(prefix, without_cas, .fini = fini)
{
    start(false);
    put("a:1", "x");
    put("b:1", "x");
    flush("a:");
    cr_expect(!has("a:1"));
    cr_expect(has("b:1"));
    put("a:1", "y");
    cr_expect(has("a:1"));
}

Test(prefix, overlapping_and_again, .fini = fini)
{
    start(true);
    put("ab1", "x");
    put("a1", "x");
    flush("ab");
    put("ab2", "x");
    flush("a");
    cr_expect(!has("ab1") && !has("ab2") && !has("a1"));
    put("ab3", "x");
    put("a2", "x");
    cr_expect(has("ab3") && has("a2"));
    flush("a"); /* again: its bound moves, no new registration */
    cr_expect(!has("ab3") && !has("a2"));
    struct store_prefix_info pi;
    store_prefix_info(&pi);
    cr_expect_eq(pi.live, 2);
    cr_expect_eq(store_flush_prefix("", 0), -1);
    char longp[STORE_KEY_MAX + 2];
    memset(longp, 'k', sizeof(longp));
    cr_expect_eq(store_flush_prefix(longp, STORE_KEY_MAX + 1), -1);
    cr_expect_eq(store_flush_prefix(longp, STORE_KEY_MAX), 0);
}

/* memory comes back lazily: the sweep and the CLOCK hand reclaim */
Test(prefix, sweep_reclaims, .fini = fini)
{
    start(true);
    char k[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(k, sizeof(k), "%s:%d", i % 2 ? "odd" : "even", i);
        put(k, "v");
    }
    flush("odd:");
    cr_expect_eq(curr_items(), 1000, "nothing is unlinked by the flush itself");
    store_maintain();
    cr_expect_eq(curr_items(), 500);
}

Test(prefix, retire_walks_and_forgets, .fini = fini)
{
    start(true);
    put("r1:a", "x");
    put("r2:a", "x");
    put("r3:a", "x");
    put("keep", "x");
    flush("r1:");
    flush("r2:");
    flush("r3:");
    cr_expect_eq(prefix_retire(2), 3, "the walk unlinks what r1: and r2: hide (and r3:'s too)");
    struct store_prefix_info pi;
    store_prefix_info(&pi);
    cr_expect_eq(pi.live, 1);
    cr_expect_eq(pi.retired, 2);
    cr_expect_eq(pi.walks, 1);
    cr_expect(!has("r1:a") && !has("r2:a") && !has("r3:a"));
    cr_expect(has("keep"));
    cr_expect_eq(curr_items(), 1);
    put("r1:a", "y");
    cr_expect(has("r1:a"));
    prefix_retire(10);
    store_prefix_info(&pi);
    cr_expect_eq(pi.live, 0);
}

/* past PREFIX_MAX a flush retires the oldest half first: still correct */
Test(prefix, full_table, .fini = fini, .timeout = 60)
{
    start(true);
    char k[64];
    for (int i = 0; i < PREFIX_MAX + 10; i++) {
        snprintf(k, sizeof(k), "t%d:x", i);
        put(k, "v");
        snprintf(k, sizeof(k), "t%d:", i);
        flush(k);
    }
    struct store_prefix_info pi;
    store_prefix_info(&pi);
    cr_expect_leq(pi.live, PREFIX_MAX);
    cr_expect_geq(pi.retired, PREFIX_MAX / 2);
    for (int i = 0; i < PREFIX_MAX + 10; i++) {
        snprintf(k, sizeof(k), "t%d:x", i);
        cr_expect(!has(k), "%s", k);
    }
    put("t0:x", "w");
    cr_expect(has("t0:x"));
}

/* writers keep setting fresh keys under the prefix while it is flushed:
 * every key set before a flush started is gone after it returns, every key
 * set after it returned is there */
#define WRITERS 3
static _Atomic int done[WRITERS];
static _Atomic bool stop;

static void *
writer(void *arg)
{
    int w = (int)(intptr_t)arg;
    struct store_tstats mine = {0};
    char k[32];
    for (int i = 0; !atomic_load(&stop) && i < 200000; i++) {
        snprintf(k, sizeof(k), "w:%d:%d", w, i);
        enum store_status st;
        struct item *it = store_alloc(k, strlen(k), 0, 0, 1, &mine, &st);
        if (it == NULL)
            break;
        item_data(it)[0] = 'v';
        store_link(it, NULL, NULL, &mine);
        item_release(it);
        atomic_store(&done[w], i + 1);
    }
    return NULL;
}

Test(prefix, writers_during_flush, .fini = fini, .timeout = 60)
{
    start(true);
    pthread_t th[WRITERS];
    for (int w = 0; w < WRITERS; w++) {
        atomic_store(&done[w], 0);
        pthread_create(&th[w], NULL, writer, (void *)(intptr_t)w);
    }
    char k[32];
    for (int round = 0; round < 50; round++) {
        int before[WRITERS];
        for (int w = 0; w < WRITERS; w++)
            before[w] = atomic_load(&done[w]);
        flush("w:");
        int after[WRITERS];
        for (int w = 0; w < WRITERS; w++)
            after[w] = atomic_load(&done[w]);
        for (int w = 0; w < WRITERS; w++) {
            if (before[w] > 0) {
                snprintf(k, sizeof(k), "w:%d:%d", w, before[w] - 1);
                cr_expect(!has(k), "round %d: %s set before the flush", round, k);
            }
            /* wait for a key set after the flush returned */
            while (atomic_load(&done[w]) < after[w] + 2 && atomic_load(&done[w]) < 200000)
                sched_yield();
            int i = atomic_load(&done[w]) - 1;
            if (i > after[w]) {
                snprintf(k, sizeof(k), "w:%d:%d", w, i);
                cr_expect(has(k), "round %d: %s set after the flush", round, k);
            }
        }
        if (round % 10 == 9)
            prefix_retire(1);
    }
    atomic_store(&stop, true);
    for (int w = 0; w < WRITERS; w++)
        pthread_join(th[w], NULL);
}

/* the maintainer thread retires the oldest half from PREFIX_RETIRE_AT on,
 * so flush_prefix itself rarely has to */
Test(prefix, maintainer_retires, .fini = fini, .timeout = 60)
{
    struct store_options o = store_test_opts(32u << 20, 10);
    o.background_threads = true;
    store_test_start(o, &ts, 1000);
    char k[64];
    for (int i = 0; i < PREFIX_RETIRE_AT + 10; i++) {
        snprintf(k, sizeof(k), "m%d:x", i);
        put(k, "v");
        snprintf(k, sizeof(k), "m%d:", i);
        flush(k);
    }
    struct store_prefix_info pi;
    for (int tries = 0; tries < 2000; tries++) { /* up to 20 s: the thread runs once a second */
        store_prefix_info(&pi);
        if (pi.live < PREFIX_RETIRE_AT)
            break;
        usleep(10000);
    }
    cr_expect_lt(pi.live, PREFIX_RETIRE_AT);
    cr_expect_geq(pi.walks, 1);
    for (int i = 0; i < PREFIX_RETIRE_AT + 10; i++) {
        snprintf(k, sizeof(k), "m%d:x", i);
        cr_expect(!has(k), "%s", k);
    }
}
