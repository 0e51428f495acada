/* test_meta_store.c - the meta commands' options of the store operations
 * (store_get.c, store_link.c, store_delete.c, store_arith.c):
 * vivify, recache and stale win tokens, invalidating sets and deletes,
 * ma with auto-create, me's peek; and exactly one winner under threads. */
#include "config.h"

#include "store/store.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>

#include "tests/unit/store/fixture.h"

static struct store_tstats ts;

static void
init(void)
{
    store_test_start(store_test_opts(16u << 20, 8), &ts, 100);
}

TestSuite(meta_store, .init = init, .fini = fini);

static uint64_t
put(const char *key, const char *val, rel_time_t exp)
{
    enum store_status st;
    uint64_t cas = 0;
    struct item *it = store_alloc(key, strlen(key), 0, exp, (uint32_t)strlen(val), &ts, &st);
    cr_assert_not_null(it);
    memcpy(item_data(it), val, strlen(val));
    struct store_link_out out;
    cr_assert_eq(store_link(it, NULL, &out, &ts), STORE_OK);
    cas = out.cas;
    item_release(it);
    return cas;
}

/* mg: store_get() with o's flags as a meta get */
static struct item *
mget(const char *key, const struct store_get_opts *o, struct store_get_info *info)
{
    struct store_get_opts m = *o;
    m.kind = STORE_GET_META;
    return store_get(key, strlen(key), &m, info, &ts);
}

/* ms: *cas (may be NULL) gets the stored item's CAS, *size the size */
static enum store_status
mlink(struct item *it, const struct store_link_opts *o, uint64_t *cas, uint32_t *size)
{
    struct store_link_out out = {0};
    enum store_status st = store_link(it, o, &out, &ts);
    if (st == STORE_OK && cas != NULL)
        *cas = out.cas;
    *size = out.size;
    return st;
}

static enum store_status
mdel(const char *key, const struct store_delete_opts *o)
{
    return store_delete(key, strlen(key), o, &ts);
}

/* ma: the outputs as store_arith_out's fields (may be NULL) */
static enum store_status
marith(const char *key, const struct store_arith_opts *o, uint64_t *v, uint64_t *cas, rel_time_t *exp,
       bool *created)
{
    struct store_arith_out out = {0};
    enum store_status st = store_arith(key, strlen(key), o, &out, &ts);
    *created = out.created;
    if (st == STORE_OK) {
        *v = out.value;
        if (cas != NULL)
            *cas = out.cas;
        if (exp != NULL)
            *exp = out.exptime_before;
    }
    return st;
}

Test(meta_store, miss_and_hit)
{
    struct store_get_opts o = {0};
    struct store_get_info info;
    cr_assert_null(mget("a", &o, &info));
    cr_assert_eq(ts.get_misses, 1);
    put("a", "xyz", 0);
    struct item *it = mget("a", &o, &info);
    cr_assert_not_null(it);
    cr_assert_not(info.hit_before);
    cr_assert_not(info.win);
    item_release(it);
    it = mget("a", &o, &info);
    cr_assert(info.hit_before);
    item_release(it);
}

Test(meta_store, no_bump_keeps_fetched_clear)
{
    struct store_get_opts o = {.no_bump = true};
    struct store_get_info info;
    put("u", "1", 0);
    item_release(mget("u", &o, &info));
    item_release(mget("u", &o, &info));
    cr_assert_not(info.hit_before);
}

Test(meta_store, vivify_wins_once)
{
    struct store_get_opts o = {.vivify = true, .vivify_exptime = 130};
    struct store_get_info info;
    struct item *it = mget("v", &o, &info);
    cr_assert_not_null(it);
    cr_assert(info.created);
    cr_assert(info.win);
    cr_assert_eq(item_nbytes(it), 0);
    cr_assert_eq(item_exptime(it), 130);
    item_release(it);
    it = mget("v", &o, &info);
    cr_assert_not(info.created);
    cr_assert_not(info.win);
    cr_assert(info.token_sent);
    item_release(it);
    /* a set clears the token */
    put("v", "data", 0);
    it = mget("v", &o, &info);
    cr_assert_not(info.token_sent);
    item_release(it);
}

