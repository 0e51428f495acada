/*
 * test_seg_engine.c - the segment engine (store/seg/seg_engine.h) against
 * store.h's semantics: the cases of test_store.c and test_meta_store.c
 * that apply, each run on both engines through one table of functions
 * (suite `slab` and suite `seg`, the same body), then the engine's own:
 * exact expiry, touch in place and by copy, flush_all (with a delay),
 * flush_prefix and its retirement walk, -C, -M, eviction counters, the
 * too-large boundary, unlinked items given back, the atime rule.
 */
#include "config.h"

#include "store/store.h"
#include "store/seg/seg_engine.h"
#include "store/seg/seg_internal.h"
#include "store/prefix.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/store/fixture.h"

/* ---- one table per engine ---- */

struct engine {
    const char *name;
    int (*setup)(const struct store_options *);
    void (*teardown)(void);
    struct item *(*alloc)(const char *, size_t, uint32_t, rel_time_t, uint32_t, struct store_tstats *,
                          enum store_status *);
    struct item *(*get)(const char *, size_t, const struct store_get_opts *, struct store_get_info *,
                        struct store_tstats *);
    enum store_status (*link)(struct item *, const struct store_link_opts *, struct store_link_out *,
                              struct store_tstats *);
    enum store_status (*del)(const char *, size_t, const struct store_delete_opts *, struct store_tstats *);
    enum store_status (*arith)(const char *, size_t, const struct store_arith_opts *, struct store_arith_out *,
                               struct store_tstats *);
    bool (*peek)(const char *, size_t, struct store_meta_debug_info *);
    void (*info)(struct store_info *);
    size_t (*max_value_len)(size_t);
    const char *(*key)(const struct item *);
    char *(*data)(struct item *);
    uint32_t (*nbytes)(const struct item *);
    uint32_t (*flags)(const struct item *);
    uint64_t (*cas)(const struct item *);
    rel_time_t (*exptime)(const struct item *);
    rel_time_t (*atime)(const struct item *);
    unsigned (*cls)(const struct item *);
    void (*release)(struct item *);
    bool (*key_binary)(const struct item *);
    void (*set_key_binary)(struct item *);
    int (*flush_prefix)(const char *, size_t);
};

static const struct engine slab_engine = {
    "slab", store_setup, store_teardown, store_alloc, store_get, store_link, store_delete, store_arith,
    store_meta_peek, store_info, store_max_value_len, item_key, item_data, item_nbytes, item_flags, item_cas,
    item_exptime, item_atime, item_class, item_release, item_key_binary, item_set_key_binary, store_flush_prefix,
};

static const struct engine seg_engine = {
    "seg", seg_engine_setup, seg_engine_teardown, seg_engine_alloc, seg_engine_get, seg_engine_link,
    seg_engine_delete, seg_engine_arith, seg_engine_meta_peek, seg_engine_info, seg_engine_max_value_len,
    seg_engine_item_key, seg_engine_item_data, seg_engine_item_nbytes, seg_engine_item_flags, seg_engine_item_cas,
    seg_engine_item_exptime, seg_engine_item_atime, seg_engine_item_class, seg_engine_item_release,
    seg_engine_item_key_binary, seg_engine_item_set_key_binary, seg_engine_flush_prefix,
};

static const struct engine *E;
static struct store_tstats ts;

/* the ported bodies call store.h's names: they go to the engine under test */
#define store_alloc(...) E->alloc(__VA_ARGS__)
#define store_get(...) E->get(__VA_ARGS__)
#define store_link(...) E->link(__VA_ARGS__)
#define store_delete(...) E->del(__VA_ARGS__)
#define store_arith(...) E->arith(__VA_ARGS__)
#define store_meta_peek(...) E->peek(__VA_ARGS__)
#define store_info(...) E->info(__VA_ARGS__)
#define store_max_value_len(...) E->max_value_len(__VA_ARGS__)
#define item_key(...) E->key(__VA_ARGS__)
#define item_data(...) E->data(__VA_ARGS__)
#define item_nbytes(...) E->nbytes(__VA_ARGS__)
#define item_flags(...) E->flags(__VA_ARGS__)
#define item_cas(...) E->cas(__VA_ARGS__)
#define item_exptime(...) E->exptime(__VA_ARGS__)
#define item_atime(...) E->atime(__VA_ARGS__)
#define item_class(...) E->cls(__VA_ARGS__)
#define item_release(...) E->release(__VA_ARGS__)
#define item_key_binary(...) E->key_binary(__VA_ARGS__)
#define item_set_key_binary(...) E->set_key_binary(__VA_ARGS__)
#define store_flush_prefix(...) E->flush_prefix(__VA_ARGS__)

static void
start_with(const struct engine *e, struct store_options o)
{
    E = e;
    memset(&ts, 0, sizeof(ts));
    cr_assert_eq(E->setup(&o), 0, "%s setup", E->name);
    store_clock_set(100);
}

static void
stop(void)
{
    E->teardown();
}

static void
init_slab(void)
{
    start_with(&slab_engine, store_test_opts(16u << 20, 8));
}

static void
init_seg(void)
{
    start_with(&seg_engine, store_test_opts(64u << 20, 8)); /* 1 MB a thread per TTL in use: room for the racers */
}

TestSuite(slab, .init = init_slab, .fini = stop);
TestSuite(seg, .init = init_seg, .fini = stop);
TestSuite(seg_own, .fini = stop); /* each test starts its own */

/* One body, a test in each suite. */
#define BOTH(name)                                                                                                 \
    static void name##_body(void);                                                                                 \
    Test(slab, name)                                                                                               \
    {                                                                                                              \
        name##_body();                                                                                             \
    }                                                                                                              \
    Test(seg, name)                                                                                                \
    {                                                                                                              \
        name##_body();                                                                                             \
    }                                                                                                              \
    static void name##_body(void)

/* ---- helpers (test_store.c's and test_meta_store.c's) ---- */

