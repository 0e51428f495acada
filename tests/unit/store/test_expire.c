/* test_expire.c - TTL conversion, expiry, flush_all, background sweep. */
#include "config.h"

#include "store/expire.h"
#include "store/slab.h"
#include "store/store.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tests/unit/store/fixture.h"

static struct store_tstats ts;

static void
start(bool use_cas, bool bg)
{
    struct store_options o = store_test_opts(16u << 20, 8);
    o.use_cas = use_cas;
    o.background_threads = bg;
    store_test_start(o, &ts, 1000);
    store_clock_set_epoch(1700000000);
}

static void
put(const char *key, const char *val, rel_time_t exp)
{
    enum store_status st;
    struct item *it = store_alloc(key, strlen(key), 0, exp, (uint32_t)strlen(val), &ts, &st);
    cr_assert_not_null(it);
    memcpy(item_data(it), val, strlen(val));
    cr_assert_eq(store_link(it, NULL, NULL, &ts), STORE_OK);
    item_release(it);
}

/* 0 missing, else the first byte of the value */
static char
get1(const char *key)
{
    struct item *it = store_get(key, strlen(key), NULL, NULL, &ts);
    if (it == NULL)
        return 0;
    char c = item_data(it)[0];
    item_release(it);
    return c;
}

TestSuite(expire, .fini = fini);

Test(expire, convert)
{
    start(true, false);
    cr_expect_eq(store_exptime_convert(0), 0);
    cr_expect_eq(store_exptime_convert(10), 1010);
    cr_expect_eq(store_exptime_convert(STORE_REALTIME_MAXDELTA), 1000 + STORE_REALTIME_MAXDELTA);
    /* one past 30 days is an absolute unix time, long ago: expired */
    cr_expect_eq(store_exptime_convert(STORE_REALTIME_MAXDELTA + 1), 1);
    cr_expect_eq(store_exptime_convert(1700000000 + 5000), 5000);
    cr_expect_eq(store_exptime_convert(1700000000), 1);
    cr_expect_eq(store_exptime_convert(-1), 1);
    cr_expect_leq(store_exptime_convert(-100000), 1000);
    cr_expect_neq(store_exptime_convert(-100000), 0);
}

Test(expire, relative)
{
    start(true, false);
    put("a", "1", store_exptime_convert(10));
    store_clock_set(1009);
    cr_expect_eq(get1("a"), '1');
    store_clock_set(1010);
    cr_expect_eq(get1("a"), 0);
    cr_expect_eq(atomic_load(&ts.get_expired), 1);
    cr_expect_eq(atomic_load(&ts.get_misses), 1);
    struct store_info si;
    store_info(&si);
    cr_expect_eq(si.curr_items, 0);
}

Test(expire, absolute_and_negative)
{
    start(true, false);
    put("abs", "1", store_exptime_convert(1700000000 + 1100));
    put("neg", "2", store_exptime_convert(-1));
    put("past", "3", store_exptime_convert(1699999999));
    cr_expect_eq(get1("neg"), 0);
    cr_expect_eq(get1("past"), 0);
    cr_expect_eq(get1("abs"), '1');
    store_clock_set(1100);
    cr_expect_eq(get1("abs"), 0);
}

Test(expire, flush_now)
{
    start(true, false);
    put("a", "1", 0);
    put("b", "2", 0);
    store_flush(store_clock_now());
    cr_expect_eq(get1("a"), 0);
    cr_expect_eq(atomic_load(&ts.get_flushed), 1);
    /* a set in the same second survives */
    put("c", "3", 0);
    cr_expect_eq(get1("c"), '3');
    put("a", "4", 0);
    cr_expect_eq(get1("a"), '4');
    cr_expect_eq(get1("b"), 0);
    store_clock_set(1001);
    cr_expect_eq(get1("c"), '3');
}

Test(expire, flush_delayed)
{
    start(true, false);
    put("a", "1", 0);
    store_flush(1010);
    store_clock_set(1009);
    cr_expect_eq(get1("a"), '1');
    store_clock_set(1010);
    cr_expect_eq(get1("a"), 0);
    put("b", "2", 0);
    cr_expect_eq(get1("b"), '2');
}

Test(expire, flush_without_cas)
{
    start(false, false);
    put("a", "1", 0);
    store_flush(1000);
    cr_expect_eq(get1("a"), 0);
    store_clock_set(1001);
    put("b", "2", 0);
    cr_expect_eq(get1("b"), '2');
}

