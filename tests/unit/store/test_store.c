/* test_store.c - the store operations: link modes, delete, arith, touch. */
#include "config.h"

#include "store/store.h"

#include <criterion/criterion.h>
#include <string.h>

#include "tests/unit/store/fixture.h"

static struct store_tstats ts;

static void
init(void)
{
    store_test_start(store_test_opts(16u << 20, 8), &ts, 100);
}

static enum store_status
link_full(const char *key, const char *val, uint32_t flags, rel_time_t exp,
          enum store_mode mode, uint64_t cas, uint64_t *cas_out)
{
    enum store_status st;
    struct item *it = store_alloc(key, strlen(key), flags, exp, (uint32_t)strlen(val), &ts, &st);
    cr_assert_not_null(it);
    memcpy(item_data(it), val, strlen(val));
    struct store_link_opts o = {.mode = mode, .cas = cas};
    struct store_link_out out = {0};
    st = store_link(it, &o, &out, &ts);
    if (st == STORE_OK && cas_out != NULL)
        *cas_out = out.cas;
    item_release(it);
    return st;
}

static enum store_status
put(const char *key, const char *val, enum store_mode mode)
{
    return link_full(key, val, 0, 0, mode, 0, NULL);
}

/* Value of key as a string in a static buffer, NULL when missing. */
static const char *
get(const char *key)
{
    static char buf[256];
    struct item *it = store_get(key, strlen(key), NULL, NULL, &ts);
    if (it == NULL)
        return NULL;
    cr_assert_lt(item_nbytes(it), sizeof(buf));
    memcpy(buf, item_data(it), item_nbytes(it));
    buf[item_nbytes(it)] = '\0';
    item_release(it);
    return buf;
}

static uint64_t
cas_of(const char *key)
{
    struct item *it = store_get(key, strlen(key), &store_test_peek, NULL, &ts);
    cr_assert_not_null(it);
    uint64_t c = item_cas(it);
    item_release(it);
    return c;
}

TestSuite(store, .init = init, .fini = fini);

Test(store, set_get_replace_value)
{
    cr_expect_null(get("k"));
    cr_expect_eq(put("k", "one", STORE_SET), STORE_OK);
    cr_expect_str_eq(get("k"), "one");
    cr_expect_eq(put("k", "two", STORE_SET), STORE_OK);
    cr_expect_str_eq(get("k"), "two");
    cr_expect_eq(atomic_load(&ts.total_items), 2);
    cr_expect_eq(atomic_load(&ts.get_misses), 1);
    cr_expect_eq(atomic_load(&ts.get_cmds), 3);
    struct store_info si;
    store_info(&si);
    cr_expect_eq(si.curr_items, 1);
    cr_expect_eq(si.bytes, 36 + 1 + 3); /* 28-byte header + CAS + key + value */
}

Test(store, add)
{
    cr_expect_eq(put("k", "a", STORE_ADD), STORE_OK);
    cr_expect_eq(put("k", "b", STORE_ADD), STORE_NOT_STORED);
    cr_expect_str_eq(get("k"), "a");
    /* add over an expired item succeeds */
    cr_expect_eq(link_full("e", "x", 0, 110, STORE_SET, 0, NULL), STORE_OK);
    store_clock_set(110);
    cr_expect_eq(put("e", "y", STORE_ADD), STORE_OK);
    cr_expect_str_eq(get("e"), "y");
}

Test(store, replace)
{
    cr_expect_eq(put("k", "a", STORE_REPLACE), STORE_NOT_STORED);
    cr_expect_null(get("k"));
    put("k", "a", STORE_SET);
    cr_expect_eq(put("k", "b", STORE_REPLACE), STORE_OK);
    cr_expect_str_eq(get("k"), "b");
}

Test(store, append_prepend_keep_flags_and_exptime)
{
    cr_expect_eq(put("k", "x", STORE_APPEND), STORE_NOT_STORED);
    cr_expect_eq(put("k", "x", STORE_PREPEND), STORE_NOT_STORED);
    cr_expect_eq(link_full("k", "mid", 5, 500, STORE_SET, 0, NULL), STORE_OK);
    uint64_t c0 = cas_of("k"), c1 = 0;
    cr_expect_eq(link_full("k", "END", 9, 0, STORE_APPEND, 0, &c1), STORE_OK);
    cr_expect_gt(c1, c0);
    cr_expect_eq(cas_of("k"), c1);
    cr_expect_eq(link_full("k", "pre", 9, 0, STORE_PREPEND, 0, NULL), STORE_OK);
    cr_expect_str_eq(get("k"), "premidEND");
    struct item *it = store_get("k", 1, &store_test_peek, NULL, &ts);
    cr_expect_eq(item_flags(it), 5);
    cr_expect_eq(item_exptime(it), 500);
    item_release(it);
    /* with a CAS: only when it matches */
    cr_expect_eq(link_full("k", "!", 0, 0, STORE_APPEND, 1, NULL), STORE_EXISTS);
    cr_expect_eq(link_full("k", "!", 0, 0, STORE_APPEND, cas_of("k"), NULL), STORE_OK);
    cr_expect_str_eq(get("k"), "premidEND!");
    struct store_info si;
    store_info(&si);
    cr_expect_eq(si.curr_items, 1);
}

