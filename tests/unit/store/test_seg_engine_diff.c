/*
 * test_seg_engine_diff.c - the segment engine against the slab store on
 * the same seeded random sequence of store.h calls (every mode and flag of
 * link, get, delete and arith, flush_all with and without a delay,
 * flush_prefix, the clock moving): each call's whole outcome (status,
 * value, flags, CAS, exptime, atime, the mg report, me's peek, every
 * counter of the caller's block but the per-class split) is recorded on
 * the slab store, then the sequence is replayed on the engine and every
 * outcome must be the same. No eviction (memory for everything): where
 * replies can differ by design (memory), nothing is compared.
 */
#include "config.h"

#include "store/store.h"
#include "store/seg/seg_engine.h"

#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STEPS 20000
#define KEYS 40

struct api {
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
    char *(*data)(struct item *);
    uint32_t (*nbytes)(const struct item *);
    uint32_t (*flags)(const struct item *);
    uint64_t (*cas)(const struct item *);
    rel_time_t (*exptime)(const struct item *);
    rel_time_t (*atime)(const struct item *);
    void (*release)(struct item *);
    bool (*key_binary)(const struct item *);
    void (*set_key_binary)(struct item *);
    int (*flush_prefix)(const char *, size_t);
};

static const struct api slab_api = {
    store_setup, store_teardown, store_alloc, store_get, store_link, store_delete, store_arith, store_meta_peek,
    store_info, item_data, item_nbytes, item_flags, item_cas, item_exptime, item_atime, item_release,
    item_key_binary, item_set_key_binary, store_flush_prefix,
};

static const struct api seg_api = {
    seg_engine_setup, seg_engine_teardown, seg_engine_alloc, seg_engine_get, seg_engine_link, seg_engine_delete,
    seg_engine_arith, seg_engine_meta_peek, seg_engine_info, seg_engine_item_data, seg_engine_item_nbytes,
    seg_engine_item_flags, seg_engine_item_cas, seg_engine_item_exptime, seg_engine_item_atime,
    seg_engine_item_release, seg_engine_item_key_binary, seg_engine_item_set_key_binary, seg_engine_flush_prefix,
};

/* the outcomes, one line per step */
static char *log_buf[2];
static size_t log_len[2], log_cap[2];

static void
logf_(int side, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
logf_(int side, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(line))
        n = sizeof(line) - 1;
    if (log_len[side] + (size_t)n + 1 > log_cap[side]) {
        log_cap[side] = (log_cap[side] + (size_t)n + 1) * 2;
        log_buf[side] = realloc(log_buf[side], log_cap[side]);
        cr_assert_not_null(log_buf[side]);
    }
    memcpy(log_buf[side] + log_len[side], line, (size_t)n);
    log_len[side] += (size_t)n;
    log_buf[side][log_len[side]] = '\0';
}

static uint64_t rng;