static enum store_status
link_full(const char *key, const char *val, uint32_t flags, rel_time_t exp, enum store_mode mode, uint64_t cas,
          uint64_t *cas_out)
{
    enum store_status st;
    struct item *it = store_alloc(key, strlen(key), flags, exp, (uint32_t)strlen(val), &ts, &st);
    cr_assert_not_null(it);
    memcpy(item_data(it), val, strlen(val));
    struct store_link_opts o = {.mode = mode, .cas = cas};
    struct store_link_out out;
    st = store_link(it, &o, &out, &ts);
    if (st == STORE_OK && cas_out != NULL)
        *cas_out = out.cas;
    item_release(it);
    return st;
}

static enum store_status
put_mode(const char *key, const char *val, enum store_mode mode)
{
    return link_full(key, val, 0, 0, mode, 0, NULL);
}

static uint64_t
put(const char *key, const char *val, rel_time_t exp)
{
    uint64_t cas = 0;
    cr_assert_eq(link_full(key, val, 0, exp, STORE_SET, 0, &cas), STORE_OK);
    return cas;
}

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

static struct item *
mget(const char *key, const struct store_get_opts *o, struct store_get_info *info)
{
    struct store_get_opts m = *o;
    m.kind = STORE_GET_META;
    return store_get(key, strlen(key), &m, info, &ts);
}

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

/* ---- ported from test_store.c ---- */

BOTH(set_get_replace_value)
{
    cr_expect_null(get("k"));
    cr_expect_eq(put_mode("k", "one", STORE_SET), STORE_OK);
    cr_expect_str_eq(get("k"), "one");
    cr_expect_eq(put_mode("k", "two", STORE_SET), STORE_OK);
    cr_expect_str_eq(get("k"), "two");
    cr_expect_eq(atomic_load(&ts.total_items), 2);
    cr_expect_eq(atomic_load(&ts.get_misses), 1);
    cr_expect_eq(atomic_load(&ts.get_cmds), 3);
    struct store_info si;
    store_info(&si);
    cr_expect_eq(si.curr_items, 1);
    /* bytes: each engine's own item size (slab: 36-byte header + key +
     * value; segments: 12 + 1 + 3, 8-aligned) */
    cr_expect_eq(si.bytes, E == &slab_engine ? 36 + 1 + 3 : 16);
}

BOTH(add)
{
    cr_expect_eq(put_mode("k", "a", STORE_ADD), STORE_OK);
    cr_expect_eq(put_mode("k", "b", STORE_ADD), STORE_NOT_STORED);
    cr_expect_str_eq(get("k"), "a");
    cr_expect_eq(link_full("e", "x", 0, 110, STORE_SET, 0, NULL), STORE_OK);
    store_clock_set(110);
    cr_expect_eq(put_mode("e", "y", STORE_ADD), STORE_OK);
    cr_expect_str_eq(get("e"), "y");
}

BOTH(replace)
{
    cr_expect_eq(put_mode("k", "a", STORE_REPLACE), STORE_NOT_STORED);
    cr_expect_null(get("k"));
    put_mode("k", "a", STORE_SET);
    cr_expect_eq(put_mode("k", "b", STORE_REPLACE), STORE_OK);
    cr_expect_str_eq(get("k"), "b");
}

BOTH(append_prepend_keep_flags_and_exptime)
{
    cr_expect_eq(put_mode("k", "x", STORE_APPEND), STORE_NOT_STORED);
    cr_expect_eq(put_mode("k", "x", STORE_PREPEND), STORE_NOT_STORED);
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
    cr_expect_eq(link_full("k", "!", 0, 0, STORE_APPEND, 1, NULL), STORE_EXISTS);
    cr_expect_eq(link_full("k", "!", 0, 0, STORE_APPEND, cas_of("k"), NULL), STORE_OK);
    cr_expect_str_eq(get("k"), "premidEND!");
    struct store_info si;
    store_info(&si);
    cr_expect_eq(si.curr_items, 1);
}

BOTH(cas_mode)
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

BOTH(delete_with_cas)
{
    cr_expect_eq(store_delete("k", 1, NULL, &ts), STORE_NOT_FOUND);
    cr_expect_eq(atomic_load(&ts.delete_misses), 1);
    uint64_t c;
    link_full("k", "v", 0, 0, STORE_SET, 0, &c);
    cr_expect_eq(store_delete("k", 1, &(struct store_delete_opts){.cas = c + 7}, &ts), STORE_EXISTS);
    cr_expect_str_eq(get("k"), "v");
    cr_expect_eq(store_delete("k", 1, &(struct store_delete_opts){.cas = c}, &ts), STORE_OK);
    cr_expect_null(get("k"));
    put_mode("k", "v", STORE_SET);
    cr_expect_eq(store_delete("k", 1, NULL, &ts), STORE_OK);
    cr_expect_eq(store_delete("k", 1, NULL, &ts), STORE_NOT_FOUND);
}

BOTH(arith_basic_and_wrap)
{
    uint64_t r = 0;
    cr_expect_eq(arith("n", true, 1, &r), STORE_NOT_FOUND);
    cr_expect_eq(atomic_load(&ts.incr_misses), 1);
    cr_expect_eq(arith("n", false, 1, &r), STORE_NOT_FOUND);
    cr_expect_eq(atomic_load(&ts.decr_misses), 1);
    put_mode("n", "12", STORE_SET);
    cr_expect_eq(arith("n", true, UINT64_MAX, &r), STORE_OK);
    cr_expect_eq(r, 11);
    cr_expect_str_eq(get("n"), "11");
    put_mode("m", "18446744073709551615", STORE_SET);
    cr_expect_eq(arith("m", true, 2, &r), STORE_OK);
    cr_expect_eq(r, 1);
    cr_expect_str_eq(get("m"), "1                   ");
}

BOTH(arith_decr_floor_and_padding)
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

BOTH(arith_grows)
{
    uint64_t r = 0;
    put_mode("n", "99", STORE_SET);
    cr_expect_eq(arith("n", true, 1, &r), STORE_OK);
    cr_expect_eq(r, 100);
    cr_expect_str_eq(get("n"), "100");
    put_mode("n", "9", STORE_SET);
    cr_expect_eq(arith("n", true, 1, &r), STORE_OK);
    cr_expect_str_eq(get("n"), "10");
    struct store_info si;
    store_info(&si);
    cr_expect_eq(si.curr_items, 1);
}