Test(store, cas_mode)
{
    uint64_t c = 0;
    cr_expect_eq(link_full("k", "a", 0, 0, STORE_CAS, 1, NULL), STORE_NOT_FOUND);
    cr_expect_eq(atomic_load(&ts.cas_misses), 1);
    cr_expect_eq(link_full("k", "a", 0, 0, STORE_SET, 0, &c), STORE_OK);
    cr_expect_neq(c, 0);
    cr_expect_eq(link_full("k", "b", 0, 0, STORE_CAS, c + 1, NULL), STORE_EXISTS);
    uint64_t c2 = 0;
    cr_expect_eq(link_full("k", "c", 0, 0, STORE_CAS, c, &c2), STORE_OK);
    cr_expect_neq(c2, c);
    cr_expect_str_eq(get("k"), "c");
    cr_expect_eq(link_full("k", "d", 0, 0, STORE_CAS, c, NULL), STORE_EXISTS);
    struct item *it = store_get("k", 1, &store_test_peek, NULL, &ts);
    unsigned id = item_class(it);
    item_release(it);
    cr_expect_eq(atomic_load(&ts.slab[id].cas_badval), 2);
    cr_expect_eq(atomic_load(&ts.slab[id].cas_hits), 1);
    cr_expect_eq(atomic_load(&ts.slab[id].cmd_set), 5);
}

Test(store, delete_with_cas)
{
    cr_expect_eq(store_delete("k", 1, NULL, &ts), STORE_NOT_FOUND);
    cr_expect_eq(atomic_load(&ts.delete_misses), 1);
    uint64_t c;
    link_full("k", "v", 0, 0, STORE_SET, 0, &c);
    cr_expect_eq(store_delete("k", 1, &(struct store_delete_opts){.cas = c + 7}, &ts), STORE_EXISTS);
    cr_expect_str_eq(get("k"), "v");
    cr_expect_eq(store_delete("k", 1, &(struct store_delete_opts){.cas = c}, &ts), STORE_OK);
    cr_expect_null(get("k"));
    put("k", "v", STORE_SET);
    cr_expect_eq(store_delete("k", 1, NULL, &ts), STORE_OK);
    cr_expect_eq(store_delete("k", 1, NULL, &ts), STORE_NOT_FOUND);
}

/* incr/decr of key by delta with CAS `cas` (0: none); *res and *cas_out
 * (may be NULL) receive the value and the CAS after */
static enum store_status
arith_cas(const char *key, bool incr, uint64_t delta, uint64_t cas, uint64_t *res, uint64_t *cas_out)
{
    struct store_arith_opts o = {.decr = !incr, .delta = delta, .cas = cas};
    struct store_arith_out out;
    enum store_status st = store_arith(key, strlen(key), &o, &out, &ts);
    if (st == STORE_OK) {
        *res = out.value;
        if (cas_out != NULL)
            *cas_out = out.cas;
    }
    return st;
}

static enum store_status
arith(const char *key, bool incr, uint64_t delta, uint64_t *res)
{
    return arith_cas(key, incr, delta, 0, res, NULL);
}

Test(store, arith_basic_and_wrap)
{
    uint64_t r = 0;
    cr_expect_eq(arith("n", true, 1, &r), STORE_NOT_FOUND);
    cr_expect_eq(atomic_load(&ts.incr_misses), 1);
    cr_expect_eq(arith("n", false, 1, &r), STORE_NOT_FOUND);
    cr_expect_eq(atomic_load(&ts.decr_misses), 1);
    put("n", "12", STORE_SET);
    cr_expect_eq(arith("n", true, UINT64_MAX, &r), STORE_OK);
    cr_expect_eq(r, 11);
    cr_expect_str_eq(get("n"), "11");
    put("m", "18446744073709551615", STORE_SET);
    cr_expect_eq(arith("m", true, 2, &r), STORE_OK);
    cr_expect_eq(r, 1);
    cr_expect_str_eq(get("m"), "1                   ");
}

