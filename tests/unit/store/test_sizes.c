/* test_sizes.c - pins the item header size (memcached's sizes.c idea). */
#include "config.h"

#include "store/item.h"
#include "store/store.h"

#include <criterion/criterion.h>
#include <stddef.h>
#include <string.h>

#include "tests/unit/store/fixture.h"

static struct store_options
opts(bool use_cas)
{
    struct store_options o = store_test_opts(8u << 20, 8);
    o.use_cas = use_cas;
    return o;
}

Test(sizes, header)
{
    cr_expect_eq(sizeof(struct item), 28);
    cr_expect_eq(item_hdr_size(true), 36);
    cr_expect_eq(item_hdr_size(false), 36); /* -C: the field holds the link sequence */
    cr_expect_eq(item_total_size(false, 3, 10), 36 + 3 + 10);
    cr_expect_eq(item_total_size(true, 3, 10), 36 + 3 + 10 + 8); /* a client's CAS: flush gen trailer */
    cr_expect_eq(offsetof(struct item, h_next), 0);
    cr_expect_eq(offsetof(struct item, exptime), 4);
    cr_expect_eq(offsetof(struct item, atime), 8);
    cr_expect_eq(offsetof(struct item, nbytes), 12);
    cr_expect_eq(offsetof(struct item, flags), 16);
    cr_expect_eq(offsetof(struct item, refcount), 20);
    cr_expect_eq(offsetof(struct item, nkey), 24);
    cr_expect_eq(offsetof(struct item, clsid), 25);
    cr_expect_eq(offsetof(struct item, state), 26);
    cr_expect_eq(sizeof(((struct item *)0)->state), 2); /* iflags + stripe byte */
    cr_expect_eq(sizeof(((struct item *)0)->h_next), 4); /* a 32-bit handle */
}

/* The target: a 16-byte key and a 100-byte value with CAS is
 * 152 bytes and fits the 152-byte class exactly (memcached: 192). */
Test(sizes, key16_value100_fits_152_class)
{
    struct store_tstats ts;
    memset(&ts, 0, sizeof(ts));
    struct store_options o = opts(true);
    cr_assert_eq(store_setup(&o), 0);
    cr_expect_eq(item_total_size(false, 16, 100), 152);
    enum store_status st;
    struct item *it = store_alloc("0123456789abcdef", 16, 0, 0, 100, &ts, &st);
    cr_assert_not_null(it);
    struct store_class_info ci;
    cr_assert(store_class_info(item_class(it), &ci));
    cr_expect_eq(ci.chunk_size, 152);
    item_release(it);
    store_teardown();
}

/* Under -C the cas field stays (flush_all reads the link sequence in it)
 * but clients see a CAS of 0. */
Test(sizes, no_cas_keeps_the_field_and_reads_0)
{
    struct store_tstats ts;
    memset(&ts, 0, sizeof(ts));
    struct store_options o = opts(true);
    cr_assert_eq(store_setup(&o), 0);
    size_t with_cas = store_max_value_len(10);
    enum store_status st;
    struct item *it = store_alloc("key", 3, 0, 0, 5, &ts, &st);
    cr_assert_not_null(it);
    size_t sz = item_size(it);
    cr_expect_eq(store_link(it, NULL, NULL, &ts), STORE_OK);
    cr_expect_neq(item_cas(it), 0);
    item_release(it);
    store_teardown();

    o = opts(false);
    cr_assert_eq(store_setup(&o), 0);
    /* the largest value follows memcached's accounting, which has no CAS under -C */
    cr_expect_eq(store_max_value_len(10), with_cas + 8);
    it = store_alloc("key", 3, 0, 0, 5, &ts, &st);
    cr_assert_not_null(it);
    cr_expect_eq(item_size(it), sz);
    cr_expect_eq((size_t)(item_key(it) - (const char *)it), 36);
    cr_expect_eq(store_link(it, NULL, NULL, &ts), STORE_OK);
    cr_expect_eq(item_cas(it), 0);
    item_release(it);
    store_teardown();
}