BOTH(arith_parsing_like_memcached)
{
    uint64_t r = 0;
    const char *bad[] = {"12abc", "", "  ", "-1", "18446744073709551616", "abc", "1.5"};
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        put_mode("n", bad[i], STORE_SET);
        cr_expect_eq(arith("n", true, 1, &r), STORE_NON_NUMERIC, "'%s'", bad[i]);
    }
    struct {
        const char *v;
        uint64_t want;
    } ok[] = {
        {" 12", 13}, {"12 ", 13}, {"12 abc", 13}, {"+5", 6}, {"-0", 1}, {"\t3", 4},
        {"00000000000000000000000000000000000000007", 8}, {"18446744073709551614", UINT64_MAX},
    };
    for (unsigned i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        put_mode("n", ok[i].v, STORE_SET);
        cr_expect_eq(arith("n", true, 1, &r), STORE_OK, "'%s'", ok[i].v);
        cr_expect_eq(r, ok[i].want, "'%s'", ok[i].v);
    }
}

BOTH(arith_with_cas)
{
    uint64_t r = 0, c;
    link_full("n", "5", 0, 0, STORE_SET, 0, &c);
    cr_expect_eq(arith_cas("n", true, 1, c + 1, &r, NULL), STORE_EXISTS);
    cr_expect_eq(arith_cas("n", true, 1, c, &r, NULL), STORE_OK);
    cr_expect_eq(r, 6);
}

BOTH(touch_and_gat)
{
    put_mode("k", "v", STORE_SET);
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

/* ---- ported from test_meta_store.c ---- */

BOTH(meta_miss_and_hit)
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

BOTH(meta_no_bump_keeps_fetched_clear)
{
    struct store_get_opts o = {.no_bump = true};
    struct store_get_info info;
    put("u", "1", 0);
    item_release(mget("u", &o, &info));
    item_release(mget("u", &o, &info));
    cr_assert_not(info.hit_before);
}

BOTH(meta_vivify_wins_once)
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
    put("v", "data", 0);
    it = mget("v", &o, &info);
    cr_assert_not(info.token_sent);
    item_release(it);
}

BOTH(meta_recache_below_ttl)
{
    put("r", "1", 200);
    struct store_get_opts o = {.recache = true, .recache_time = 130};
    struct store_get_info info;
    item_release(mget("r", &o, &info));
    cr_assert_not(info.win);
    o.recache_time = 300;
    item_release(mget("r", &o, &info));
    cr_assert(info.win);
    item_release(mget("r", &o, &info));
    cr_assert_not(info.win);
    cr_assert(info.token_sent);
    put("r2", "1", 0);
    item_release(mget("r2", &o, &info));
    cr_assert_not(info.win);
}

BOTH(meta_touch)
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

BOTH(meta_invalidate_delete_then_one_winner)
{
    uint64_t cas = put("s", "old", 0);
    cr_assert_eq(mdel("s", &(struct store_delete_opts){.invalidate = true, .set_ttl = true, .exptime = 150}),
                 STORE_OK);
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
    cr_assert_eq(mdel("s", &(struct store_delete_opts){.invalidate = true}), STORE_OK);
    item_release(mget("s", &o, &info));
    cr_assert(info.win);
}

BOTH(meta_delete_cas)
{
    cr_assert_eq(mdel("d", NULL), STORE_NOT_FOUND);
    put("d", "1", 0);
    cr_assert_eq(mdel("d", &(struct store_delete_opts){.has_cas = true}), STORE_EXISTS);
    cr_assert_eq(mdel("d", NULL), STORE_OK);
}