Test(store, arith_decr_floor_and_padding)
{
    uint64_t r = 99, c0, c1 = 0;
    link_full("n", "10", 0, 0, STORE_SET, 0, &c0);
    cr_expect_eq(arith_cas("n", false, 1, 0, &r, &c1), STORE_OK);
    cr_expect_eq(r, 9);
    cr_expect_neq(c1, c0);
    cr_expect_eq(cas_of("n"), c1);
    cr_expect_str_eq(get("n"), "9 ");
    cr_expect_eq(arith("n", false, 100, &r), STORE_OK);
    cr_expect_eq(r, 0);
    cr_expect_str_eq(get("n"), "0 ");
    cr_expect_eq(arith("n", true, 5, &r), STORE_OK);
    cr_expect_str_eq(get("n"), "5 ");
}

Test(store, arith_grows)
{
    uint64_t r = 0;
    put("n", "99", STORE_SET);
    cr_expect_eq(arith("n", true, 1, &r), STORE_OK);
    cr_expect_eq(r, 100);
    cr_expect_str_eq(get("n"), "100");
    put("n", "9", STORE_SET);
    cr_expect_eq(arith("n", true, 1, &r), STORE_OK);
    cr_expect_str_eq(get("n"), "10");
    struct store_info si;
    store_info(&si);
    cr_expect_eq(si.curr_items, 1);
}

Test(store, arith_with_reader_makes_new_item)
{
    uint64_t r = 0;
    put("n", "10", STORE_SET);
    struct item *held = store_get("n", 1, &store_test_peek, NULL, &ts);
    cr_expect_eq(arith("n", false, 1, &r), STORE_OK);
    cr_expect_str_eq(get("n"), "9"); /* new item of exact length */
    cr_expect_eq(memcmp(item_data(held), "10", 2), 0);
    item_release(held);
}

Test(store, arith_parsing_like_memcached)
{
    uint64_t r = 0;
    const char *bad[] = {"12abc", "", "  ", "-1", "18446744073709551616", "abc", "1.5"};
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        put("n", bad[i], STORE_SET);
        cr_expect_eq(arith("n", true, 1, &r), STORE_NON_NUMERIC, "'%s'", bad[i]);
    }
    struct { const char *v; uint64_t want; } ok[] = {
        {" 12", 13}, {"12 ", 13}, {"12 abc", 13}, {"+5", 6}, {"-0", 1}, {"\t3", 4},
        {"00000000000000000000000000000000000000007", 8}, {"18446744073709551614", UINT64_MAX},
    };
    for (unsigned i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        put("n", ok[i].v, STORE_SET);
        cr_expect_eq(arith("n", true, 1, &r), STORE_OK, "'%s'", ok[i].v);
        cr_expect_eq(r, ok[i].want, "'%s'", ok[i].v);
    }
}

Test(store, arith_with_cas)
{
    uint64_t r = 0, c;
    link_full("n", "5", 0, 0, STORE_SET, 0, &c);
    cr_expect_eq(arith_cas("n", true, 1, c + 1, &r, NULL), STORE_EXISTS);
    cr_expect_eq(arith_cas("n", true, 1, c, &r, NULL), STORE_OK);
    cr_expect_eq(r, 6);
}

Test(store, touch_and_gat)
{
    put("k", "v", STORE_SET);
    struct store_get_opts gat = {.touch = true, .touch_exptime = 150};
    struct item *it = store_get("k", 1, &gat, NULL, &ts);
    cr_assert_not_null(it);
    cr_expect_eq(item_exptime(it), 150);
    unsigned id = item_class(it);
    item_release(it);
    cr_expect_eq(atomic_load(&ts.touch_cmds), 1);
    cr_expect_eq(atomic_load(&ts.slab[id].touch_hits), 1);
    cr_expect_eq(atomic_load(&ts.slab[id].get_hits), 1);
    struct store_get_opts touch = {.kind = STORE_GET_TOUCH, .touch = true, .touch_exptime = 150};
    cr_expect_null(store_get("nope", 4, &touch, NULL, &ts));
    cr_expect_eq(atomic_load(&ts.touch_misses), 1);
    cr_expect_eq(atomic_load(&ts.get_misses), 0);
    store_clock_set(150);
    cr_expect_null(get("k"));
}

Test(store, tstats_sum)
{
    struct store_tstats other;
    memset(&other, 0, sizeof(other));
    put("k", "v", STORE_SET);
    get("k");
    get("x");
    STAT_ADD(other.get_misses, 5);
    STAT_INC(other.slab[3].get_hits);
    struct store_tstats_snap sum;
    memset(&sum, 0, sizeof(sum));
    store_tstats_sum(&sum, &ts);
    store_tstats_sum(&sum, &other);
    cr_expect_eq(sum.get_misses, 6);
    cr_expect_eq(sum.total_items, 1);
    cr_expect_eq(sum.get_cmds, 2);
    uint64_t hits = 0;
    for (unsigned i = 0; i < STORE_CLASSES_MAX; i++)
        hits += sum.slab[i].get_hits;
    cr_expect_eq(hits, 2);
}