Test(expire, sweep_reclaims_without_get)
{
    start(true, false);
    for (int i = 0; i < 500; i++) {
        char k[16];
        snprintf(k, sizeof(k), "t%d", i);
        put(k, "x", store_exptime_convert(i % 2 ? 10 : 0));
    }
    store_clock_set(1020);
    cr_expect_eq(store_maintain(), 250);
    struct store_info si;
    store_info(&si);
    cr_expect_eq(si.curr_items, 250);
    cr_expect_eq(si.expired_reclaimed, 250);
    struct store_class_info ci;
    struct item *it = store_get("t0", 2, &store_test_peek, NULL, &ts);
    cr_assert_not_null(it);
    store_class_info(item_class(it), &ci);
    item_release(it);
    cr_expect_eq(ci.crawler_reclaimed, 250);
    cr_expect_eq(ci.expired_unfetched, 250);
    cr_expect_eq(ci.used_chunks, 250);
    cr_expect_eq(store_maintain(), 0);
    cr_expect_eq(atomic_load(&ts.get_expired), 0);
}

Test(expire, sweep_reclaims_flushed)
{
    start(true, false);
    put("a", "1", 0);
    put("b", "1", 0);
    store_flush(1000);
    cr_expect_eq(store_maintain(), 2);
}

Test(expire, background_thread_sweeps)
{
    start(true, true);
    put("a", "1", store_exptime_convert(5));
    put("b", "1", 0);
    store_clock_set(1010);
    struct store_info si;
    for (int i = 0; i < 50; i++) {
        store_info(&si);
        if (si.curr_items == 1)
            break;
        nanosleep(&(struct timespec){.tv_nsec = 100000000}, NULL);
    }
    cr_expect_eq(si.curr_items, 1);
    cr_expect_eq(si.expired_reclaimed, 1);
}

/* The thread's sweep looks at a bounded number of items per pass and
 * resumes where it stopped; store_maintain() still finishes the round. */
Test(expire, sweep_budget_resumes)
{
    start(true, false);
    char key[16];
    for (int i = 0; i < 300; i++) {
        snprintf(key, sizeof(key), "b%d", i);
        put(key, "v", 1005);
    }
    store_clock_set(1010);
    struct item *probe = store_get("b0", 2, &store_test_peek, NULL, &ts);
    cr_assert_null(probe, "expired items are never returned");
    struct slab_class *c = slab_class_get(1);
    uint64_t first = expire_sweep_class(c, 1010, 100);
    cr_assert_leq(first, 100, "one pass looks at no more than its budget");
    cr_assert(c->sweeping, "a round cut short stays open");
    uint64_t total = first;
    for (int pass = 0; pass < 10 && c->sweeping; pass++)
        total += expire_sweep_class(c, 1010, 100);
    cr_assert_not(c->sweeping, "the round ends at the head");
    cr_assert_eq(total, 299, "the other 299 expired items were reclaimed");
    struct store_info si;
    store_info(&si);
    cr_assert_eq(si.curr_items, 0);
}

/* Under -C the same-second set after an immediate flush survives too:
 * items carry a link sequence clients never see as a CAS. */
Test(expire, flush_now_without_cas_keeps_later_sets)
{
    start(false, false);
    put("a", "1", 0);
    store_flush_delay(0);
    put("k", "2", 0);
    cr_expect_eq(get1("a"), 0);
    cr_expect_eq(get1("k"), '2');
    /* a later delayed flush does not bring "a" back */
    put("a", "3", 0);
    store_flush_delay(0);
    store_flush_delay(60);
    cr_expect_eq(get1("a"), 0);
}

/* Delays as memcached 1.6.45: 1 flushes the rest of this second, n from
 * now + n - 1 on flushes what was set until then, a unix time before the
 * start flushes nothing and cancels a pending flush. */
static void
flush_delays(bool use_cas)
{
    start(use_cas, false);
    put("a", "1", 0);
    store_flush_delay(1);
    put("k", "2", 0);
    cr_expect_eq(get1("a"), 0);
    cr_expect_eq(get1("k"), 0);
    store_clock_set(1001);
    put("b", "3", 0);
    store_flush_delay(3); /* bound 1003 */
    store_clock_set(1002);
    put("c", "4", 0);
    cr_expect_eq(get1("b"), '3');
    store_clock_set(1003);
    put("d", "5", 0);
    cr_expect_eq(get1("b"), 0);
    cr_expect_eq(get1("c"), 0);
    cr_expect_eq(get1("d"), 0);
    store_clock_set(1004);
    put("e", "6", 0);
    cr_expect_eq(get1("e"), '6');
    store_flush_delay(60);
    store_flush_delay(STORE_REALTIME_MAXDELTA + 1); /* unix time long past */
    store_clock_set(1100);
    cr_expect_eq(get1("e"), '6');
}

Test(expire, flush_delays_with_cas)
{
    flush_delays(true);
}

Test(expire, flush_delays_without_cas)
{
    flush_delays(false);
}