Test(meta_store, recache_below_ttl)
{
    put("r", "1", 200);
    struct store_get_opts o = {.recache = true, .recache_time = 130};
    struct store_get_info info;
    item_release(mget("r", &o, &info));
    cr_assert_not(info.win); /* 100 s left, token 30 */
    o.recache_time = 300;
    item_release(mget("r", &o, &info));
    cr_assert(info.win);
    item_release(mget("r", &o, &info));
    cr_assert_not(info.win);
    cr_assert(info.token_sent);
    /* no TTL: never wins */
    put("r2", "1", 0);
    item_release(mget("r2", &o, &info));
    cr_assert_not(info.win);
}

Test(meta_store, touch)
{
    put("t", "1", 200);
    struct store_get_opts o = {.touch = true, .touch_exptime = 160};
    struct store_get_info info;
    struct item *it = mget("t", &o, &info);
    cr_assert_eq(info.exptime_before, 200);
    cr_assert_eq(item_exptime(it), 160);
    cr_assert_eq(ts.touch_cmds, 1);
    item_release(it);
}

Test(meta_store, invalidate_delete_then_one_winner)
{
    uint64_t cas = put("s", "old", 0);
    cr_assert_eq(mdel("s", &(struct store_delete_opts){.invalidate = true, .set_ttl = true, .exptime = 150}), STORE_OK);
    struct store_get_opts o = {0};
    struct store_get_info info;
    struct item *it = mget("s", &o, &info);
    cr_assert(info.stale);
    cr_assert(info.win);
    cr_assert_neq(item_cas(it), cas);
    cr_assert_eq(item_exptime(it), 150);
    item_release(it);
    item_release(mget("s", &o, &info));
    cr_assert(info.stale);
    cr_assert_not(info.win);
    cr_assert(info.token_sent);
    /* md I again: the next reader may win again */
    cr_assert_eq(mdel("s", &(struct store_delete_opts){.invalidate = true}), STORE_OK);
    item_release(mget("s", &o, &info));
    cr_assert(info.win);
}

Test(meta_store, delete_cas)
{
    cr_assert_eq(mdel("d", NULL), STORE_NOT_FOUND);
    put("d", "1", 0);
    cr_assert_eq(mdel("d", &(struct store_delete_opts){.has_cas = true}), STORE_EXISTS);
    cr_assert_eq(mdel("d", NULL), STORE_OK);
}

Test(meta_store, invalidating_set)
{
    put("i0", "x", 0); /* so that "i" has a CAS above 1: a CAS of 0 never matches */
    uint64_t cas = put("i", "old", 180);
    uint32_t size = 0;
    enum store_status st;
    struct item *it = store_alloc("i", 1, 0, 0, 3, &ts, &st);
    memcpy(item_data(it), "new", 3);
    struct store_link_opts lo = {.mode = STORE_CAS, .has_cas = true, .invalidate = true};
    /* a higher CAS: exists */
    lo.cas = cas + 100;
    cr_assert_eq(mlink(it, &lo, NULL, &size), STORE_EXISTS);
    /* 0 is no CAS at all: exists, as memcached 1.6.45 answers */
    lo.cas = 0;
    cr_assert_eq(mlink(it, &lo, NULL, &size), STORE_EXISTS);
    /* a lower one: stored, stale, TTL kept */
    lo.cas = cas - 1;
    cr_assert_eq(mlink(it, &lo, NULL, &size), STORE_OK);
    item_release(it);
    struct store_get_opts o = {0};
    struct store_get_info info;
    it = mget("i", &o, &info);
    cr_assert(info.stale);
    cr_assert(info.win);
    cr_assert_eq(item_exptime(it), 180);
    cr_assert_eq(memcmp(item_data(it), "new", 3), 0);
    item_release(it);
}

