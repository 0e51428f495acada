/*
 * test_debug.c - the store's self-checks (store/debug.h): in a
 * --enable-debug build each broken invariant below stops the process with
 * an assert (SIGABRT). A release build has no checks: every test is disabled.
 */
#include "config.h"

#include "store/debug.h"
#include "store/hashtable.h"
#include "store/item.h"
#include "store/slab.h"
#include "store/store.h"
#include "store/tcache.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <string.h>

#include "tests/unit/store/fixture.h"

static struct store_tstats ts;

/* Each test, on in a debug build only. */
#define CHECKED .fini = fini, .disabled = !STORE_DEBUG

static void
start(void)
{
    store_test_start(store_test_opts(8u << 20, 12), &ts, 100);
}

static struct item *
new_item(const char *key)
{
    enum store_status st;
    struct item *it = store_alloc(key, strlen(key), 0, 0, 10, &ts, &st);
    cr_assert_not_null(it);
    return it;
}

/* The control: the same calls, rightly made, pass. */
Test(debug, rightful_calls_pass, CHECKED)
{
    start();
    struct item *it = new_item("k");
    cr_assert_eq(store_link(it, NULL, NULL, &ts), STORE_OK);
    item_release(it);
    uint32_t hv = ht_hash("k", 1);
    ht_lock(hv);
    cr_assert_eq(ht_find_locked("k", 1, hv), it);
    ht_unlock(hv);
    struct slab_class *c = slab_class_get(item_class(it));
    slab_lock(c);
    void *chunk = slab_alloc_locked(c);
    cr_assert_not_null(chunk);
    slab_free_locked(c, chunk);
    slab_unlock(c);
    cr_assert_eq(store_delete("k", 1, NULL, &ts), STORE_OK);
}

Test(debug, release_twice, CHECKED, .signal = SIGABRT)
{
    start();
    struct item *it = new_item("k");
    item_release(it);
    item_release(it);
}

Test(debug, reference_taken_at_zero, CHECKED, .signal = SIGABRT)
{
    start();
    struct item *it = new_item("k");
    item_release(it);
    item_incref(it);
}

Test(debug, release_locked_below_zero, CHECKED, .signal = SIGABRT)
{
    start();
    struct item *it = new_item("k");
    struct slab_class *c = slab_class_get(item_class(it));
    slab_lock(c);
    item_release_locked(it); /* the last reference: onto the free list */
    item_release_locked(it);
}

Test(debug, find_without_stripe_lock, CHECKED, .signal = SIGABRT)
{
    start();
    (void)ht_find_locked("k", 1, ht_hash("k", 1));
}

Test(debug, find_under_another_stripe, CHECKED, .signal = SIGABRT)
{
    start();
    uint32_t hv = ht_hash("k", 1);
    ht_lock(hv + 1);
    (void)ht_find_locked("k", 1, hv);
}

Test(debug, alloc_without_class_lock, CHECKED, .signal = SIGABRT)
{
    start();
    (void)slab_alloc_locked(slab_class_get(1));
}

Test(debug, chunk_freed_twice, CHECKED, .signal = SIGABRT)
{
    start();
    struct slab_class *c = slab_class_get(1);
    slab_lock(c);
    void *chunk = slab_alloc_locked(c);
    cr_assert_not_null(chunk);
    slab_free_locked(c, chunk);
    slab_free_locked(c, chunk);
}

Test(debug, chunk_freed_into_another_class, CHECKED, .signal = SIGABRT)
{
    start();
    struct slab_class *c1 = slab_class_get(1), *c2 = slab_class_get(2);
    slab_lock(c1);
    void *chunk = slab_alloc_locked(c1);
    slab_unlock(c1);
    cr_assert_not_null(chunk);
    slab_lock(c2);
    slab_free_locked(c2, chunk);
}

Test(debug, linked_item_freed, CHECKED, .signal = SIGABRT)
{
    start();
    struct item *it = new_item("k");
    cr_assert_eq(store_link(it, NULL, NULL, &ts), STORE_OK);
    struct slab_class *c = slab_class_get(item_class(it));
    slab_lock(c);
    slab_free_locked(c, it);
}

Test(debug, unlinked_item_removed_from_chain, CHECKED, .signal = SIGABRT)
{
    start();
    struct item *it = new_item("k");
    uint32_t hv = ht_hash("k", 1);
    ht_lock(hv);
    ht_remove_locked(it, hv);
}

Test(debug, class_lock_unlocked_by_another_thread, CHECKED, .signal = SIGABRT)
{
    start();
    struct slab_class *c = slab_class_get(1);
    slab_unlock(c); /* never taken */
}

Test(debug, chain_item_not_linked, CHECKED, .signal = SIGABRT)
{
    start();
    struct item *it = new_item("k");
    cr_assert_eq(store_link(it, NULL, NULL, &ts), STORE_OK);
    item_iflag_clear(it, ITEM_LINKED); /* the chain and the flag disagree */
    uint32_t hv = ht_hash("k", 1);
    ht_lock(hv);
    (void)ht_find_locked("k", 1, hv);
}
