/* test_watch_hook.c - the store's side of `watch` (store/watch_hook.c):
 * the eviction hook sees each evicted item (key, fetched, TTL, class,
 * size) and only while installed; the lookup record of store_link,
 * store_delete and store_arith says what they found, and only while on. */
#include "config.h"

#include "store/store.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "tests/unit/store/fixture.h"

#define VLEN 200000

static struct store_tstats ts;
static char evicted[8][32];
static struct store_evict_info evinfo[8];
static int nevicted;

static void on_evict(const struct store_evict_info *ev)
{
    if (nevicted < 8) {
        snprintf(evicted[nevicted], sizeof(evicted[0]), "%.*s", (int)ev->nkey, ev->key);
        evinfo[nevicted] = *ev;
        evinfo[nevicted].key = NULL;
    }
    nevicted++;
}

static enum store_status put(const char *key, rel_time_t exp, size_t vlen)
{
    enum store_status st;
    struct item *it = store_alloc(key, strlen(key), 0, exp, vlen, &ts, &st);
    if (it == NULL)
        return st;
    memset(item_data(it), 'v', vlen);
    st = store_link(it, NULL, NULL, &ts);
    item_release(it);
    return st;
}

static bool has(const char *key)
{
    struct item *it = store_get(key, strlen(key), &store_test_peek, NULL, &ts);
    if (it != NULL)
        item_release(it);
    return it != NULL;
}

Test(watch_hook, eviction_hook_sees_each_evicted_item, .fini = fini)
{
    store_test_start(store_test_opts(1u << 20, 8), &ts, 100);
    nevicted = 0;
    store_set_evict_hook(on_evict);
    char key[16];
    int i = 0;
    for (; nevicted == 0 && i < 100; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        cr_assert_eq(put(key, i == 0 ? 160 : 0, VLEN), STORE_OK);
    }
    cr_assert_eq(nevicted, 1, "%d evictions", nevicted);
    cr_expect_str_eq(evicted[0], "k0");
    cr_expect_not(has("k0"));
    cr_expect_not(evinfo[0].fetched);
    cr_expect_eq(evinfo[0].exptime - evinfo[0].now, 60);
    cr_expect_eq(evinfo[0].nbytes, VLEN);
    cr_expect_gt(evinfo[0].clsid, 0);
    /* uninstalled: no more calls */
    store_set_evict_hook(NULL);
    for (int j = i; j < i + 10; j++) {
        snprintf(key, sizeof(key), "k%d", j);
        cr_assert_eq(put(key, 0, VLEN), STORE_OK);
    }
    cr_expect_eq(nevicted, 1);
    cr_expect_gt(ts.evictions, 1);
}

Test(watch_hook, lookup_record_of_link_delete_arith, .fini = fini)
{
    store_test_start(store_test_opts(4u << 20, 8), &ts, 100);
    struct store_lookup l;
    store_trace_lookups(true);
    cr_assert_eq(put("a", 0, 10), STORE_OK);
    store_last_lookup(&l);
    cr_expect_not(l.found);
    cr_assert_eq(put("a", 0, 20), STORE_OK);
    store_last_lookup(&l);
    cr_expect(l.found);
    cr_expect_eq(l.nbytes, 10);
    cr_expect_gt(l.clsid, 0);
    struct store_arith_out out;
    cr_expect_eq(store_arith("a", 1, &(struct store_arith_opts){.delta = 1}, &out, &ts), STORE_NON_NUMERIC);
    store_last_lookup(&l);
    cr_expect(l.found);
    cr_expect_eq(l.nbytes, 20);
    cr_expect_eq(store_delete("a", 1, NULL, &ts), STORE_OK);
    store_last_lookup(&l);
    cr_expect(l.found);
    cr_expect_eq(l.nbytes, 20);
    cr_expect_eq(store_delete("a", 1, NULL, &ts), STORE_NOT_FOUND);
    store_last_lookup(&l);
    cr_expect_not(l.found);
    /* an expired item is not found */
    cr_assert_eq(put("e", 101, 5), STORE_OK);
    store_clock_set(200);
    cr_expect_eq(store_delete("e", 1, NULL, &ts), STORE_NOT_FOUND);
    store_last_lookup(&l);
    cr_expect_not(l.found);
    /* off: nothing recorded */
    store_trace_lookups(false);
    cr_assert_eq(put("b", 0, 7), STORE_OK);
    cr_assert_eq(put("b", 0, 7), STORE_OK);
    store_last_lookup(&l);
    cr_expect_not(l.found);
}
