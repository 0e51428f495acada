/* test_item.c - accessors and reference counting. */
#include "config.h"

#include "store/item.h"
#include "store/store.h"

#include <criterion/criterion.h>
#include <string.h>

#include "tests/unit/store/fixture.h"

static struct store_tstats ts;

static void
init(void)
{
    store_test_start(store_test_opts(8u << 20, 8), &ts, 100);
}

static struct item *
mk(const char *key, const char *val, uint32_t flags, rel_time_t exp)
{
    enum store_status st;
    struct item *it = store_alloc(key, strlen(key), flags, exp, (uint32_t)strlen(val), &ts, &st);
    cr_assert_not_null(it);
    memcpy(item_data(it), val, strlen(val));
    return it;
}

TestSuite(item, .init = init, .fini = fini);

Test(item, accessors)
{
    struct item *it = mk("hello", "world!", 0xdeadbeef, 500);
    cr_expect_eq(item_nkey(it), 5);
    cr_expect_eq(memcmp(item_key(it), "hello", 5), 0);
    cr_expect_eq(item_nbytes(it), 6);
    cr_expect_eq(memcmp(item_data(it), "world!", 6), 0);
    cr_expect_eq(item_flags(it), 0xdeadbeef);
    cr_expect_eq(item_exptime(it), 500);
    cr_expect_eq(item_atime(it), 100);
    cr_expect_eq(item_cas(it), 0);
    cr_expect_geq(item_class(it), 1);
    cr_expect_eq(item_refcount(it), 1);
    item_release(it);
}

Test(item, refcount_through_link_get_release)
{
    struct item *it = mk("k", "v", 0, 0);
    cr_assert_eq(store_link(it, NULL, NULL, &ts), STORE_OK);
    cr_expect_eq(item_refcount(it), 2);
    item_release(it);
    cr_expect_eq(item_refcount(it), 1);
    struct item *g = store_get("k", 1, NULL, NULL, &ts);
    cr_assert_eq(g, it);
    cr_expect_eq(item_refcount(g), 2);
    item_release(g);
    cr_expect_eq(item_refcount(it), 1);
}

Test(item, replaced_item_stays_readable_until_released)
{
    struct item *a = mk("k", "old", 0, 0);
    cr_assert_eq(store_link(a, NULL, NULL, &ts), STORE_OK);
    item_release(a);
    struct item *held = store_get("k", 1, NULL, NULL, &ts);
    cr_assert_eq(held, a);
    unsigned id = item_class(a);
    struct item *b = mk("k", "new", 0, 0);
    cr_assert_eq(store_link(b, NULL, NULL, &ts), STORE_OK);
    item_release(b);
    struct store_class_info ci;
    store_class_info(id, &ci);
    cr_expect_eq(ci.used_chunks, 2);
    cr_expect_eq(ci.curr_items, 1);
    cr_expect_eq(memcmp(item_data(held), "old", 3), 0);
    struct item *g = store_get("k", 1, NULL, NULL, &ts);
    cr_assert_not_null(g);
    cr_expect_eq(memcmp(item_data(g), "new", 3), 0);
    item_release(g);
    item_release(held);
    store_class_info(id, &ci);
    cr_expect_eq(ci.used_chunks, 1);
    cr_expect_eq(ci.used_chunks + ci.free_chunks + ci.free_chunks_end, ci.total_chunks);
}

Test(item, release_of_unlinked_frees)
{
    struct item *it = mk("k", "v", 0, 0);
    unsigned id = item_class(it);
    item_release(it);
    struct store_class_info ci;
    store_class_info(id, &ci);
    cr_expect_eq(ci.used_chunks, 0);
    cr_expect_eq(ci.free_chunks + ci.free_chunks_end, ci.total_chunks);
    item_release(NULL);
}