BOTH(meta_invalidating_set)
{
    put("i0", "x", 0);
    uint64_t cas = put("i", "old", 180);
    uint32_t size = 0;
    enum store_status st;
    struct item *it = store_alloc("i", 1, 0, 0, 3, &ts, &st);
    memcpy(item_data(it), "new", 3);
    struct store_link_opts lo = {.mode = STORE_CAS, .has_cas = true, .invalidate = true};
    lo.cas = cas + 100;
    cr_assert_eq(mlink(it, &lo, NULL, &size), STORE_EXISTS);
    lo.cas = 0;
    cr_assert_eq(mlink(it, &lo, NULL, &size), STORE_EXISTS);
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

BOTH(meta_arith)
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
    cr_assert_eq(exp, 0);
    cr_assert_eq(ts.incr_misses, 1);
    o.touch = true;
    o.touch_exptime = 105;
    cr_assert_eq(marith("n", &o, &v, &cas, &exp, &created), STORE_OK);
    cr_assert_eq(v, 43);
    cr_assert(!created);
    cr_assert_eq(exp, 200);
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

BOTH(meta_peek)
{
    struct store_meta_debug_info d;
    cr_assert_not(store_meta_peek("p", 1, &d));
    uint64_t cas = put("p", "12345", 150);
    cr_assert(store_meta_peek("p", 1, &d));
    cr_assert_eq(d.cas, cas);
    cr_assert_eq(d.exptime, 150);
    cr_assert_not(d.fetched);
    cr_assert_eq(d.size, 36 + 1 + 5); /* the slab store's figure on both */
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

BOTH(meta_exactly_one_winner_under_threads)
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

BOTH(meta_delete_remove_value)
{
    put("x", "abc", 180);
    struct store_delete_opts o = {.remove_value = true, .set_ttl = true, .exptime = 150, .has_new_cas = true,
                                  .new_cas = 77, .flags = 3};
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

BOTH(meta_append_vivify_and_new_cas)
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

BOTH(meta_key_binary_bit)
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

BOTH(meta_invalidate_leaves_a_held_item_alone)
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
    now = mget("h", &o, &info);
    uint64_t before = item_cas(now);
    item_release(now);
    cr_assert_eq(mdel("h", &(struct store_delete_opts){.invalidate = true}), STORE_OK);
    now = mget("h", &o, &info);
    cr_expect_gt(item_cas(now), before);
    item_release(now);
}

/* ---- the same answers, step by step, on both engines ---- */

/* CAS values as memcached hands them out: 2, 3, ... one per store command,
 * stored or not; none with E; one per incr, md I. */
BOTH(cas_sequence_like_memcached)
{
    cr_expect_eq(put("a", "1", 0), 2);
    cr_expect_eq(put_mode("a", "x", STORE_ADD), STORE_NOT_STORED); /* draws 3 */
    cr_expect_eq(put("b", "1", 0), 4);
    uint64_t r, c;
    cr_expect_eq(arith_cas("a", true, 1, 0, &r, &c), STORE_OK);
    cr_expect_eq(c, 5);
    cr_expect_eq(mdel("b", &(struct store_delete_opts){.invalidate = true}), STORE_OK);
    cr_expect_eq(cas_of("b"), 6);
    enum store_status st;
    struct item *it = store_alloc("e", 1, 0, 0, 1, &ts, &st);
    memcpy(item_data(it), "e", 1);
    uint32_t size;
    uint64_t ec = 0;
    cr_expect_eq(mlink(it, &(struct store_link_opts){.has_new_cas = true, .new_cas = 1000}, &ec, &size), STORE_OK);
    item_release(it);
    cr_expect_eq(ec, 1000);
    cr_expect_eq(put("f", "1", 0), 7);
    cr_expect_eq(cas_of("e"), 1000);
}

/* mg's `l` and `h`: atime moves only when over 60 s old; fetched. */
BOTH(atime_rule_and_fetched)
{
    put("k", "v", 0);
    struct store_get_opts o = {0};
    struct store_get_info info;
    store_clock_set(150);
    item_release(mget("k", &o, &info));
    cr_expect_eq(info.atime_before, 100);
    cr_expect_not(info.hit_before);
    store_clock_set(161);
    item_release(mget("k", &o, &info));
    cr_expect_eq(info.atime_before, 100); /* 150 was within 60 s */
    cr_expect(info.hit_before);
    item_release(mget("k", &o, &info));
    cr_expect_eq(info.atime_before, 161);
}

/* flush_all: now, with a delay, and a set after it survives */
BOTH(flush_all_and_delay)
{
    put("a", "1", 0);
    put("b", "1", 0);
    store_flush(store_clock_now());
    cr_expect_null(get("a"));
    put("c", "1", 0); /* the same second: survives */
    cr_expect_str_eq(get("c"), "1");
    cr_expect_null(get("b"));
    store_flush_delay(5); /* from 104 on, what was last accessed at or before 104 */
    put("d", "1", 0);
    cr_expect_str_eq(get("d"), "1");
    store_clock_set(103);
    cr_expect_str_eq(get("d"), "1");
    store_clock_set(104);
    cr_expect_null(get("d"));
    cr_expect_null(get("c"));
    /* E's CAS items follow the flush generation */
    store_clock_set(200);
    enum store_status st;
    struct item *it = store_alloc("e", 1, 0, 0, 1, &ts, &st);
    memcpy(item_data(it), "e", 1);
    uint32_t size;
    cr_expect_eq(mlink(it, &(struct store_link_opts){.has_new_cas = true, .new_cas = 3}, NULL, &size), STORE_OK);
    item_release(it);
    cr_expect_str_eq(get("e"), "e");
    store_flush(0);
    cr_expect_null(get("e"));
}

/* flush_prefix hides exactly the keys linked before it with the prefix */
BOTH(flush_prefix_hides)
{
    put("user:1", "a", 0);
    put("user:2", "b", 0);
    put("other", "c", 0);
    cr_expect_eq(store_flush_prefix("user:", 5), 0);
    cr_expect_null(get("user:1"));
    cr_expect_str_eq(get("other"), "c");
    put("user:3", "d", 0);
    cr_expect_str_eq(get("user:3"), "d");
    cr_expect_eq(store_delete("user:2", 6, NULL, &ts), STORE_NOT_FOUND);
    uint64_t r;
    put("user:n", "5", 0);
    cr_expect_eq(store_flush_prefix("user:n", 6), 0);
    cr_expect_eq(arith("user:n", true, 1, &r), STORE_NOT_FOUND);
}

/* ---- the engine's own ---- */

static struct store_options
opts(size_t mem, bool use_cas, bool evict)
{
    struct store_options o = store_test_opts(mem, 8);
    o.use_cas = use_cas;
    o.evict_to_free = evict;
    return o;
}

/* exact exptime: never early, never late, through the engine */
Test(seg, expiry_exact_per_item)
{
    put("a", "1", 700);
    store_clock_set(136);
    put("b", "1", 736);
    store_clock_set(699);
    cr_expect_str_eq(get("a"), "1");
    cr_expect_eq(seg_engine_maintain(), 0);
    store_clock_set(700);
    cr_expect_null(get("a"));
    cr_expect_eq(atomic_load(&ts.get_expired), 1);
    cr_expect_str_eq(get("b"), "1");
    store_clock_set(736);
    cr_expect_null(get("b"));
}

/* the maintainer frees a segment once all its items passed, counting the
 * unfetched ones */
Test(seg, maintain_reclaims_expired_segments)
{
    for (int i = 0; i < 10; i++) {
        char k[8];
        snprintf(k, sizeof(k), "k%d", i);
        put(k, "v", 110);
    }
    get("k0");
    seg_engine_thread_release(); /* this thread's active segments sealed */
    store_clock_set(109);
    cr_expect_eq(seg_engine_maintain(), 0);
    store_clock_set(110);
    cr_expect_eq(seg_engine_maintain(), 10);
    struct store_class_info ci;
    cr_assert(seg_engine_class_info(1, &ci));
    cr_expect_eq(ci.expired_unfetched, 9);
    cr_expect_eq(ci.crawler_reclaimed, 10);
    struct store_info si;
    store_info(&si);
    cr_expect_eq(si.curr_items, 0);
    cr_expect_eq(si.expired_reclaimed, 10);
}

/* touch in place (the segment expires no earlier) and by copy (it would) */
Test(seg, touch_in_place_and_by_copy)
{
    uint64_t c = put("k", "v", 700);
    struct store_get_opts t = {.kind = STORE_GET_TOUCH, .touch = true, .touch_exptime = 400};
    struct item *it = store_get("k", 1, &t, NULL, &ts);
    cr_assert_not_null(it);
    const void *p = it;
    item_release(it);
    t.touch_exptime = 5000; /* beyond the segment's: a copy, CAS kept */
    it = store_get("k", 1, &t, NULL, &ts);
    cr_assert_not_null(it);
    cr_expect_neq(it, p);
    cr_expect_eq(item_exptime(it), 5000);
    cr_expect_eq(item_cas(it), c);
    item_release(it);
    t.touch_exptime = 0; /* no word for "never" in a TTL bucket's segment: a copy */
    it = store_get("k", 1, &t, NULL, &ts);
    cr_expect_eq(item_exptime(it), 0);
    cr_expect_eq(item_cas(it), c);
    item_release(it);
    store_clock_set(6000);
    cr_expect_str_eq(get("k"), "v");
    struct store_info si;
    store_info(&si);
    cr_expect_eq(si.curr_items, 1);
}

/* an alloc released without a link gives its bytes back: with eviction
 * off, a store of 4 segments takes a thousand times that */
Test(seg_own, unlinked_items_do_not_leak)
{
    start_with(&seg_engine, opts(4u << 20, true, false));
    enum store_status st;
    for (int i = 0; i < 20000; i++) {
        struct item *it = store_alloc("k", 1, 0, 0, 1000, &ts, &st);
        cr_assert_not_null(it, "round %d: %d", i, st);
        item_release(it); /* dead: its segment, once sealed and all dead, is freed */
    }
    cr_expect_eq(link_full("k", "v", 0, 0, STORE_SET, 0, NULL), STORE_OK);
    struct seg_stats s;
    seg_stats(&s);
    cr_expect_eq(s.items, 1);
}

/* -M: out of memory instead of evicting */
Test(seg_own, no_eviction_under_M)
{
    start_with(&seg_engine, opts(4u << 20, true, false));
    static char v[100000];
    memset(v, 'x', sizeof(v) - 1);
    enum store_status st = STORE_OK;
    int n = 0;
    for (; n < 1000; n++) {
        char k[16];
        snprintf(k, sizeof(k), "k%d", n);
        struct item *it = store_alloc(k, strlen(k), 0, 0, sizeof(v) - 1, &ts, &st);
        if (it == NULL)
            break;
        memcpy(item_data(it), v, sizeof(v) - 1);
        cr_assert_eq(store_link(it, NULL, NULL, &ts), STORE_OK);
        item_release(it);
    }
    cr_expect_eq(st, STORE_NO_MEMORY);
    cr_expect_gt(n, 30);
    struct item *it = store_get("k0", 2, NULL, NULL, &ts);
    cr_assert_not_null(it);
    cr_expect_eq(item_nbytes(it), sizeof(v) - 1);
    item_release(it);
    cr_expect_eq(atomic_load(&ts.evictions), 0);
}

/* evictions counted per item, unfetched ones too */
Test(seg_own, evictions_counted_per_item)
{
    start_with(&seg_engine, opts(4u << 20, true, true));
    static char v[1000];
    memset(v, 'x', sizeof(v) - 1);
    for (int n = 0; n < 20000; n++) {
        char k[16];
        snprintf(k, sizeof(k), "k%d", n);
        cr_assert_eq(link_full(k, v, 0, 0, STORE_SET, 0, NULL), STORE_OK);
    }
    uint64_t ev = atomic_load(&ts.evictions);
    struct store_info si;
    store_info(&si);
    cr_expect_gt(ev, 10000);
    cr_expect_eq(ev + si.curr_items, 20000);
    cr_expect_eq(atomic_load(&ts.evicted_unfetched), ev);
    cr_expect_null(get("k0"));
    struct item *it = store_get("k19999", 6, NULL, NULL, &ts);
    cr_assert_not_null(it);
    cr_expect_eq(memcmp(item_data(it), v, sizeof(v) - 1), 0);
    item_release(it);
}

/* too large exactly where the slab store says so */
BOTH(too_large_boundary)
{
    size_t max = store_max_value_len(3);
    cr_expect_eq(max, (1u << 20) - 48 - 8 - 3 - 1 - 2);
    enum store_status st;
    struct item *it = store_alloc("big", 3, 0, 0, (uint32_t)max, &ts, &st);
    cr_assert_not_null(it);
    item_release(it);
    cr_expect_null(store_alloc("big", 3, 0, 0, (uint32_t)max + 1, &ts, &st));
    cr_expect_eq(st, STORE_TOO_LARGE);
    /* an append past it: not stored */
    it = store_alloc("big", 3, 0, 0, (uint32_t)max, &ts, &st);
    memset(item_data(it), 'a', max);
    cr_assert_eq(store_link(it, NULL, NULL, &ts), STORE_OK);
    item_release(it);
    cr_expect_eq(put_mode("big", "x", STORE_APPEND), STORE_NOT_STORED);
}

/* -C: CAS reads 0, a CAS never matches, flush_all still fences */
static void
init_slab_nocas(void)
{
    start_with(&slab_engine, opts(16u << 20, false, true));
}

static void
init_seg_nocas(void)
{
    start_with(&seg_engine, opts(16u << 20, false, true));
}

static void
no_cas_body(void)
{
    uint64_t c = 99;
    cr_expect_eq(link_full("k", "v", 0, 0, STORE_SET, 0, &c), STORE_OK);
    cr_expect_eq(c, 0);
    cr_expect_eq(cas_of("k"), 0);
    cr_expect_eq(link_full("k", "w", 0, 0, STORE_CAS, 5, NULL), STORE_EXISTS);
    cr_expect_eq(link_full("k", "w", 0, 0, STORE_SET, 5, NULL), STORE_OK); /* a CAS alone is ignored */
    uint64_t r;
    put("n", "1", 0);
    cr_expect_eq(arith("n", true, 1, &r), STORE_OK);
    store_flush(store_clock_now());
    cr_expect_null(get("k"));
    cr_expect_null(get("n"));
    put("k", "x", 0);
    cr_expect_str_eq(get("k"), "x");
    cr_expect_eq(mdel("k", &(struct store_delete_opts){.invalidate = true}), STORE_OK);
    struct store_get_opts o = {0};
    struct store_get_info info;
    item_release(mget("k", &o, &info));
    cr_expect(info.stale);
}

Test(slab_nocas, no_cas, .init = init_slab_nocas, .fini = stop)
{
    no_cas_body();
}

Test(seg_nocas, no_cas, .init = init_seg_nocas, .fini = stop)
{
    no_cas_body();
}

/* flush_prefix's retirement walks the segment index: what a retired
 * registration hid is gone for good */
Test(seg, prefix_retire_walks_the_index)
{
    put("p:1", "a", 0);
    put("q:1", "b", 0);
    cr_expect_eq(store_flush_prefix("p:", 2), 0);
    cr_expect_eq(prefix_retire(PREFIX_MAX), 1);
    cr_expect_null(get("p:1"));
    cr_expect_str_eq(get("q:1"), "b");
    struct store_info si;
    store_info(&si);
    cr_expect_eq(si.curr_items, 1);
}

/* two threads of sets, appends, incrs, touches and gets on a few keys */
#define WORKERS 2
static void *
worker(void *arg)
{
    struct store_tstats *mine = arg;
    char k[16], v[64];
    for (int i = 0; i < 20000; i++) {
        snprintf(k, sizeof(k), "k%d", i % 8);
        int op = i % 5;
        enum store_status st;
        if (op == 0) {
            snprintf(v, sizeof(v), "%d", i);
            struct item *it = E->alloc(k, strlen(k), 0, (rel_time_t)(i % 3 == 0 ? 0 : 1000 + i % 50),
                                       (uint32_t)strlen(v), mine, &st);
            if (it != NULL) {
                memcpy(E->data(it), v, strlen(v));
                E->link(it, NULL, NULL, mine);
                E->release(it);
            }
        } else if (op == 1) {
            struct item *it = E->alloc(k, strlen(k), 0, 0, 1, mine, &st);
            if (it != NULL) {
                memcpy(E->data(it), "1", 1);
                E->link(it, &(struct store_link_opts){.mode = STORE_APPEND}, NULL, mine);
                E->release(it);
            }
        } else if (op == 2) {
            E->arith(k, strlen(k), &(struct store_arith_opts){.delta = 1}, NULL, mine);
        } else if (op == 3) {
            struct store_get_opts t = {.touch = true, .touch_exptime = (rel_time_t)(i % 2 ? 0 : 2000 + i % 100)};
            struct item *it = E->get(k, strlen(k), &t, NULL, mine);
            if (it != NULL)
                E->release(it);
        } else {
            struct item *it = E->get(k, strlen(k), NULL, NULL, mine);
            if (it != NULL) {
                cr_assert_leq(E->nbytes(it), 1u << 20);
                E->release(it);
            }
        }
    }
    seg_engine_thread_release();
    return NULL;
}

Test(seg_own, threads_mixed_ops)
{
    start_with(&seg_engine, opts(4u << 20, true, true));
    pthread_t th[WORKERS];
    static struct store_tstats per[WORKERS];
    for (int i = 0; i < WORKERS; i++)
        pthread_create(&th[i], NULL, worker, &per[i]);
    for (int i = 0; i < WORKERS; i++)
        pthread_join(th[i], NULL);
    struct store_info si;
    store_info(&si);
    cr_expect_leq(si.curr_items, 8);
    cr_expect_eq(seg_engine_maintain(), 0);
}

/* an item from alloc, not linked yet, has no CAS; linked, it has one */
BOTH(unlinked_item_reads_cas_0)
{
    enum store_status st;
    struct item *it = store_alloc("u", 1, 0, 0, 1, &ts, &st);
    cr_assert_not_null(it);
    cr_expect_eq(item_cas(it), 0);
    memcpy(item_data(it), "u", 1);
    cr_assert_eq(store_link(it, NULL, NULL, &ts), STORE_OK);
    cr_expect_neq(item_cas(it), 0);
    item_release(it);
}

/* many distinct TTLs: every set stores (each TTL bucket a thread appends
 * to holds a partly filled segment: the engine rounds TTLs to powers of
 * two and seals a thread's oldest beyond a few) */
Test(seg_own, many_ttls_never_out_of_memory)
{
    start_with(&seg_engine, opts(16u << 20, true, true));
    for (int i = 1; i <= 5000; i++) {
        char k[16];
        snprintf(k, sizeof(k), "t%d", i);
        cr_assert_eq(link_full(k, "v", 0, (rel_time_t)(100 + i), STORE_SET, 0, NULL), STORE_OK, "ttl %d", i);
    }
    cr_expect_str_eq(get("t5000"), "v");
}

/* ---- dumps, crawls and watch (seg_engine.h's walks, watch_hook.h) ---- */

/* A dump in small batches lists every live item once, with its fields;
 * expired, deleted and flush_prefix-hidden ones are left out; keys
 * written and deleted between batches do not make a stable key repeat or
 * go missing (a batch may stop in the middle of a bucket's chain). */
Test(seg, dump_lists_each_live_item_once)
{
    enum { N = 600 };
    char k[32];
    for (int i = 0; i < N; i++) {
        snprintf(k, sizeof(k), "stable_%d", i);
        cr_assert_eq(link_full(k, "abc", (uint32_t)i, i % 2 ? 5000 : 0, STORE_SET, 0, NULL), STORE_OK);
    }
    for (int i = 0; i < 50; i++) {
        snprintf(k, sizeof(k), "gone_%d", i);
        put(k, "x", 150);
    }
    put("deleted", "x", 0);
    cr_assert_eq(mdel("deleted", &(struct store_delete_opts){0}), STORE_OK);
    put("hidden_1", "x", 0);
    cr_assert_eq(store_flush_prefix("hidden_", 7), 0);
    cr_assert_not_null(get("stable_3")); /* fetched */
    store_clock_set(200);

    static unsigned char seen[N];
    memset(seen, 0, sizeof(seen));
    struct seg_engine_cursor c = {0};
    struct store_dump_item out[3];
    int round = 0;
    while (!c.done) {
        size_t n = seg_engine_dump_next(&c, out, 3);
        cr_assert_leq(n, 3);
        for (size_t j = 0; j < n; j++) {
            char key[STORE_KEY_MAX + 1];
            memcpy(key, out[j].key, out[j].nkey);
            key[out[j].nkey] = '\0';
            cr_assert(strncmp(key, "stable_", 7) == 0 || strncmp(key, "churn_", 6) == 0, "listed %s", key);
            if (key[0] == 'c')
                continue;
            int i = atoi(key + 7);
            cr_assert(i >= 0 && i < N);
            seen[i]++;
            cr_expect_eq(out[j].clsid, 1);
            cr_expect_eq(out[j].flags, (uint32_t)i);
            cr_expect_eq(out[j].nbytes, 3);
            cr_expect_eq(out[j].exptime, i % 2 ? 5000u : 0u);
            cr_expect_eq(out[j].fetched, i == 3, "%s fetched", key);
            cr_expect_neq(out[j].cas, 0);
        }
        /* writers between batches: other keys come and go */
        snprintf(k, sizeof(k), "churn_%d", round % 40);
        if (round++ % 3 == 2)
            mdel(k, &(struct store_delete_opts){0});
        else
            put(k, "yy", 0);
    }
    for (int i = 0; i < N; i++)
        cr_expect_eq(seen[i], 1, "stable_%d listed %d times", i, seen[i]);
    cr_expect_eq(seg_engine_dump_next(&c, out, 3), 0);
    seg_engine_cursor_free(&c);
}

/* A dump while the index doubles (twice) under it: every key stored
 * before the dump is listed exactly once, though splits move keys to
 * buckets the walk has not reached, and from buckets it has passed */
Test(seg_own, dump_while_the_index_grows, .timeout = 60)
{
    struct store_options o = store_test_opts(64u << 20, 8);
    o.hashpower = 6; /* 16 head buckets to start */
    start_with(&seg_engine, o);
    enum { N = 300 };
    char k[32];
    for (int i = 0; i < N; i++) {
        snprintf(k, sizeof(k), "stable_%d", i);
        put(k, "abc", 0);
    }
    (void)seg_engine_maintain();
    struct store_info before;
    seg_engine_info(&before);
    static unsigned char seen[N];
    memset(seen, 0, sizeof(seen));
    struct seg_engine_cursor c = {0};
    struct store_dump_item out[2];
    int added = 0;
    while (!c.done) {
        size_t n = seg_engine_dump_next(&c, out, 2);
        for (size_t j = 0; j < n; j++) {
            if (out[j].nkey > 5 && memcmp(out[j].key, "grow_", 5) == 0)
                continue;
            char key[STORE_KEY_MAX + 1];
            memcpy(key, out[j].key, out[j].nkey);
            key[out[j].nkey] = '\0';
            cr_assert(strncmp(key, "stable_", 7) == 0, "listed %s", key);
            seen[atoi(key + 7)]++;
        }
        /* between batches: more keys, and the maintainer splits */
        for (int i = 0; i < 40 && added < 6000; i++, added++) {
            snprintf(k, sizeof(k), "grow_%d", added);
            put(k, "abc", 0);
        }
        (void)seg_engine_maintain();
    }
    seg_engine_cursor_free(&c);
    struct store_info after;
    seg_engine_info(&after);
    cr_assert_gt(after.hash_power_level, before.hash_power_level + 1, "the index grew %u -> %u",
                 (unsigned)before.hash_power_level, (unsigned)after.hash_power_level);
    for (int i = 0; i < N; i++)
        cr_expect_eq(seen[i], 1, "stable_%d listed %d times", i, seen[i]);
}

/* flush_all leaves nothing to list; a store after it is listed */
Test(seg, dump_leaves_flushed_out)
{
    put("a", "1", 0);
    put("b", "1", 0);
    seg_engine_flush(store_clock_now());
    put("after", "1", 0);
    struct seg_engine_cursor c = {0};
    struct store_dump_item out[8];
    size_t total = 0;
    while (!c.done) {
        size_t n = seg_engine_dump_next(&c, out + total, 8 - total);
        total += n;
    }
    seg_engine_cursor_free(&c);
    cr_assert_eq(total, 1);
    cr_expect_eq(out[0].nkey, 5);
    cr_expect_eq(memcmp(out[0].key, "after", 5), 0);
}

/* A crawl unlinks what expired or was flushed, counts what it looked at,
 * and stops at its budget (lru_crawler tocrawl) */
Test(seg, crawl_reclaims_dead_items)
{
    char k[32];
    for (int i = 0; i < 300; i++) {
        snprintf(k, sizeof(k), "ttl_%d", i);
        put(k, "x", i < 200 ? 150 : 0);
    }
    cr_assert_not_null(get("ttl_0"));
    store_clock_set(200);
    struct seg_engine_cursor c = {0};
    uint64_t checked = 0;
    while (!c.done)
        checked += seg_engine_crawl_next(&c, 10 - checked);
    cr_expect_eq(checked, 10);
    struct store_class_info ci;
    cr_assert(seg_engine_class_info(1, &ci));
    uint64_t first = ci.crawler_reclaimed;
    cr_expect_leq(first, 10);
    memset(&c, 0, sizeof(c));
    checked = 0;
    while (!c.done)
        checked += seg_engine_crawl_next(&c, 0);
    cr_expect_eq(checked, 300 - first);
    struct store_info si;
    store_info(&si);
    cr_assert(seg_engine_class_info(1, &ci));
    cr_expect_eq(ci.crawler_reclaimed, 200);
    cr_expect_eq(ci.expired_unfetched, 199);
    cr_expect_eq(si.curr_items, 100);
    cr_expect_eq(si.expired_reclaimed, 200);
    cr_expect_null(get("ttl_1"));
    cr_expect_str_eq(get("ttl_250"), "x");
}

/* watch: what link, delete and arith found under the key */
Test(seg, watch_records_lookups)
{
    struct store_lookup l;
    store_trace_lookups(true);
    put("k", "12345", 0);
    store_last_lookup(&l);
    cr_expect_not(l.found);
    put("k", "123", 0);
    store_last_lookup(&l);
    cr_expect(l.found);
    cr_expect_eq(l.clsid, 1);
    cr_expect_eq(l.nbytes, 5); /* the item replaced: "12345" */
    uint64_t r;
    cr_expect_eq(arith("k", true, 1, &r), STORE_OK);
    store_last_lookup(&l);
    cr_expect(l.found);
    cr_expect_eq(l.nbytes, 3);
    cr_expect_eq(mdel("nope", &(struct store_delete_opts){0}), STORE_NOT_FOUND);
    store_last_lookup(&l);
    cr_expect_not(l.found);
    cr_expect_eq(mdel("k", &(struct store_delete_opts){0}), STORE_OK);
    store_last_lookup(&l);
    cr_expect(l.found);
    store_trace_lookups(false);
}

static atomic_int evict_calls;
static atomic_int evict_bad;

static void
count_evict(const struct store_evict_info *ev)
{
    atomic_fetch_add(&evict_calls, 1);
    if (ev->nkey < 2 || ev->key[0] != 'k' || ev->clsid != 1 || ev->nbytes != 999 || ev->fetched || ev->now != 100)
        atomic_fetch_add(&evict_bad, 1);
}

/* watch: the eviction hook is called once per item a merge or FIFO drop
 * evicts, with its fields */
Test(seg_own, watch_evict_hook_per_item)
{
    start_with(&seg_engine, opts(4u << 20, true, true));
    atomic_store(&evict_calls, 0);
    atomic_store(&evict_bad, 0);
    store_set_evict_hook(count_evict);
    static char v[1000];
    memset(v, 'x', sizeof(v) - 1);
    for (int n = 0; n < 20000; n++) {
        char k[16];
        snprintf(k, sizeof(k), "k%d", n);
        cr_assert_eq(link_full(k, v, 0, 0, STORE_SET, 0, NULL), STORE_OK);
    }
    store_set_evict_hook(NULL);
    cr_expect_gt(atomic_load(&evict_calls), 10000);
    cr_expect_eq((uint64_t)atomic_load(&evict_calls), atomic_load(&ts.evictions));
    cr_expect_eq(atomic_load(&evict_bad), 0);
}

/* store_teardown() on segments stops a crawl in progress (it walks the
 * index, which goes) and starts the crawl counts again at zero, as on
 * the slab store */
Test(seg_own, teardown_stops_a_crawl)
{
    struct store_options o = opts(64u << 20, true, true);
    o.segments = true;
    start_with(&slab_engine, o); /* store_setup routes to the engine */
    for (int n = 0; n < 3000; n++) {
        char k[16];
        snprintf(k, sizeof(k), "k%d", n);
        put(k, "v", 0);
    }
    store_crawl_set_sleep(200000); /* 0.2 s between batches: seconds of crawl */
    cr_assert_eq(store_crawl_start(~UINT64_C(0)), STORE_CRAWL_OK);
    struct store_crawl_info ci;
    store_crawl_info(&ci);
    cr_assert(ci.running);
    cr_assert_eq(ci.starts, 1);
    store_teardown();
    store_crawl_info(&ci);
    cr_expect_not(ci.running);
    cr_expect_eq(ci.starts, 0);
    cr_expect_eq(ci.checked, 0);
    store_crawl_set_sleep(100);
    start_with(&seg_engine, opts(4u << 20, true, true)); /* for the suite's fini */
}

/* ---- walks racing writers (threads) ---- */

static atomic_bool walk_stop;

static void *
walk_writer(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    struct store_tstats mine;
    memset(&mine, 0, sizeof(mine));
    char k[32];
    while (!atomic_load(&walk_stop)) {
        snprintf(k, sizeof(k), "churn_%u", (unsigned)rand_r(&seed) % 3000);
        if (rand_r(&seed) % 4 == 0) {
            (void)seg_engine_delete(k, strlen(k), NULL, &mine);
            continue;
        }
        enum store_status st;
        struct item *it = seg_engine_alloc(k, strlen(k), 0, rand_r(&seed) % 2 ? 101 : 0, 20, &mine, &st);
        if (it == NULL)
            continue;
        memset(seg_engine_item_data(it), 'c', 20);
        (void)seg_engine_link(it, NULL, NULL, &mine);
        seg_engine_item_release(it);
    }
    seg_engine_thread_release();
    return NULL;
}

static void *
walk_crawler(void *arg)
{
    (void)arg;
    while (!atomic_load(&walk_stop)) {
        struct seg_engine_cursor c = {0};
        while (!c.done)
            (void)seg_engine_crawl_next(&c, 0);
    }
    return NULL;
}

/* Dumps while two writers set and delete other keys (some expiring as the
 * clock moves) and a crawler unlinks the dead: every stable key once in
 * each dump, nothing else but churn keys */
Test(seg, dump_and_crawl_race_writers, .timeout = 60)
{
    enum { N = 5000 };
    char k[32];
    for (int i = 0; i < N; i++) {
        snprintf(k, sizeof(k), "stable_%d", i);
        put(k, "s", 0);
    }
    atomic_store(&walk_stop, false);
    pthread_t th[3];
    for (uintptr_t i = 0; i < 2; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, walk_writer, (void *)(i + 1)), 0);
    cr_assert_eq(pthread_create(&th[2], NULL, walk_crawler, NULL), 0);
    static unsigned char seen[N];
    struct store_dump_item out[64];
    for (int round = 0; round < 20; round++) {
        store_clock_set(100 + (rel_time_t)round);
        memset(seen, 0, sizeof(seen));
        struct seg_engine_cursor c = {0};
        while (!c.done) {
            size_t n = seg_engine_dump_next(&c, out, 64);
            for (size_t j = 0; j < n; j++) {
                if (out[j].nkey > 7 && memcmp(out[j].key, "stable_", 7) == 0) {
                    char key[STORE_KEY_MAX + 1];
                    memcpy(key, out[j].key, out[j].nkey);
                    key[out[j].nkey] = '\0';
                    int i = atoi(key + 7);
                    cr_assert(i >= 0 && i < N);
                    seen[i]++;
                } else {
                    cr_assert(out[j].nkey > 6 && memcmp(out[j].key, "churn_", 6) == 0);
                    cr_assert(out[j].exptime == 0 || out[j].exptime > 100 + (rel_time_t)round);
                }
            }
        }
        seg_engine_cursor_free(&c);
        for (int i = 0; i < N; i++)
            cr_assert_eq(seen[i], 1, "round %d: stable_%d listed %d times", round, i, seen[i]);
    }
    atomic_store(&walk_stop, true);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
}
