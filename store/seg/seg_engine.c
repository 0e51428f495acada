/*
 * seg_engine.c - store.h's request API on the segment store (seg_engine.h):
 * alloc, get, link, delete, arith, peek, stats, and the item accessors,
 * with the slab store's semantics and counters (store_get.c, store_link.c,
 * store_delete.c, store_arith.c).
 *
 * Every decision on a key is taken under its index bucket's spinlock, as
 * the slab store takes them under the key's stripe lock. What needs a new
 * item (append, prepend, incr and decr, md I and x, a touch whose segment
 * expires too early, an item whose CAS no longer fits a delta) cannot
 * allocate under that lock (a segment may have to be evicted: the pool
 * lock comes before bucket locks), so it drops the lock, pins the old
 * item, builds the new one, locks again, and links it only if the same
 * item is still the one linked (a compare on the slot); otherwise it
 * decides again from scratch. Counters move once, for the decision that
 * stands. A CAS value is drawn once per call, as the slab store draws it.
 *
 * References: an item handed out pins its segment (seg_store.c); an item
 * from alloc also counts as a writer of its segment until linked or
 * released (then dead: its bytes count as dead, nothing leaks).
 */
#include "config.h"

#include "store/seg/seg_engine.h"
#include "store/seg/seg_internal.h"
#include "store/clock.h"
#include "store/expire.h"
#include "store/item.h"
#include "store/prefix.h"
#include "store/store_internal.h"
#include "store/watch_hook.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLS 1 /* the one class every counter goes under */
/* memcached's atime is refreshed on a hit at most this often (lru.h) */
#define ATIME_INTERVAL 60
/* memcached 1.6.45's item accounting against -I (store.c) */
enum { MC_ITEM_HDR = 48, MC_CAS_LEN = 8 };

static struct store_options eopts;
static size_t seg_size;

/* the counters of what no caller's block can take (the expiry pass) */
static _Atomic uint64_t g_reclaimed, g_expired_unfetched, g_evicted, g_evicted_unfetched, g_evicted_active;
static _Thread_local struct store_tstats *tl_ts; /* an allocating caller's, for evictions */
static _Thread_local uint64_t tl_cas_last;

#define SI(it) ((const struct seg_item *)(const void *)(it))
#define IT(si) ((struct item *)(void *)(uintptr_t)(si))

static inline const struct seg_item *
slot_item(uint64_t v)
{
    return seg_item_at(seg_slot_seg(v), seg_slot_off(v));
}

/* the slot's item, without its frequency: what a compare on the slot compares */
static inline uint64_t
slot_loc(uint64_t v)
{
    return v & ~((uint64_t)0xff << 12);
}

/* watch: what a link, delete or arith found under its key (store_int_looked_up) */
static inline void
traced(const uint64_t *slot)
{
    if (__builtin_expect(atomic_load_explicit(&store_int_trace_on, memory_order_relaxed), 0))
        store_int_trace_record(slot != NULL, CLS, slot != NULL ? seg_item_nbytes(slot_item(*slot)) : 0);
}

/* ---- CAS ---- */

static uint64_t
eng_cas_now(void)
{
    uint64_t v = tl_cas_last;
    return v != 0 ? v : item_cas_last();
}

static uint32_t
eng_now(void)
{
    return store_clock_now();
}

static uint64_t
draw(void)
{
    uint64_t v = item_cas_next();
    tl_cas_last = v;
    return v;
}

/* store_int_cas_draw(): a CAS for a store command, 0 under -C */
static uint64_t
cas_draw_store(void)
{
    return eopts.use_cas ? draw() : 0;
}

static inline bool
is_wide(const struct seg_item *it)
{
    return (seg_hdr_load(it) & SEG_H_WIDE) != 0;
}

/* The CAS a client sees: 0 under -C, and for an item not linked yet. */
static inline uint64_t
cas_of(const struct seg_item *it)
{
    if (!eopts.use_cas || !(seg_hdr_load(it) & SEG_H_LINKED))
        return 0;
    return seg_item_seq(it);
}

static inline __attribute__((always_inline)) enum expire_state
state_of(const struct seg_item *it, rel_time_t now)
{
    uint64_t h = seg_hdr_load(it);
    if (!expire_flush_any()) {
        /* the common case: no flush in force, only the exptime counts */
        if (!(h & SEG_H_EXP))
            return EXPIRE_LIVE;
        rel_time_t e = atomic_load_explicit(seg_exp_word(it), memory_order_relaxed);
        return e != 0 && e <= now ? EXPIRE_EXPIRED : EXPIRE_LIVE;
    }
    bool wide = (h & SEG_H_WIDE) != 0;
    return expire_state_fields(seg_item_exptime(it), seg_item_atime(it), wide, wide ? 0 : seg_item_seq(it),
                               wide ? seg_item_wide_gen(it) : 0, seg_item_key(it), seg_hdr_nkey(h), now);
}

/* ---- items ---- */

size_t
seg_engine_max_value_len(size_t nkey)
{
    size_t hdr = MC_ITEM_HDR + (eopts.use_cas ? MC_CAS_LEN : 0) + nkey + 1 + 2;
    return eopts.item_size_max > hdr ? eopts.item_size_max - hdr : 0;
}

/* A new unlinked item, pinned and counted as a writer of its segment, as
 * seg_engine_alloc hands out; `mut`: its key-binary bit. */
static struct seg_item *
new_item(const char *key, size_t nkey, uint32_t flags, rel_time_t exptime, uint64_t nbytes, bool wide, uint64_t mut,
         struct store_tstats *ts, enum store_status *st)
{
    if (nkey == 0 || nkey > STORE_KEY_MAX || nbytes > seg_engine_max_value_len(nkey) || nbytes > SEG_NBYTES_MAX) {
        *st = STORE_TOO_LARGE;
        return NULL;
    }
    uint64_t bits = (flags != 0 ? SEG_H_FLAGS : 0) | (exptime != 0 ? SEG_H_EXP : 0) | (wide ? SEG_H_WIDE : 0);
    size_t size = seg_item_size_x(bits, nkey, (size_t)nbytes);
    if (size > seg_size) {
        *st = STORE_TOO_LARGE;
        return NULL;
    }
    rel_time_t now = store_clock_now();
    struct segment *s;
    uint32_t off;
    tl_ts = ts;
    char *p = seg_reserve(seg_bucket_for(exptime, now), size, exptime, &s, &off);
    tl_ts = NULL;
    if (p == NULL) {
        *st = STORE_NO_MEMORY;
        return NULL;
    }
    seg_pin(s);
    seg_item_write(p, key, nkey, (uint32_t)nbytes, flags, exptime, wide, 0, 0, mut & SEG_H_KEYBIN, 0, now);
    *st = STORE_OK;
    return (struct seg_item *)p;
}

/* A new unlinked copy of `it` (pinned by the caller): its key, flags,
 * value and key kind, with `exptime` and wide or not. */
static struct seg_item *
copy_item(const struct seg_item *it, rel_time_t exptime, bool wide, struct store_tstats *ts, enum store_status *st)
{
    uint32_t n = seg_item_nbytes(it);
    struct seg_item *c = new_item(seg_item_key(it), seg_item_nkey(it), seg_item_flags(it), exptime, n, wide,
                                  seg_hdr_load(it), ts, st);
    if (c != NULL && n > 0)
        memcpy((char *)seg_item_data(c), seg_item_data(it), n);
    return c;
}

/* Gives back an item of ours: one never linked is dead, its writer count
 * dropped; then the pin. */