Test(meta_store, arith)
{
    struct store_arith_opts o = {.delta = 1};
    uint64_t v = 0, cas = 0;
    rel_time_t exp = 0;
    bool created = false;
    cr_assert_eq(marith("n", &o, &v, &cas, &exp, &created), STORE_NOT_FOUND);
    cr_assert_eq(ts.incr_misses, 1);
    o.vivify = true;
    o.initial = 42;
    o.vivify_exptime = 200;
    cr_assert_eq(marith("n", &o, &v, &cas, &exp, &created), STORE_OK);
    cr_assert_eq(v, 42);
    cr_assert(created);
    cr_assert_eq(exp, 0); /* the exptime before: none */
    cr_assert_eq(ts.incr_misses, 1);
    o.touch = true;
    o.touch_exptime = 105;
    cr_assert_eq(marith("n", &o, &v, &cas, &exp, &created), STORE_OK);
    cr_assert_eq(v, 43);
    cr_assert(!created);
    cr_assert_eq(exp, 200); /* before T */
    o.decr = true;
    o.delta = 100;
    cr_assert_eq(marith("n", &o, &v, &cas, &exp, &created), STORE_OK);
    cr_assert_eq(v, 0);
    o.cas = cas + 1;
    cr_assert_eq(marith("n", &o, &v, NULL, NULL, &created), STORE_EXISTS);
    put("nn", "abc", 0);
    o.cas = 0;
    cr_assert_eq(marith("nn", &o, &v, NULL, NULL, &created), STORE_NON_NUMERIC);
}

Test(meta_store, peek)
{
    struct store_meta_debug_info d;
    cr_assert_not(store_meta_peek("p", 1, &d));
    uint64_t cas = put("p", "12345", 150);
    cr_assert(store_meta_peek("p", 1, &d));
    cr_assert_eq(d.cas, cas);
    cr_assert_eq(d.exptime, 150);
    cr_assert_not(d.fetched);
    cr_assert_gt(d.size, 5);
    cr_assert_gt(d.cls, 0);
}

#define RACERS 16
static atomic_int winners;
static atomic_int go;

static void *
racer(void *arg)
{
    struct store_tstats *mine = arg;
    struct store_get_opts o = {.kind = STORE_GET_META, .vivify = true, .vivify_exptime = 0};
    struct store_get_info info;
    while (!atomic_load(&go))
        ;
    struct item *it = store_get("race", 4, &o, &info, mine);
    if (it != NULL) {
        if (info.win)
            atomic_fetch_add(&winners, 1);
        item_release(it);
    }
    return NULL;
}

Test(meta_store, exactly_one_winner_under_threads)
{
    for (int round = 0; round < 50; round++) {
        pthread_t th[RACERS];
        static struct store_tstats per[RACERS];
        atomic_store(&winners, 0);
        atomic_store(&go, 0);
        mdel("race", NULL);
        for (int i = 0; i < RACERS; i++)
            pthread_create(&th[i], NULL, racer, &per[i]);
        atomic_store(&go, 1);
        for (int i = 0; i < RACERS; i++)
            pthread_join(th[i], NULL);
        cr_assert_eq(atomic_load(&winners), 1, "round %d", round);
    }
}

/* md x: the key stays, with an empty value, flags 0 and T's exptime; E sets the CAS. */
Test(meta_store, delete_remove_value)
{
    put("x", "abc", 180);
    struct store_delete_opts o = {.remove_value = true, .set_ttl = true, .exptime = 150,
                                       .has_new_cas = true, .new_cas = 77, .flags = 3};
    cr_assert_eq(mdel("x", &o), STORE_OK);
    struct store_get_opts g = {0};
    struct store_get_info info;
    struct item *it = mget("x", &g, &info);
    cr_assert_not_null(it);
    cr_assert_eq(item_nbytes(it), 0);
    cr_assert_eq(item_flags(it), 3);
    cr_assert_eq(item_exptime(it), 150);
    cr_assert_eq(item_cas(it), 77);
    item_release(it);
}