static uint64_t
rnd(void)
{
    uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void
log_item(int side, const struct api *a, struct item *it)
{
    if (it == NULL) {
        logf_(side, " miss");
        return;
    }
    uint32_t n = a->nbytes(it);
    logf_(side, " v=%.*s f=%" PRIu32 " c=%" PRIu64 " e=%" PRIu32 " a=%" PRIu32 " b=%d", (int)(n > 200 ? 200 : n),
          a->data(it), a->flags(it), a->cas(it), a->exptime(it), a->atime(it), a->key_binary(it));
}

/* every counter but those of memory taken back (reclaimed, evicted...)
 * and get_expired / get_flushed (a look-up that meets a dead item before
 * its memory went): when an expired item's memory goes is each engine's
 * own (the slab store's: its background sweep, or an allocation's CLOCK
 * hand; the engine's: its segment's expiry, when every item in it has) */
static void
log_tstats(int side, const struct store_tstats *ts)
{
#define X(name)                                                                                                    \
    if (strcmp(#name, "reclaimed") != 0 && strcmp(#name, "expired_unfetched") != 0 &&                             \
        strncmp(#name, "evict", 5) != 0 && strcmp(#name, "get_expired") != 0 && strcmp(#name, "get_flushed") != 0) \
        logf_(side, " " #name "=%" PRIu64, (uint64_t)atomic_load(&ts->name));
    STORE_TSTATS(X)
#undef X
    struct store_slab_tstats_snap cls = {0};
    for (unsigned i = 0; i < STORE_CLASSES_MAX; i++) {
#define Y(name) cls.name += atomic_load(&ts->slab[i].name);
        STORE_SLAB_TSTATS(Y)
#undef Y
    }
#define Z(name) logf_(side, " " #name "=%" PRIu64, cls.name);
    STORE_SLAB_TSTATS(Z)
#undef Z
}

static rel_time_t
rexp(rel_time_t now)
{
    switch (rnd() % 6) {
    case 0:
    case 1:
        return 0;
    case 2:
        return now + 1 + (rel_time_t)(rnd() % 5);
    case 3:
        return now + 1 + (rel_time_t)(rnd() % 100);
    case 4:
        return 1; /* already expired */
    default:
        return now + 1000 + (rel_time_t)(rnd() % 5000);
    }
}

static void
run(int side, const struct api *a, bool use_cas, uint64_t seed)
{
    struct store_options o = {
        .mem_limit = 64u << 20, .item_size_max = 1u << 20, .factor = 1.25, .chunk_size = 48,
        .use_cas = use_cas, .evict_to_free = true, .hashpower = 10,
    };
    cr_assert_eq(a->setup(&o), 0);
    rel_time_t now = 100;
    store_clock_set(now);
    rng = seed;
    struct store_tstats ts;
    memset(&ts, 0, sizeof(ts));
    uint64_t last_cas[KEYS] = {0};
    for (int step = 0; step < STEPS; step++) {
        char key[16];
        unsigned ki = (unsigned)(rnd() % KEYS);
        snprintf(key, sizeof(key), "%s%u", ki % 4 == 0 ? "p:" : "k", ki);
        size_t nk = strlen(key);
        unsigned op = (unsigned)(rnd() % 100);
        logf_(side, "%d op%u %s:", step, op, key);
        if (op < 25) { /* link, every mode */
            static const char *vals[] = {"", "0", "7", "12", "99", "abc", "18446744073709551615", " 5", "hello"};
            const char *v = vals[rnd() % (sizeof(vals) / sizeof(vals[0]))];
            enum store_status st;
            struct item *it = a->alloc(key, nk, rnd() % 3 == 0 ? (uint32_t)rnd() : 0, rexp(now), (uint32_t)strlen(v),
                                       &ts, &st);
            cr_assert_not_null(it);
            memcpy(a->data(it), v, strlen(v));
            if (rnd() % 8 == 0)
                a->set_key_binary(it);
            struct store_link_opts lo = {.mode = (enum store_mode)(rnd() % 6)};
            unsigned c = (unsigned)(rnd() % 6);
            if (c == 1)
                lo.cas = last_cas[ki];
            else if (c == 2)
                lo.cas = last_cas[ki] + 1;
            else if (c == 3) {
                lo.has_cas = true;
                lo.cas = last_cas[ki] - (rnd() % 2);
                lo.invalidate = rnd() % 2;
            }
            if (rnd() % 6 == 0) {
                lo.has_new_cas = true;
                lo.new_cas = 1000000 + rnd() % 1000;
            }
            if (rnd() % 5 == 0) {
                lo.vivify = true;
                lo.vivify_exptime = rexp(now);
            }
            struct store_link_out out = {0};
            st = a->link(it, &lo, &out, &ts);
            logf_(side, " link=%d cas=%" PRIu64 " size=%u exp=%u", st, st == STORE_OK ? out.cas : 0, out.size,
                  out.exptime);
            if (st == STORE_OK)
                last_cas[ki] = out.cas;
            a->release(it);
        } else if (op < 55) { /* get, every kind */
            struct store_get_opts g = {.kind = (enum store_get_kind)(rnd() % 4)};
            g.no_bump = rnd() % 5 == 0;
            if (rnd() % 4 == 0) {
                g.touch = true;
                g.touch_exptime = rexp(now);
            }
            if (g.kind == STORE_GET_META) {
                g.vivify = rnd() % 4 == 0;
                g.vivify_exptime = rexp(now);
                g.recache = rnd() % 3 == 0;
                g.recache_time = now + (rel_time_t)(rnd() % 200);
                g.recache_after_touch = rnd() % 2;
                g.no_token = rnd() % 10 == 0;
                if (rnd() % 5 == 0) {
                    g.has_new_cas = true;
                    g.new_cas = 2000000 + rnd() % 1000;
                }
                g.key_binary = rnd() % 5 == 0;
            }
            struct store_get_info info;
            memset(&info, 0x5a, sizeof(info));
            struct item *it = a->get(key, nk, &g, &info, &ts);
            log_item(side, a, it);
            if (g.kind == STORE_GET_META)
                logf_(side, " cr=%d hb=%d ab=%u eb=%u st=%d ts=%d w=%d", info.created, info.hit_before,
                      info.atime_before, info.exptime_before, info.stale, info.token_sent, info.win);
            if (it != NULL)
                a->release(it);
        } else if (op < 67) { /* delete, md's flags */
            struct store_delete_opts d = {0};
            unsigned c = (unsigned)(rnd() % 5);
            if (c == 1)
                d.cas = last_cas[ki];
            else if (c == 2) {
                d.has_cas = true;
                d.cas = last_cas[ki] + (rnd() % 2);
            }
            d.invalidate = rnd() % 3 == 0;
            d.remove_value = rnd() % 4 == 0;
            if (rnd() % 2) {
                d.set_ttl = true;
                d.exptime = rexp(now);
            }
            if (rnd() % 4 == 0) {
                d.has_new_cas = true;
                d.new_cas = 3000000 + rnd() % 1000;
            }
            d.key_binary = rnd() % 4 == 0;
            d.flags = rnd() % 3 == 0 ? (uint32_t)rnd() : 0;
            logf_(side, " del=%d", a->del(key, nk, &d, &ts));
        } else if (op < 82) { /* arith */
            struct store_arith_opts ar = {.decr = rnd() % 2, .delta = rnd() % 4 == 0 ? rnd() : rnd() % 20};
            if (rnd() % 4 == 0)
                ar.cas = last_cas[ki] + rnd() % 2;
            ar.vivify = rnd() % 3 == 0;
            ar.vivify_exptime = rexp(now);
            ar.initial = rnd() % 1000;
            if (rnd() % 3 == 0) {
                ar.touch = true;
                ar.touch_exptime = rexp(now);
            }
            if (rnd() % 5 == 0) {
                ar.has_new_cas = true;
                ar.new_cas = 4000000 + rnd() % 1000;
            }
            ar.key_binary = rnd() % 4 == 0;
            struct store_arith_out out = {0};
            enum store_status st = a->arith(key, nk, &ar, &out, &ts);
            logf_(side, " arith=%d", st);
            if (st == STORE_OK) {
                logf_(side, " val=%" PRIu64 " cas=%" PRIu64 " eb=%u cr=%d", out.value, out.cas, out.exptime_before,
                      out.created);
                last_cas[ki] = out.cas;
            }
        } else if (op < 90) { /* me */
            struct store_meta_debug_info md;
            if (a->peek(key, nk, &md))
                logf_(side, " me e=%u a=%u c=%" PRIu64 " f=%d s=%zu b=%d", md.exptime, md.atime, md.cas, md.fetched,
                      md.size, md.key_binary);
            else
                logf_(side, " me miss");
        } else if (op < 92) {
            unsigned f = (unsigned)(rnd() % 4);
            if (f == 0)
                store_flush(now);
            else if (f == 1)
                store_flush_delay((int64_t)(rnd() % 4));
            else if (f == 2)
                a->flush_prefix("p:", 2);
            else
                a->flush_prefix(key, 2);
            logf_(side, " flush%u", f);
        } else if (op < 97) {
            now += (rel_time_t)(rnd() % 3);
            store_clock_set(now);
            logf_(side, " now=%u", now);
        } else {
            now += (rel_time_t)(rnd() % 90);
            store_clock_set(now);
            logf_(side, " now=%u", now);
        }
        log_tstats(side, &ts);
        logf_(side, "\n");
    }
    a->teardown();
}

static void
compare(void)
{
    const char *x = log_buf[0], *y = log_buf[1];
    while (*x != '\0' && *y != '\0') {
        const char *ex = strchr(x, '\n'), *ey = strchr(y, '\n');
        size_t lx = (size_t)(ex - x), ly = (size_t)(ey - y);
        if (lx != ly || memcmp(x, y, lx) != 0) {
            cr_assert_fail("first difference:\nslab: %.*s\nseg:  %.*s", (int)lx, x, (int)ly, y);
        }
        x = ex + 1;
        y = ey + 1;
    }
    cr_assert_eq(*x, *y);
}

static void
diff(bool use_cas, uint64_t seed)
{
    log_len[0] = log_len[1] = 0;
    run(0, &slab_api, use_cas, seed);
    run(1, &seg_api, use_cas, seed);
    compare();
}

Test(seg_engine_diff, same_outcomes_cas)
{
    for (uint64_t seed = 1; seed <= 8; seed++)
        diff(true, seed);
}

Test(seg_engine_diff, same_outcomes_no_cas)
{
    for (uint64_t seed = 100; seed <= 104; seed++)
        diff(false, seed);
}