static inline __attribute__((always_inline)) void
put_item(const struct seg_item *it)
{
    struct segment *s = seg_of_item(it);
    if (!(seg_hdr_load(it) & SEG_H_LINKED)) {
        seg_item_dead(s, seg_item_size_of(it));
        seg_writer_done(s);
    }
    seg_unpin(s);
}

/* An unlinked item of ours takes exptime `e`: false when it has no word
 * for it (a copy is needed). Its segment cannot go while we write it, so
 * its exp_max may still rise. */
static bool
unlinked_set_exptime(const struct seg_item *it, rel_time_t e)
{
    if (!(seg_hdr_load(it) & SEG_H_EXP))
        return e == 0;
    atomic_store_explicit(seg_exp_word(it), e, memory_order_relaxed);
    seg_exp_raise(seg_of_item(it), e);
    return true;
}

/* A linked item's exptime changes in place when it has the word and its
 * segment expires no earlier than `e` (or it already is e). */
static bool
live_exptime_fits(const struct seg_item *it, rel_time_t e)
{
    uint64_t h = seg_hdr_load(it);
    if (!(h & SEG_H_EXP))
        return e == 0;
    uint32_t want = e != 0 ? e : SEG_EXP_NEVER;
    return want <= atomic_load_explicit(&seg_of_item(it)->exp_max, memory_order_relaxed);
}

static void
live_set_exptime(const struct seg_item *it, rel_time_t e)
{
    if (seg_hdr_load(it) & SEG_H_EXP)
        atomic_store_explicit(seg_exp_word(it), e, memory_order_relaxed);
}

/*
 * Links the unlinked item `it` (ours) into `slot`: an empty slot, or the
 * slot of the live item it replaces, which dies. Its CAS (or link sequence)
 * is `cas`, the flush generation of a wide one `gen`; its mutable bits
 * become `bits` (plus its key kind) and its atime `atime`. False, with
 * nothing changed, when `it` is narrow and `cas` does not fit its segment's
 * delta: the caller links a wide copy. Bucket locked.
 */
static bool
link_into(uint64_t *slot, uint16_t tag, const struct seg_item *it, uint64_t cas, uint64_t gen, uint64_t bits,
          rel_time_t atime)
{
    struct segment *s = seg_of_item(it);
    uint64_t h = seg_hdr_load(it);
    if (h & SEG_H_WIDE) {
        char *w = (char *)seg_item_wide(it);
        memcpy(w, &cas, 8);
        memcpy(w + 8, &gen, 8);
    } else {
        int64_t delta;
        if (!seg_delta_fits(s, cas, &delta))
            return false;
        h = seg_hdr_with_delta(h, delta);
    }
    h = (h & ~(SEG_H_FETCHED | SEG_H_TOKEN | SEG_H_STALE)) |
        (bits & (SEG_H_FETCHED | SEG_H_TOKEN | SEG_H_STALE | SEG_H_KEYBIN)) | SEG_H_LINKED;
    seg_item_set_atime(it, atime);
    uint8_t freq = 0;
    if (*slot != 0) {
        freq = seg_slot_freq(*slot);
        seg_slot_kill(slot);
    }
    /* release: the item's bytes before the slot that publishes them (a
     * reader pairs with the bucket lock anyway) */
    atomic_store_explicit(seg_hdr_word(it), h, memory_order_release);
    uint32_t off = (uint32_t)((const char *)it - seg_g.arena - (size_t)s->id * seg_g.seg_size);
    *slot = seg_slot_make(s->id, off, tag, freq);
    seg_writer_done(s);
    return true;
}

/* The live slot of key, or NULL; an expired or flushed item met is
 * unlinked (counted as get_expired / get_flushed when `ts`). */
static inline __attribute__((always_inline)) uint64_t *
find_live(struct seg_bucket *hb, uint16_t tag, const char *key, size_t nkey, rel_time_t now,
          struct store_tstats *ts)
{
    uint64_t *slot = seg_find_key(hb, tag, key, nkey);
    if (slot == NULL)
        return NULL;
    enum expire_state st = state_of(slot_item(*slot), now);
    if (st == EXPIRE_LIVE)
        return slot;
    if (ts != NULL) {
        if (st == EXPIRE_EXPIRED)
            STAT_INC(ts->get_expired);
        else
            STAT_INC(ts->get_flushed);
    }
    seg_slot_kill(slot);
    return NULL;
}

/* An empty slot for a new key; NULL when the index's overflow is used up. */
static uint64_t *
free_slot(struct seg_bucket *hb)
{
    return seg_index_free_slot(hb);
}

/* lru_hit_locked(it, now, bump): fetched, and atime at most once a minute */
static inline __attribute__((always_inline)) void
hit(const struct seg_item *it, rel_time_t now)
{
    if (!(seg_hdr_load(it) & SEG_H_FETCHED))
        seg_hdr_set_bits(it, SEG_H_FETCHED);
    if (seg_item_atime(it) + ATIME_INTERVAL < now)
        seg_item_set_atime(it, now);
}

/* lru_bump_locked: atime at most once a minute */
static void
bump(const struct seg_item *it, rel_time_t now)
{
    if (seg_item_atime(it) + ATIME_INTERVAL < now)
        seg_item_set_atime(it, now);
}

/* Pins the item in `slot`'s segment and unlocks: the caller may read it
 * with no lock while it builds a replacement. */
static const struct seg_item *
pin_unlock(struct seg_bucket *hb, uint64_t v)
{
    const struct seg_item *it = slot_item(v);
    seg_pin(seg_of_item(it));
    seg_index_unlock(hb);
    return it;
}

/* ---- what eviction and expiry drop (seg_pool.c, bucket locked) ---- */

/* watch: the item a merge or a FIFO drop evicts (store_int_evict_notify) */
__attribute__((cold, noinline)) static void
evict_notify(const struct seg_item *it, rel_time_t now, store_evict_fn fn)
{
    struct store_evict_info ev = {
        .key = seg_item_key(it),
        .nkey = seg_item_nkey(it),
        .fetched = (seg_hdr_load(it) & SEG_H_FETCHED) != 0,
        .exptime = seg_item_exptime(it),
        .atime = seg_item_atime(it),
        .now = now,
        .clsid = CLS,
        .nbytes = seg_item_nbytes(it),
    };
    fn(&ev);
}

static void
on_drop(const struct seg_item *it, bool expired)
{
    struct store_tstats *ts = tl_ts;
    rel_time_t now = store_clock_now();
    bool fetched = (seg_hdr_load(it) & SEG_H_FETCHED) != 0;
    if (expired || state_of(it, now) != EXPIRE_LIVE) {
        if (ts != NULL) {
            STAT_INC(ts->reclaimed);
            if (!fetched)
                STAT_INC(ts->expired_unfetched);
        } else {
            atomic_fetch_add_explicit(&g_reclaimed, 1, memory_order_relaxed);
            if (!fetched)
                atomic_fetch_add_explicit(&g_expired_unfetched, 1, memory_order_relaxed);
        }
        return;
    }
    rel_time_t at = seg_item_atime(it);
    store_evict_fn fn = atomic_load_explicit(&store_int_evict_hook, memory_order_relaxed);
    if (__builtin_expect(fn != NULL, 0))
        evict_notify(it, now, fn);
    atomic_fetch_add_explicit(&g_evicted, 1, memory_order_relaxed);
    if (!fetched)
        atomic_fetch_add_explicit(&g_evicted_unfetched, 1, memory_order_relaxed);
    if (at + ATIME_INTERVAL >= now)
        atomic_fetch_add_explicit(&g_evicted_active, 1, memory_order_relaxed);
    if (ts != NULL) {
        STAT_INC(ts->evictions);
        if (!fetched)
            STAT_INC(ts->evicted_unfetched);
        if (at + ATIME_INTERVAL >= now)
            STAT_INC(ts->evicted_active);
    }
}