/* An absolute time after the start but already past: every item linked
 * so far is flushed (memcached's oldest_cas), with or without -C. */
Test(expire, flush_absolute_past)
{
    for (int cas = 0; cas < 2; cas++) {
        start(cas, false);
        put("a", "1", 0);
        store_clock_set(1010);
        put("b", "2", 0);
        store_flush_delay(store_clock_epoch() + 1005);
        cr_expect_eq(get1("a"), 0);
        cr_expect_eq(get1("b"), 0);
        put("c", "3", 0);
        cr_expect_eq(get1("c"), '3');
        if (cas == 0)
            store_teardown(); /* the suite's .fini tears down the last one */
    }
}

/* ms/mg/ma/md with E: a client's CAS, set by the meta link path (none is
 * kept under -C). */
static bool e_kept;

static void
put_e(const char *key, const char *val, uint64_t e)
{
    enum store_status st;
    struct item *it = store_alloc(key, strlen(key), 0, 0, (uint32_t)strlen(val), &ts, &st);
    cr_assert_not_null(it);
    memcpy(item_data(it), val, strlen(val));
    struct store_link_opts o = {.has_new_cas = true, .new_cas = e};
    struct store_link_out out;
    cr_assert_eq(store_link(it, &o, &out, &ts), STORE_OK);
    cr_expect_eq(out.cas, e_kept ? e : 0);
    item_release(it);
}

/* Issue 16: an item whose CAS a client chose (E) is flushed by an immediate
 * flush_all when linked before it, and kept when linked after it, whatever
 * the CAS is next to the counter's; the counter itself is not moved by E.
 * A value of 300 bytes also sits in a chunk with no room to spare, so the
 * link copies it (item.h's trailer). */
static void
flush_explicit_cas(bool use_cas)
{
    start(use_cas, false);
    e_kept = use_cas;
    put("plain", "p", 0);                /* CAS 2 */
    put_e("high", "h", 1000000);         /* far above the counter */
    put_e("low", "l", 1);                /* below it */
    char big[300];
    memset(big, 'b', sizeof(big));
    big[sizeof(big) - 1] = 0;
    put_e("big", big, 777);
    struct store_get_opts go = {.kind = STORE_GET_META, .vivify = true, .has_new_cas = true, .new_cas = 5000};
    struct item *v = store_get("viv", 3, &go, NULL, &ts);
    cr_assert_not_null(v);
    item_release(v);
    put("ar", "10", 0);
    struct store_arith_opts ao = {.delta = 1, .has_new_cas = true, .new_cas = 900};
    struct store_arith_out aout = {0};
    cr_expect_eq(store_arith("ar", 2, &ao, &aout, &ts), STORE_OK);
    cr_expect_eq(aout.cas, use_cas ? 900 : 0);
    put("inv", "i", 0);
    struct store_delete_opts dop = {.invalidate = true, .has_new_cas = true, .new_cas = 901};
    cr_expect_eq(store_delete("inv", 3, &dop, &ts), STORE_OK);
    store_flush(store_clock_now());
    cr_expect_eq(get1("plain"), 0);
    cr_expect_eq(get1("high"), 0);
    cr_expect_eq(get1("low"), 0);
    cr_expect_eq(get1("big"), 0);
    cr_expect_eq(get1("viv"), 0);
    cr_expect_eq(get1("ar"), 0);
    cr_expect_eq(get1("inv"), 0);
    /* linked after the flush, in the same second: kept, low CAS or high */
    put_e("low", "L", 1);
    put_e("high", "H", 1000000);
    cr_expect_eq(get1("low"), 'L');
    cr_expect_eq(get1("high"), 'H');
    struct item *it = store_get("low", 3, &store_test_peek, NULL, &ts);
    cr_assert_not_null(it);
    cr_expect_eq(item_cas(it), use_cas ? 1 : 0);
    item_release(it);
    /* only ma's E drew a value (its incr does, as in 1.6.45): plain 2,
     * ar 3, the incr 4, inv 5, the next set 6 */
    put("next", "n", 0);
    it = store_get("next", 4, &store_test_peek, NULL, &ts);
    cr_assert_not_null(it);
    cr_expect_eq(item_cas(it), use_cas ? 6 : 0);
    item_release(it);
    /* a delayed flush reaching its bound takes them too */
    store_flush(store_clock_now() + 2);
    store_clock_set(store_clock_now() + 2);
    cr_expect_eq(get1("low"), 0);
    cr_expect_eq(get1("high"), 0);
}

Test(expire, flush_drops_items_with_a_clients_cas)
{
    flush_explicit_cas(true);
}

Test(expire, flush_drops_items_with_a_clients_cas_without_cas)
{
    flush_explicit_cas(false);
}