/* ms MA N: an append on a miss stores the value with N's exptime; E gives the CAS; size is the whole. */
Test(meta_store, append_vivify_and_new_cas)
{
    enum store_status st;
    uint32_t size = 0;
    uint64_t cas = 0;
    struct item *it = store_alloc("ap", 2, 0, 0, 2, &ts, &st);
    memcpy(item_data(it), "ab", 2);
    struct store_link_opts o = {.mode = STORE_APPEND};
    cr_assert_eq(mlink(it, &o, &cas, &size), STORE_NOT_STORED);
    o.vivify = true;
    o.vivify_exptime = 160;
    o.has_new_cas = true;
    o.new_cas = 500;
    cr_assert_eq(mlink(it, &o, &cas, &size), STORE_OK);
    cr_assert_eq(cas, 500);
    cr_assert_eq(size, 2);
    item_release(it);
    it = store_alloc("ap", 2, 0, 0, 1, &ts, &st);
    memcpy(item_data(it), "c", 1);
    o.has_new_cas = false;
    cr_assert_eq(mlink(it, &o, &cas, &size), STORE_OK);
    cr_assert_eq(size, 3);
    item_release(it);
    struct store_get_opts g = {0};
    struct store_get_info info;
    it = mget("ap", &g, &info);
    cr_assert_eq(memcmp(item_data(it), "abc", 3), 0);
    cr_assert_eq(item_exptime(it), 160);
    item_release(it);
}

/* b: the "key is binary" bit survives linking (it shares `state` with the stripe). */
Test(meta_store, key_binary_bit)
{
    enum store_status st;
    uint32_t size = 0;
    struct item *it = store_alloc("kb", 2, 0, 0, 1, &ts, &st);
    memcpy(item_data(it), "a", 1);
    cr_assert_not(item_key_binary(it));
    item_set_key_binary(it);
    struct store_link_opts o = {.mode = STORE_SET};
    cr_assert_eq(mlink(it, &o, NULL, &size), STORE_OK);
    item_release(it);
    struct store_get_opts g = {0};
    struct store_get_info info;
    it = mget("kb", &g, &info);
    cr_assert(item_key_binary(it));
    item_release(it);
    /* an append takes the kind of the appending request's key */
    it = store_alloc("kb", 2, 0, 0, 1, &ts, &st);
    memcpy(item_data(it), "b", 1);
    item_set_key_binary(it);
    o.mode = STORE_APPEND;
    cr_assert_eq(mlink(it, &o, NULL, &size), STORE_OK);
    item_release(it);
    it = mget("kb", &g, &info);
    cr_assert(item_key_binary(it));
    cr_assert_eq(item_nbytes(it), 2);
    item_release(it);
    it = store_alloc("kb", 2, 0, 0, 1, &ts, &st);
    memcpy(item_data(it), "c", 1);
    cr_assert_eq(mlink(it, &o, NULL, &size), STORE_OK);
    item_release(it);
    it = mget("kb", &g, &info);
    cr_assert_not(item_key_binary(it));
    cr_assert_eq(item_nbytes(it), 3);
    item_release(it);
    put("plain", "x", 0);
    it = mget("plain", &g, &info);
    cr_assert_not(item_key_binary(it));
    item_release(it);
}

/* md I while a reader holds the item (a GET still sending it): the
 * reader's item keeps the CAS it had, since that reader reads it without
 * any lock; the key now names a stale copy with a new CAS, the same value,
 * TTL and fetched bit. (md I used to rewrite the held item's CAS in place.) */
Test(meta_store, invalidate_leaves_a_held_item_alone)
{
    uint64_t cas = put("h", "held", 500);
    struct store_get_opts o = {0};
    struct store_get_info info;
    struct item *held = mget("h", &o, &info);
    cr_assert_not_null(held);
    cr_assert_eq(mdel("h", &(struct store_delete_opts){.invalidate = true}), STORE_OK);
    cr_expect_eq(item_cas(held), cas);
    struct item *now = mget("h", &o, &info);
    cr_assert_not_null(now);
    cr_expect_neq(now, held);
    cr_expect_gt(item_cas(now), cas);
    cr_expect(info.stale);
    cr_expect(info.hit_before);
    cr_expect_eq(item_exptime(now), 500);
    cr_expect_eq(memcmp(item_data(now), "held", 4), 0);
    item_release(now);
    item_release(held);
    /* nobody holds it now: rewritten in place */
    now = mget("h", &o, &info);
    uint64_t before = item_cas(now);
    item_release(now);
    cr_assert_eq(mdel("h", &(struct store_delete_opts){.invalidate = true}), STORE_OK);
    now = mget("h", &o, &info);
    cr_expect_gt(item_cas(now), before);
    item_release(now);
}