/* flush_prefix's retirement walk (prefix.c): unlinks what a registration hides */
static void
reap_bucket(struct seg_bucket *head, void *arg)
{
    uint64_t *n = arg;
    for (struct seg_bucket *b = head; b != NULL; b = seg_index_next(b)) {
        for (unsigned i = 0; i < SEG_BUCKET_SLOTS; i++) {
            if (b->slot[i] == 0)
                continue;
            const struct seg_item *it = slot_item(b->slot[i]);
            uint64_t h = seg_hdr_load(it);
            bool wide = (h & SEG_H_WIDE) != 0;
            if (prefix_key_flushed((const unsigned char *)seg_item_key(it), seg_hdr_nkey(h), wide,
                                   wide ? 0 : seg_item_seq(it), wide ? seg_item_wide_gen(it) : 0)) {
                seg_slot_kill(&b->slot[i]);
                (*n)++;
            }
        }
    }
}

static uint64_t
prefix_walk(void)
{
    uint64_t n = 0;
    seg_index_walk(reap_bucket, &n);
    return n;
}

/* ---- life cycle ---- */

int
seg_engine_setup(const struct store_options *opts)
{
    eopts = *opts;
    seg_size = eopts.item_size_max > ((size_t)1 << 20) ? eopts.item_size_max : (size_t)1 << 20;
    seg_size = (seg_size + 7) & ~(size_t)7;
    if (seg_size > SEG_SIZE_MAX || seg_engine_max_value_len(1) > SEG_NBYTES_MAX) {
        errno = EINVAL;
        return -1;
    }
    size_t mem = eopts.mem_limit;
    if (mem < 4 * seg_size)
        mem = 4 * seg_size; /* room for a few TTL buckets and the merge spare */
    /* the index: 2^(hashpower - 2) buckets of 7 slots (as many items as
     * memcached's table of 2^hashpower takes before it doubles), growing
     * with the items up to what mem_limit can fill: ~6 items of 16 bytes
     * (the smallest) a bucket */
    unsigned power = eopts.hashpower != 0 ? eopts.hashpower : STORE_HASHPOWER_DEFAULT;
    power = power > 2 ? power - 2 : 1;
    unsigned power_max = power;
    while (power_max < 30 && ((uint64_t)6 * 16 << power_max) < mem)
        power_max++;
    struct seg_options so = {
        .mem_limit = mem,
        .seg_size = seg_size,
        .hashpower = power,
        .hashpower_max = power_max,
        .evict = eopts.evict_to_free ? SEG_EVICT_MERGE : SEG_EVICT_NONE,
        .large_pages = eopts.large_pages,
    };
    if (seg_setup(&so) != 0)
        return -1;
    seg_g.cas_now = eng_cas_now;
    seg_g.now_fn = eng_now;
    seg_g.on_drop = on_drop;
    item_cas_reset(eopts.use_cas);
    expire_setup(eopts.use_cas);
    clock_setup();
    prefix_set_walker(prefix_walk);
    atomic_store(&g_reclaimed, 0);
    atomic_store(&g_expired_unfetched, 0);
    atomic_store(&g_evicted, 0);
    atomic_store(&g_evicted_unfetched, 0);
    atomic_store(&g_evicted_active, 0);
    return 0;
}

void
seg_engine_teardown(void)
{
    prefix_set_walker(NULL);
    seg_teardown();
}

/* ---- item accessors ---- */

const char *
seg_engine_item_key(const struct item *it)
{
    return seg_item_key(SI(it));
}

uint8_t
seg_engine_item_nkey(const struct item *it)
{
    return seg_item_nkey(SI(it));
}

char *
seg_engine_item_data(struct item *it)
{
    return (char *)(uintptr_t)seg_item_data(SI(it));
}

uint32_t
seg_engine_item_nbytes(const struct item *it)
{
    return seg_item_nbytes(SI(it));
}

uint32_t
seg_engine_item_flags(const struct item *it)
{
    return seg_item_flags(SI(it));
}

uint64_t
seg_engine_item_cas(const struct item *it)
{
    return cas_of(SI(it));
}

/* item_view(): the header read once (it is an atomic: each accessor
 * above loads it again) */
void
seg_engine_item_view(struct item *it, struct item_view *v)
{
    const struct seg_item *si = SI(it);
    uint64_t h = seg_hdr_load(si);
    const char *p = (const char *)si + SEG_HDR_SIZE + ((h & SEG_H_EXP) ? 4 : 0);
    uint32_t flags = 0;
    if (h & SEG_H_FLAGS) {
        memcpy(&flags, p, 4);
        p += 4;
    }
    uint64_t cas = 0;
    if (h & SEG_H_WIDE) {
        memcpy(&cas, p, 8);
        p += 16;
    } else {
        cas = atomic_load_explicit(&seg_of_item(si)->cas_base, memory_order_relaxed) + (uint64_t)seg_hdr_cas_delta(h);
    }
    if (!eopts.use_cas || !(h & SEG_H_LINKED))
        cas = 0;
    uint8_t nkey = seg_hdr_nkey(h);
    *v = (struct item_view){
        .key = p,
        .data = (char *)(uintptr_t)(p + nkey),
        .cas = cas,
        .nbytes = seg_hdr_nbytes(h),
        .flags = flags,
        .nkey = nkey,
    };
}

rel_time_t
seg_engine_item_exptime(const struct item *it)
{
    return seg_item_exptime(SI(it));
}

rel_time_t
seg_engine_item_atime(const struct item *it)
{
    return seg_item_atime(SI(it));
}

unsigned
seg_engine_item_class(const struct item *it)
{
    (void)it;
    return CLS;
}

void
seg_engine_item_release(struct item *it)
{
    put_item(SI(it));
}

bool
seg_engine_item_key_binary(const struct item *it)
{
    return (seg_hdr_load(SI(it)) & SEG_H_KEYBIN) != 0;
}

void
seg_engine_item_set_key_binary(struct item *it)
{
    seg_hdr_set_bits(SI(it), SEG_H_KEYBIN);
}

struct item *
seg_engine_alloc(const char *key, size_t nkey, uint32_t flags, rel_time_t exptime, uint32_t nbytes,
                 struct store_tstats *ts, enum store_status *status)
{
    enum store_status st;
    struct seg_item *it = new_item(key, nkey, flags, exptime, nbytes, false, 0, ts, &st);
    if (status != NULL)
        *status = st;
    return IT(it);
}

/* ---- get ---- */

static inline __attribute__((always_inline)) void
count_get(bool hit_, struct store_tstats *ts)
{
    STAT_INC(ts->get_cmds);
    if (hit_)
        STAT_INC(ts->slab[CLS].get_hits);
    else
        STAT_INC(ts->get_misses);
}

static void
count_other(const struct store_get_opts *o, bool hit_, bool created, struct store_tstats *ts)
{
    switch (o->kind) {
    case STORE_GET_READ:
        count_get(hit_, ts);
        /* fall through */
    case STORE_GET_TOUCH:
        STAT_INC(ts->touch_cmds);
        if (hit_)
            STAT_INC(ts->slab[CLS].touch_hits);
        else
            STAT_INC(ts->touch_misses);
        break;
    case STORE_GET_META:
        if (hit_ && o->touch && !created) {
            STAT_INC(ts->touch_cmds);
            STAT_INC(ts->slab[CLS].touch_hits);
        } else {
            count_get(hit_, ts);
        }
        break;
    case STORE_GET_QUIET:
        break;
    }
}

/* mg on a hit (store_get.c's meta_hit_locked). Bucket locked. */
static void
meta_hit(const struct seg_item *it, const struct store_get_opts *o, struct store_get_info *info)
{
    uint64_t h = seg_hdr_load(it);
    rel_time_t exp = seg_item_exptime(it);
    info->win = false;
    info->hit_before = (h & SEG_H_FETCHED) != 0;
    info->atime_before = seg_item_atime(it);
    info->exptime_before = exp;
    info->stale = (h & SEG_H_STALE) != 0;
    info->token_sent = (h & SEG_H_TOKEN) != 0;
    if (!info->token_sent && !o->no_token) {
        rel_time_t rexp = o->touch && o->recache_after_touch ? o->touch_exptime : exp;
        if ((o->recache && rexp != 0 && rexp < o->recache_time) || info->stale)
            info->win = true;
    }
    if (info->win)
        seg_hdr_set_bits(it, SEG_H_TOKEN);
}

/* get, gets: the GET path, with none of the options */
static struct item *
get_plain(const char *key, size_t nkey, struct store_tstats *ts)
{
    uint64_t hv = seg_hash(key, nkey);
    rel_time_t now = store_clock_now();
    struct seg_bucket *hb = seg_index_lock(hv);
    uint64_t *slot = find_live(hb, seg_hash_tag(hv), key, nkey, now, ts);
    const struct seg_item *it = NULL;
    if (slot != NULL) {
        uint64_t v = *slot;
        it = slot_item(v);
        seg_pin(&seg_g.segs[seg_slot_seg(v)]);
        hit(it, now);
        uint8_t f = seg_slot_freq(v), nf = seg_freq_bump(f);
        if (nf != f)
            *slot = seg_slot_with_freq(v, nf);
    }
    seg_index_unlock(hb);
    count_get(it != NULL, ts);
    return IT(it);
}

struct item *
seg_engine_get(const char *key, size_t nkey, const struct store_get_opts *o, struct store_get_info *info,
               struct store_tstats *ts)
{
    if (o == NULL) {
        if (info != NULL)
            memset(info, 0, sizeof(*info));
        return get_plain(key, nkey, ts);
    }
    struct store_get_info scratch;
    if (info != NULL)
        memset(info, 0, sizeof(*info));
    uint64_t hv = seg_hash(key, nkey);
    uint16_t tag = seg_hash_tag(hv);
    rel_time_t now = store_clock_now();
    struct seg_item *fresh = NULL; /* a copy (touch) or a new item (vivify) made outside the lock */
    uint64_t fresh_for = 0;        /* the slot the copy was made for; 0: vivify */
    bool no_copy = false;          /* memory ran out for a touch's copy: touch what fits */
    const struct seg_item *ret = NULL;
    bool created = false;
    enum store_status st;
    for (;;) {
        struct seg_bucket *hb = seg_index_lock(hv);
        uint64_t *slot = find_live(hb, tag, key, nkey, now, o->kind < STORE_GET_TOUCH ? ts : NULL);
        if (slot != NULL) {
            const struct seg_item *it = slot_item(*slot);
            bool copy = o->touch && !no_copy && !live_exptime_fits(it, o->touch_exptime);
            if (copy && (fresh == NULL || fresh_for != slot_loc(*slot))) {
                uint64_t v = *slot;
                const struct seg_item *old = pin_unlock(hb, v);
                if (fresh != NULL)
                    put_item(fresh);
                fresh = copy_item(old, o->touch_exptime, is_wide(old), ts, &st);
                fresh_for = slot_loc(v);
                no_copy = fresh == NULL;
                seg_unpin(seg_of_item(old));
                continue;
            }
            uint64_t c = seg_item_seq(it);
            int64_t d;
            if (copy && !is_wide(fresh) && !seg_delta_fits(seg_of_item(fresh), c, &d)) {
                /* the CAS no longer fits the copy's segment: a wide copy */
                uint64_t v = *slot;
                const struct seg_item *old = pin_unlock(hb, v);
                put_item(fresh);
                fresh = copy_item(old, o->touch_exptime, true, ts, &st);
                fresh_for = slot_loc(v);
                no_copy = fresh == NULL;
                seg_unpin(seg_of_item(old));
                continue;
            }
            /* from here on the decision stands */
            if (o->kind == STORE_GET_META)
                meta_hit(it, o, info != NULL ? info : &scratch);
            if (copy) {
                /* the same item, touched: its copy with the new exptime
                 * takes its place, CAS, bits and atime kept */
                bool ok = link_into(slot, tag, fresh, c, expire_flush_gen(), seg_hdr_load(it), seg_item_atime(it));
                (void)ok; /* it fits: checked above */
                it = fresh; /* our pin from new_item is the caller's */
                fresh = NULL;
            } else {
                if (o->touch)
                    live_set_exptime(it, o->touch_exptime);
                seg_pin(seg_of_item(it));
            }
            if (!o->no_bump) {
                hit(it, now);
                /* the access frequency merge eviction keeps items by */
                uint64_t v = *slot;
                uint8_t f = seg_slot_freq(v), nf = seg_freq_bump(f);
                if (nf != f)
                    *slot = seg_slot_with_freq(v, nf);
            }
            ret = it;
        } else if (o->vivify) {
            if (fresh == NULL || fresh_for != 0) {
                seg_index_unlock(hb);
                if (fresh != NULL)
                    put_item(fresh);
                bool wide = o->has_new_cas && eopts.use_cas;
                fresh = new_item(key, nkey, 0, o->vivify_exptime, 0, wide, o->key_binary ? SEG_H_KEYBIN : 0, ts,
                                 &st);
                fresh_for = 0;
                if (fresh == NULL)
                    goto out; /* a miss */
                continue;
            }
            uint64_t *fs = free_slot(hb);
            if (fs != NULL) {
                uint64_t c = is_wide(fresh) ? o->new_cas : draw();
                uint64_t bits = (o->no_token ? 0 : SEG_H_TOKEN) | (o->no_bump ? 0 : SEG_H_FETCHED) |
                                (seg_hdr_load(fresh) & SEG_H_KEYBIN);
                if (!link_into(fs, tag, fresh, c, expire_flush_gen(), bits, now)) {
                    /* a fresh item's delta always fits but after 2^20 draws
                     * from other threads: a miss, as out of memory */
                    seg_index_unlock(hb);
                    goto out;
                }
                STAT_INC(ts->total_items);
                ret = fresh;
                fresh = NULL;
                created = true;
                if (info != NULL) {
                    info->created = true;
                    info->win = true;
                    info->atime_before = now;
                }
            }
        }
        seg_index_unlock(hb);
        break;
    }
out:
    if (fresh != NULL)
        put_item(fresh);
    if (o->kind == STORE_GET_READ && !o->touch)
        count_get(ret != NULL, ts);
    else
        count_other(o, ret != NULL, created, ts);
    return IT(ret);
}

bool
seg_engine_meta_peek(const char *key, size_t nkey, struct store_meta_debug_info *out)
{
    uint64_t hv = seg_hash(key, nkey);
    rel_time_t now = store_clock_now();
    struct seg_bucket *hb = seg_index_lock(hv);
    uint64_t *slot = find_live(hb, seg_hash_tag(hv), key, nkey, now, NULL);
    if (slot != NULL) {
        const struct seg_item *it = slot_item(*slot);
        uint64_t h = seg_hdr_load(it);
        out->exptime = seg_item_exptime(it);
        out->atime = seg_item_atime(it);
        out->cas = cas_of(it);
        out->fetched = (h & SEG_H_FETCHED) != 0;
        out->cls = CLS;
        /* the slab store's figure (header, CAS field, key, value), so me
         * answers alike on both engines */
        out->size = 36 + seg_hdr_nkey(h) + seg_hdr_nbytes(h);
        out->key_binary = (h & SEG_H_KEYBIN) != 0;
    }
    seg_index_unlock(hb);
    return slot != NULL;
}

/* ---- link ---- */

static const struct store_link_opts plain_link;

/* What a locked decision of seg_engine_link needs before it can go on. */
enum need {
    NEED_NONE = 0,
    NEED_COPY, /* a copy of the item to link: exptime `exp`, wide or not */
    NEED_PEND, /* append/prepend: old + new, built from the pinned old */
};

enum store_status
seg_engine_link(struct item *iti, const struct store_link_opts *o, struct store_link_out *out,
                struct store_tstats *ts)
{
    if (o == NULL)
        o = &plain_link;
    const struct seg_item *it = SI(iti);
    bool pend = o->mode == STORE_APPEND || o->mode == STORE_PREPEND;
    if (out != NULL) {
        out->size = seg_item_nbytes(it);
        out->exptime = seg_item_exptime(it);
        out->clsid = CLS;
    }
    if (seg_hdr_load(it) & SEG_H_LINKED)
        return STORE_NOT_STORED;
    STAT_INC(ts->slab[CLS].cmd_set);
    enum store_status st;
    struct seg_item *mine = NULL; /* our copy of `it`, when it needs one */
    if (o->has_new_cas && eopts.use_cas && (!pend || o->vivify) && !is_wide(it)) {
        mine = copy_item(it, seg_item_exptime(it), true, ts, &st);
        if (mine == NULL)
            return st;
    }
    const char *key = seg_item_key(it);
    size_t nkey = seg_item_nkey(it);
    uint64_t hv = seg_hash(key, nkey);
    uint16_t tag = seg_hash_tag(hv);
    rel_time_t now = store_clock_now();
    struct seg_item *nit = NULL; /* append/prepend's combined item */
    uint64_t nit_for = 0;
    bool drawn = false;
    uint64_t cas = 0;
    uint64_t want = eopts.use_cas ? o->cas : 0;
    bool has_cas = o->has_cas || want != 0;
    const struct seg_item *linked = NULL;
    for (;;) {
        struct seg_bucket *hb = seg_index_lock(hv);
        /* a CAS is used up whether or not this stores; with E none is */
        if (!drawn) {
            cas = !o->has_new_cas ? cas_draw_store() : eopts.use_cas ? o->new_cas : 0;
            drawn = true;
        }
        const struct seg_item *cur = mine != NULL ? mine : it;
        uint64_t *slot = find_live(hb, tag, key, nkey, now, NULL);
        traced(slot);
        const struct seg_item *old = slot != NULL ? slot_item(*slot) : NULL;
        enum need need = NEED_NONE;
        rel_time_t need_exp = seg_item_exptime(cur);
        bool need_wide = is_wide(cur);
        uint64_t bits = seg_hdr_load(cur) & SEG_H_KEYBIN;
        const struct seg_item *to_link = cur;
        uint64_t *into = slot;
        unsigned counter = 0; /* 1 cas_misses, 2 cas_badval, 3 cas_hits */
        st = STORE_OK;

        if (old == NULL && pend && o->vivify) {
            if (!unlinked_set_exptime(cur, o->vivify_exptime)) {
                need = NEED_COPY;
                need_exp = o->vivify_exptime;
            }
        } else if (o->mode == STORE_CAS || (has_cas && !pend)) {
            if (old == NULL) {
                counter = 1;
                st = STORE_NOT_FOUND;
            } else if (want == 0) {
                counter = 2;
                st = STORE_EXISTS;
            } else if (want == cas_of(old)) {
                counter = 3;
            } else if (o->invalidate && want < cas_of(old)) {
                /* an older writer: its data, stale, with old's TTL and token */
                counter = 3;
                if (!unlinked_set_exptime(cur, seg_item_exptime(old))) {
                    need = NEED_COPY;
                    need_exp = seg_item_exptime(old);
                }
                bits |= SEG_H_STALE | (seg_hdr_load(old) & SEG_H_TOKEN);
            } else {
                counter = 2;
                st = STORE_EXISTS;
            }
        } else {
            switch (o->mode) {
            case STORE_SET:
                break;
            case STORE_ADD:
                if (old != NULL) {
                    bump(old, now);
                    st = STORE_NOT_STORED;
                }
                break;
            case STORE_REPLACE:
                if (old == NULL)
                    st = STORE_NOT_STORED;
                break;
            case STORE_APPEND:
            case STORE_PREPEND:
                if (old == NULL)
                    st = STORE_NOT_STORED;
                else if (want != 0 && want != cas_of(old))
                    st = STORE_EXISTS;
                else if (nit == NULL || nit_for != slot_loc(*slot))
                    need = NEED_PEND;
                else
                    to_link = nit;
                break;
            default:
                st = STORE_NOT_STORED;
            }
        }

        if (need == NEED_PEND) {
            uint64_t v = *slot;
            const struct seg_item *po = pin_unlock(hb, v);
            if (nit != NULL)
                put_item(nit);
            uint32_t n1 = seg_item_nbytes(po), n2 = seg_item_nbytes(cur);
            nit = new_item(key, nkey, seg_item_flags(po), seg_item_exptime(po), (uint64_t)n1 + n2,
                           o->has_new_cas && eopts.use_cas, bits, ts, &st);
            if (nit != NULL) {
                const struct seg_item *first = o->mode == STORE_APPEND ? po : cur;
                const struct seg_item *second = o->mode == STORE_APPEND ? cur : po;
                char *d = (char *)seg_item_data(nit);
                memcpy(d, seg_item_data(first), seg_item_nbytes(first));
                memcpy(d + seg_item_nbytes(first), seg_item_data(second), seg_item_nbytes(second));
            }
            nit_for = slot_loc(v);
            seg_unpin(seg_of_item(po));
            if (nit == NULL) {
                /* a combined value over the limit is "not stored" */
                if (st == STORE_TOO_LARGE)
                    st = STORE_NOT_STORED;
                break;
            }
            continue;
        }
        if (need == NEED_NONE && st == STORE_OK) {
            if (into == NULL && (into = free_slot(hb)) == NULL) {
                st = STORE_NO_MEMORY;
            } else {
                if (cas == 0)
                    cas = draw(); /* a link sequence (-C) */
                if (!link_into(into, tag, to_link, cas, expire_flush_gen(), bits, now)) {
                    need = NEED_COPY;
                    need_wide = true;
                    need_exp = seg_item_exptime(to_link);
                }
            }
        }
        if (need == NEED_COPY) {
            seg_index_unlock(hb);
            const struct seg_item *src = to_link;
            struct seg_item *c = copy_item(src, need_exp, need_wide, ts, &st);
            if (c == NULL)
                goto done;
            if (src == nit) {
                put_item(nit);
                nit = c;
            } else {
                if (mine != NULL)
                    put_item(mine);
                mine = c;
            }
            continue;
        }
        if (counter == 1)
            STAT_INC(ts->cas_misses);
        else if (counter == 2)
            STAT_INC(ts->slab[CLS].cas_badval);
        else if (counter == 3)
            STAT_INC(ts->slab[CLS].cas_hits);
        if (st == STORE_OK) {
            linked = to_link;
            STAT_INC(ts->total_items);
            if (out != NULL) {
                out->cas = cas_of(linked);
                out->size = seg_item_nbytes(linked);
                out->exptime = seg_item_exptime(linked);
                out->clsid = CLS;
            }
        }
        seg_index_unlock(hb);
        break;
    }
done:
    if (nit != NULL)
        put_item(nit);
    if (mine != NULL)
        put_item(mine);
    return st;
}

void
seg_engine_meta_cas_skip(void)
{
    (void)cas_draw_store();
}

/* ---- delete ---- */

static const struct store_delete_opts plain_delete;

enum store_status
seg_engine_delete(const char *key, size_t nkey, const struct store_delete_opts *o, struct store_tstats *ts)
{
    if (o == NULL)
        o = &plain_delete;
    uint64_t hv = seg_hash(key, nkey);
    uint16_t tag = seg_hash_tag(hv);
    rel_time_t now = store_clock_now();
    struct seg_item *fresh = NULL;
    uint64_t fresh_for = 0;
    bool fresh_failed = false;
    enum store_status st = STORE_OK;
    for (;;) {
        struct seg_bucket *hb = seg_index_lock(hv);
        uint64_t *slot = find_live(hb, tag, key, nkey, now, NULL);
        traced(slot);
        if (slot == NULL) {
            STAT_INC(ts->delete_misses);
            st = STORE_NOT_FOUND;
            seg_index_unlock(hb);
            break;
        }
        const struct seg_item *old = slot_item(*slot);
        if ((o->has_cas || o->cas != 0) && cas_of(old) != o->cas) {
            st = STORE_EXISTS;
            seg_index_unlock(hb);
            break;
        }
        if (!o->invalidate && !o->remove_value) {
            STAT_INC(ts->slab[CLS].delete_hits);
            seg_slot_kill(slot);
            seg_index_unlock(hb);
            break;
        }
        uint64_t ecas = o->has_new_cas && eopts.use_cas ? o->new_cas : 0; /* 0: a new one */
        uint64_t oh = seg_hdr_load(old);
        if (o->remove_value) {
            /* md x: an empty item with F's flags, keeping the CAS (I: a new
             * one; E: E's) */
            uint64_t c = ecas;
            bool wide = c != 0;
            if (c == 0 && !o->invalidate) {
                c = seg_item_seq(old);
                wide = (oh & SEG_H_WIDE) != 0;
            }
            if (fresh == NULL || fresh_for != slot_loc(*slot) || (is_wide(fresh) != wide && !is_wide(fresh))) {
                uint64_t v = *slot;
                seg_index_unlock(hb);
                if (fresh != NULL)
                    put_item(fresh);
                fresh = new_item(key, nkey, o->flags, o->set_ttl ? o->exptime : 0, 0, wide,
                                 o->key_binary ? SEG_H_KEYBIN : 0, ts, &st);
                fresh_for = slot_loc(v);
                if (fresh == NULL)
                    break;
                continue;
            }
            if (c == 0)
                c = draw();
            uint64_t bits = (seg_hdr_load(fresh) & SEG_H_KEYBIN) | (o->invalidate ? SEG_H_STALE : 0);
            if (!link_into(slot, tag, fresh, c, expire_flush_gen(), bits, now)) {
                uint64_t v = *slot;
                seg_index_unlock(hb);
                put_item(fresh);
                fresh = new_item(key, nkey, o->flags, o->set_ttl ? o->exptime : 0, 0, true,
                                 o->key_binary ? SEG_H_KEYBIN : 0, ts, &st);
                fresh_for = slot_loc(v);
                if (fresh == NULL)
                    break;
                continue;
            }
            put_item(fresh); /* the link holds it */
            fresh = NULL;
            seg_index_unlock(hb);
            break;
        }
        /* md I: stale, the token back, a new CAS (E's), T's exptime */
        rel_time_t exp = o->set_ttl ? o->exptime : seg_item_exptime(old);
        bool recas = eopts.use_cas;
        if (!recas && live_exptime_fits(old, exp)) {
            /* -C: no CAS to change, everything in place */
            live_set_exptime(old, exp);
            seg_hdr_set_bits(old, SEG_H_STALE);
            seg_hdr_clear_bits(old, SEG_H_TOKEN);
            seg_index_unlock(hb);
            break;
        }
        bool wide = ecas != 0 || (oh & SEG_H_WIDE);
        if (fresh_failed) {
            /* no memory for the copy: stale, its CAS kept (as the slab store) */
            if (live_exptime_fits(old, exp))
                live_set_exptime(old, exp);
            seg_hdr_set_bits(old, SEG_H_STALE);
            seg_hdr_clear_bits(old, SEG_H_TOKEN);
            seg_index_unlock(hb);
            break;
        }
        if (fresh == NULL || fresh_for != slot_loc(*slot) || (wide && !is_wide(fresh))) {
            uint64_t v = *slot;
            const struct seg_item *po = pin_unlock(hb, v);
            if (fresh != NULL)
                put_item(fresh);
            enum store_status cst;
            fresh = copy_item(po, exp, wide, ts, &cst);
            fresh_for = slot_loc(v);
            fresh_failed = fresh == NULL;
            seg_unpin(seg_of_item(po));
            continue;
        }
        uint64_t c = !recas ? seg_item_seq(old) : ecas != 0 ? ecas : draw();
        uint64_t bits = ((oh & (SEG_H_FETCHED | SEG_H_KEYBIN)) | SEG_H_STALE);
        if (!link_into(slot, tag, fresh, c, is_wide(old) ? seg_item_wide_gen(old) : expire_flush_gen(), bits,
                       seg_item_atime(old))) {
            /* the drawn CAS does not fit: a wide copy (E's CAS as it is) */
            uint64_t v = *slot;
            const struct seg_item *po = pin_unlock(hb, v);
            put_item(fresh);
            enum store_status cst;
            fresh = copy_item(po, exp, true, ts, &cst);
            fresh_for = slot_loc(v);
            fresh_failed = fresh == NULL;
            seg_unpin(seg_of_item(po));
            if (recas && ecas == 0)
                ecas = c; /* the value drawn stands */
            continue;
        }
        put_item(fresh);
        fresh = NULL;
        seg_index_unlock(hb);
        break;
    }
    if (fresh != NULL)
        put_item(fresh);
    return st;
}

/* ---- arith ---- */

static const struct store_arith_opts plain_arith;

enum store_status
seg_engine_arith(const char *key, size_t nkey, const struct store_arith_opts *o, struct store_arith_out *out,
                 struct store_tstats *ts)
{
    if (o == NULL)
        o = &plain_arith;
    uint64_t hv = seg_hash(key, nkey);
    uint16_t tag = seg_hash_tag(hv);
    rel_time_t now = store_clock_now();
    bool own = o->has_new_cas && eopts.use_cas;
    struct seg_item *fresh = NULL;
    uint64_t fresh_for = 0; /* 0: a vivified item */
    bool fresh_in_place = false, force_wide = false;
    uint64_t v = o->initial;
    char buf[24];
    enum store_status st = STORE_OK;
    for (;;) {
        struct seg_bucket *hb = seg_index_lock(hv);
        uint64_t *slot = find_live(hb, tag, key, nkey, now, NULL);
        traced(slot);
        if (slot == NULL) {
            if (!o->vivify) {
                if (o->decr)
                    STAT_INC(ts->decr_misses);
                else
                    STAT_INC(ts->incr_misses);
                st = STORE_NOT_FOUND;
                seg_index_unlock(hb);
                break;
            }
            if (fresh == NULL || fresh_for != 0) {
                seg_index_unlock(hb);
                if (fresh != NULL)
                    put_item(fresh);
                int len = snprintf(buf, sizeof(buf), "%" PRIu64, o->initial);
                fresh = new_item(key, nkey, 0, o->vivify_exptime, (uint64_t)len, own || force_wide,
                                 o->key_binary ? SEG_H_KEYBIN : 0, ts, &st);
                fresh_for = 0;
                if (fresh == NULL)
                    break;
                memcpy((char *)seg_item_data(fresh), buf, (size_t)len);
                continue;
            }
            uint64_t *fs = free_slot(hb);
            if (fs == NULL) {
                st = STORE_NO_MEMORY;
                seg_index_unlock(hb);
                break;
            }
            uint64_t c = is_wide(fresh) && own ? o->new_cas : draw();
            if (!link_into(fs, tag, fresh, c, expire_flush_gen(), seg_hdr_load(fresh) & SEG_H_KEYBIN, now)) {
                seg_index_unlock(hb);
                put_item(fresh);
                fresh = NULL;
                force_wide = true;
                continue;
            }
            STAT_INC(ts->total_items);
            v = o->initial;
            if (out != NULL) {
                out->value = v;
                out->cas = cas_of(fresh);
                out->exptime_before = 0;
                out->created = true;
            }
            put_item(fresh); /* the link holds it */
            fresh = NULL;
            seg_index_unlock(hb);
            break;
        }
        const struct seg_item *old = slot_item(*slot);
        uint32_t n = seg_item_nbytes(old);
        /* memcached rejects an empty value before it compares the CAS */
        if (n == 0) {
            st = STORE_NON_NUMERIC;
            seg_index_unlock(hb);
            break;
        }
        if (o->cas != 0 && cas_of(old) != o->cas) {
            st = STORE_EXISTS;
            seg_index_unlock(hb);
            break;
        }
        uint64_t cur;
        if (!store_int_parse_number(seg_item_data(old), n, &cur)) {
            st = STORE_NON_NUMERIC;
            seg_index_unlock(hb);
            break;
        }
        uint64_t nv = o->decr ? (o->delta > cur ? 0 : cur - o->delta) : cur + o->delta;
        int len = snprintf(buf, sizeof(buf), "%" PRIu64, nv);
        /* the slab store rewrites in place (spaces after the digits, the
         * length, bits and atime kept) when the digits fit; else a new item */
        bool in_place = (uint32_t)len <= n;
        rel_time_t exp_before = seg_item_exptime(old);
        rel_time_t exp = o->touch ? o->touch_exptime : exp_before;
        uint64_t oh = seg_hdr_load(old);
        bool wide = own || force_wide || (in_place && (oh & SEG_H_WIDE));
        if (fresh == NULL || fresh_for != slot_loc(*slot) || fresh_in_place != in_place ||
            seg_item_exptime(fresh) != exp || (wide && !is_wide(fresh))) {
            uint64_t sv = *slot;
            const struct seg_item *po = pin_unlock(hb, sv);
            if (fresh != NULL)
                put_item(fresh);
            uint32_t nb = in_place ? n : (uint32_t)len;
            fresh = new_item(key, nkey, seg_item_flags(po), exp, nb, wide,
                             in_place ? (seg_hdr_load(po) & SEG_H_KEYBIN) : 0, ts, &st);
            fresh_for = slot_loc(sv);
            fresh_in_place = in_place;
            if (fresh != NULL) {
                char *d = (char *)seg_item_data(fresh);
                memcpy(d, buf, (size_t)len);
                memset(d + len, ' ', nb - (uint32_t)len);
            }
            seg_unpin(seg_of_item(po));
            if (fresh == NULL)
                break;
            continue;
        }
        /* one CAS drawn, as the slab store's either path; E's replaces it */
        uint64_t c = in_place && !eopts.use_cas ? seg_item_seq(old) : draw();
        uint64_t stored = own ? o->new_cas : c;
        uint64_t bits, gen = expire_flush_gen();
        rel_time_t atime;
        if (in_place) {
            bits = oh & (SEG_H_FETCHED | SEG_H_TOKEN | SEG_H_STALE | SEG_H_KEYBIN);
            atime = seg_item_atime(old);
            if (atime + ATIME_INTERVAL < now)
                atime = now;
            if ((oh & SEG_H_WIDE) && !own)
                gen = seg_item_wide_gen(old);
        } else {
            bits = 0;
            atime = now;
        }
        if (!link_into(slot, tag, fresh, stored, gen, bits, atime)) {
            seg_index_unlock(hb);
            put_item(fresh);
            fresh = NULL;
            force_wide = true;
            continue;
        }
        if (o->decr)
            STAT_INC(ts->slab[CLS].decr_hits);
        else
            STAT_INC(ts->slab[CLS].incr_hits);
        v = nv;
        if (out != NULL) {
            out->value = v;
            out->cas = cas_of(fresh);
            out->exptime_before = exp_before;
            out->created = false;
        }
        put_item(fresh);
        fresh = NULL;
        seg_index_unlock(hb);
        break;
    }
    if (fresh != NULL)
        put_item(fresh);
    return st;
}

/* ---- flush, stats, maintenance ---- */

void
seg_engine_flush(rel_time_t when)
{
    store_flush(when);
}

int
seg_engine_flush_prefix(const char *prefix, size_t n)
{
    return store_flush_prefix(prefix, n);
}

void
seg_engine_info(struct store_info *out)
{
    struct seg_stats s;
    seg_stats(&s);
    memset(out, 0, sizeof(*out));
    out->curr_items = s.items;
    out->bytes = s.live_bytes;
    out->limit_maxbytes = eopts.mem_limit;
    out->total_malloced = s.seg_bytes;
    /* memcached's hashpower for as many items: 4 of its buckets a 7-slot
     * one, 2^level + p of ours rounded up to a power of two */
    unsigned level = seg_index_power();
    out->hash_power_level = level + (seg_index_heads() > ((uint64_t)1 << level)) + 2;
    out->hash_bytes = s.index_bytes;
    out->hash_is_expanding = seg_index_expanding();
    out->slab_reassign_last_busy_status = "none";
    out->expired_reclaimed = atomic_load_explicit(&g_reclaimed, memory_order_relaxed);
    out->active_classes = s.items > 0 ? 1 : 0;
}

bool
seg_engine_class_info(unsigned id, struct store_class_info *out)
{
    if (id != CLS)
        return false;
    struct seg_stats s;
    seg_stats(&s);
    memset(out, 0, sizeof(*out));
    out->id = CLS;
    out->chunk_size = (uint32_t)seg_size;
    out->chunks_per_page = 1;
    out->total_pages = s.segs_used;
    out->total_chunks = s.segs_used;
    out->used_chunks = s.segs_used;
    out->mem_requested = s.live_bytes;
    out->curr_items = s.items;
    out->expired_unfetched = atomic_load_explicit(&g_expired_unfetched, memory_order_relaxed);
    out->evicted_unfetched = atomic_load_explicit(&g_evicted_unfetched, memory_order_relaxed);
    out->evicted_active = atomic_load_explicit(&g_evicted_active, memory_order_relaxed);
    out->evicted = atomic_load_explicit(&g_evicted, memory_order_relaxed);
    out->crawler_reclaimed = atomic_load_explicit(&g_reclaimed, memory_order_relaxed);
    return true;
}

uint64_t
seg_engine_maintain(void)
{
    uint64_t before = atomic_load_explicit(&g_reclaimed, memory_order_relaxed);
    /* -o no_lru_crawler: no background expiry, as the slab store's sweep;
     * an allocation still takes expired segments first (seg_pool.c) */
    if (!eopts.no_sweep)
        (void)seg_expire();
    else
        (void)seg_grow(UINT_MAX); /* the index grows all the same (seg_expire does both) */
    prefix_maintain();
    return atomic_load_explicit(&g_reclaimed, memory_order_relaxed) - before;
}

void
seg_engine_thread_tick(void)
{
    seg_thread_tick();
}

void
seg_engine_thread_release(void)
{
    seg_thread_release();
}

/* ---- walks: dumps and crawls (store/crawler.c) ---- */

/* Buckets a call looks at, at most (empty ones cost a read of their line),
 * and the buckets with items it locks, at most: a call is short. */
#define WALK_BUCKETS 4096
#define WALK_LOCKED 64

/* Whether head bucket i has no item and no chain, read without its lock
 * (racing writers' plain stores under it: left out of ThreadSanitizer's
 * view). Harmless: the slot of an item that stays linked changes only in
 * its frequency bits, and its tag (never 0) is in the low word either way,
 * so even a torn read is not 0; a chain never shrinks. An item linked
 * before the walk and still linked is always seen; one linked meanwhile
 * may be missed, as a walk allows. */
__attribute__((no_sanitize("thread"))) static bool
bucket_empty(uint64_t i)
{
    const volatile struct seg_bucket *b = seg_index_head(i);
    if (b->next != 0)
        return false;
    for (unsigned k = 0; k < SEG_BUCKET_SLOTS; k++) {
        if (b->slot[k] != 0)
            return false;
    }
    return true;
}

static void
dump_copy(const struct seg_item *it, struct store_dump_item *o)
{
    uint64_t h = seg_hdr_load(it);
    o->nkey = seg_hdr_nkey(h);
    memcpy(o->key, seg_item_key(it), o->nkey);
    o->key_binary = (h & SEG_H_KEYBIN) != 0;
    o->fetched = (h & SEG_H_FETCHED) != 0;
    o->clsid = CLS;
    o->flags = seg_item_flags(it);
    o->nbytes = seg_hdr_nbytes(h);
    o->exptime = seg_item_exptime(it);
    o->atime = seg_item_atime(it);
    o->cas = cas_of(it);
}

/* One head bucket's chain, hb locked: a dump appends its live items to
 * c->pend; a crawl looks at them (*checked, up to `budget`: 0 no bound)
 * and unlinks the dead ones. False when the crawl's budget ran out. */
static bool
walk_bucket(struct seg_bucket *hb, struct seg_engine_cursor *c, bool dump, uint64_t *checked, uint64_t budget,
            rel_time_t now)
{
    for (struct seg_bucket *b = hb; b != NULL; b = seg_index_next(b)) {
        for (unsigned i = 0; i < SEG_BUCKET_SLOTS; i++) {
            if (b->slot[i] == 0)
                continue;
            const struct seg_item *it = slot_item(b->slot[i]);
            bool live = state_of(it, now) == EXPIRE_LIVE;
            if (dump) {
                if (!live)
                    continue;
                if (c->npend == c->cap) {
                    size_t cap = c->cap != 0 ? c->cap * 2 : 64;
                    struct store_dump_item *p = realloc(c->pend, cap * sizeof(*p));
                    if (p == NULL)
                        return true; /* out of memory: the rest of the group is left out */
                    c->pend = p;
                    c->cap = cap;
                }
                dump_copy(it, &c->pend[c->npend++]);
                continue;
            }
            if (budget != 0 && *checked >= budget)
                return false;
            (*checked)++;
            if (!live) {
                atomic_fetch_add_explicit(&g_reclaimed, 1, memory_order_relaxed);
                if (!(seg_hdr_load(it) & SEG_H_FETCHED))
                    atomic_fetch_add_explicit(&g_expired_unfetched, 1, memory_order_relaxed);
                seg_slot_kill(&b->slot[i]);
            }
        }
    }
    return true;
}

/* The members of group c->group that have items, locked in ascending
 * order and held until all are read: a split (which locks p, then the new
 * bucket) cannot move a key of the group between two members meanwhile,
 * and a member it creates before the walk reaches it is met, since the
 * bound is read again at each step. *seen and *locked count buckets. */
static bool
walk_group(struct seg_engine_cursor *c, bool dump, uint64_t *checked, uint64_t budget, unsigned *seen,
           unsigned *locked)
{
    rel_time_t now = store_clock_now();
    uint64_t stride = (uint64_t)1 << c->level0;
    struct seg_bucket *held_small[16], **held = held_small;
    size_t nheld = 0, capheld = 16;
    bool more = true;
    for (uint64_t j = c->group; more && j < seg_index_heads(); j += stride) {
        (*seen)++;
        if (bucket_empty(j))
            continue;
        if (nheld == capheld) {
            struct seg_bucket **h = malloc(2 * capheld * sizeof(*h));
            if (h == NULL)
                break; /* out of memory: the group's higher members are left out */
            memcpy(h, held, nheld * sizeof(*h));
            if (held != held_small)
                free(held);
            held = h;
            capheld *= 2;
        }
        held[nheld++] = seg_index_lock_at(j);
        (*locked)++;
        more = walk_bucket(held[nheld - 1], c, dump, checked, budget, now);
    }
    while (nheld > 0)
        seg_index_unlock(held[--nheld]);
    if (held != held_small)
        free(held);
    return more;
}

static void
walk_start(struct seg_engine_cursor *c)
{
    if (!c->started) {
        c->started = true;
        c->level0 = seg_index_power();
    }
}

void
seg_engine_cursor_free(struct seg_engine_cursor *c)
{
    free(c->pend);
    c->pend = NULL;
    c->npend = c->ipend = c->cap = 0;
}

size_t
seg_engine_dump_next(struct seg_engine_cursor *c, struct store_dump_item *out, size_t max)
{
    walk_start(c);
    size_t n = 0;
    unsigned seen = 0, locked = 0;
    while (n < max && !c->done) {
        if (c->ipend < c->npend) {
            size_t k = c->npend - c->ipend < max - n ? c->npend - c->ipend : max - n;
            memcpy(&out[n], &c->pend[c->ipend], k * sizeof(*out));
            n += k;
            c->ipend += k;
            continue;
        }
        c->npend = c->ipend = 0;
        if (c->group >= (uint64_t)1 << c->level0) {
            c->done = true;
            break;
        }
        if (seen >= WALK_BUCKETS || locked >= WALK_LOCKED)
            break; /* a call is short: the caller comes back */
        (void)walk_group(c, true, NULL, 0, &seen, &locked);
        c->group++;
    }
    return n;
}

uint64_t
seg_engine_crawl_next(struct seg_engine_cursor *c, uint64_t budget)
{
    walk_start(c);
    uint64_t checked = 0;
    unsigned seen = 0, locked = 0;
    while (!c->done && seen < WALK_BUCKETS && locked < WALK_LOCKED) {
        if (c->group >= (uint64_t)1 << c->level0 || !walk_group(c, false, &checked, budget, &seen, &locked)) {
            c->done = true; /* the end, or the crawl's budget is spent */
            break;
        }
        c->group++;
    }
    return checked;
}
