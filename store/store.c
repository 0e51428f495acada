/*
 * store.c - the facade: the operations of store.h on top of slab, item,
 * hashtable, lru and expire.
 *
 * Owns only the options copy (immutable between setup and teardown). Every
 * operation on a key runs with that key's stripe lock held from lookup to
 * the end of the change, so get/set/arith on one key are atomic with
 * respect to each other. The request path takes no other lock: a hit only
 * sets the item's ACTIVE bit for the CLOCK hand, chunks come from and go
 * back to the thread's chunk cache, and link/unlink count into the
 * thread's counters (tcache.h). A class lock (order: stripe -> class) is
 * taken only to refill an empty cache, a batch at a time, from the free
 * list, new pages or eviction, and to flush a full one. Allocation for
 * append/prepend/arith happens under the stripe lock; eviction only
 * trylocks other stripes.
 */
#include "config.h"

#include "store/store.h"
#include "store/clock.h"
#include "store/expire.h"
#include "store/hashtable.h"
#include "store/item.h"
#include "store/lru.h"
#include "store/rebalance.h"
#include "store/slab.h"
#include "store/store_internal.h"
#include "store/tcache.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static struct store_options opts;

int
store_setup(const struct store_options *o)
{
    opts = *o;
    if (opts.hashpower == 0)
        opts.hashpower = STORE_HASHPOWER_DEFAULT;
    if (slab_setup(&opts) != 0)
        return -1;
    if (ht_setup(opts.hashpower) != 0) {
        slab_teardown();
        return -1;
    }
    item_cas_reset(opts.use_cas);
    tcache_setup();
    expire_setup(opts.use_cas);
    clock_setup();
    if (opts.background_threads && expire_thread_start(!opts.no_sweep) != 0) {
        int e = errno;
        ht_teardown();
        slab_teardown();
        errno = e;
        return -1;
    }
    return 0;
}

void
store_teardown(void)
{
    expire_thread_stop();
    tcache_teardown();
    ht_teardown();
    slab_teardown();
}

/* The largest value is memcached 1.6.45's, whose accounting against -I is
 * a 48-byte header, 8 more bytes with CAS, the key and its NUL, the value
 * and its CRLF (mcd's own header is smaller, so such an item always fits a
 * class): a client sees the same "object too large" boundary on both. */
enum { MEMCACHED_ITEM_HDR = 48, MEMCACHED_CAS_LEN = 8 };

size_t
store_max_value_len(size_t nkey)
{
    size_t hdr = MEMCACHED_ITEM_HDR + (opts.use_cas ? MEMCACHED_CAS_LEN : 0) + nkey + 1 + 2;
    return opts.item_size_max > hdr ? opts.item_size_max - hdr : 0;
}

/* The first chunk a refill takes is the caller's, the others are cached.
 * Class lock of c held. */
static void
keep_locked(struct slab_class *c, struct item *it, struct item **first, uint32_t *got)
{
    slab_assert_locked(c);
    if ((*got)++ == 0)
        *first = it;
    else
        tcache_put_locked(c, it);
}

/* Takes chunks for this thread, whose cache of class c is empty: up to a
 * batch from the free list or the newest page (a new page only when
 * neither has any); failing those, a batch of evictions (reclaims only,
 * under -M); failing those, a page from another class. Returns one chunk
 * and caches the rest, or NULL. No lock held. */
static struct item *
refill(unsigned id, rel_time_t now, struct store_tstats *ts)
{
    struct slab_class *c = slab_class_get(id);
    struct item *first = NULL, *it;
    uint32_t got = 0;
    if (c == NULL)
        return NULL;
    slab_lock(c);
    while (got < c->cache_batch && (got == 0 || c->free_list != 0 || c->end_left > 0) &&
           (it = slab_alloc_locked(c)) != NULL)
        keep_locked(c, it, &first, &got);
    if (got == 0)
        while (got < c->cache_batch && (it = lru_evict_locked(c, now, opts.evict_to_free, ts)) != NULL)
            keep_locked(c, it, &first, &got);
    if (got == 0 && opts.evict_to_free) {
        /* nothing of our own to evict: take a page from another class */
        slab_unlock(c);
        bool moved = rebalance_move_page(c, ts);
        slab_lock(c);
        if (moved)
            first = slab_alloc_locked(c);
    }
    if (first == NULL)
        STAT_INC(c->outofmemory);
    slab_unlock(c);
    return first;
}

/* Allocation proper. Takes no lock of its own but a class lock to refill
 * the thread's cache (hence no _locked), and may be called with a stripe
 * lock held (doc/threads.md). `own_cas`: the
 * item will carry a client's CAS (E), and room for its flush generation
 * (item.h); never under -C, where no client's CAS is kept. */
static struct item *
alloc_item(const char *key, size_t nkey, uint32_t flags, rel_time_t exptime, uint64_t nbytes, bool own_cas,
         struct store_tstats *ts, enum store_status *status)
{
    if (nkey == 0 || nkey > STORE_KEY_MAX || nbytes > store_max_value_len(nkey)) {
        *status = STORE_TOO_LARGE;
        return NULL;
    }
    own_cas = own_cas && opts.use_cas;
    size_t total = item_total_size(own_cas, nkey, (size_t)nbytes);
    unsigned id = slab_clsid(total);
    if (id == 0) {
        *status = STORE_TOO_LARGE;
        return NULL;
    }
    rel_time_t now = store_clock_now();
    struct item *it = tcache_pop(id);
    if (it == NULL)
        it = refill(id, now, ts);
    if (it == NULL) {
        *status = STORE_NO_MEMORY;
        return NULL;
    }
    tcache_count_requested(id, (int64_t)total);
    item_init(it, id, own_cas, key, nkey, flags, exptime, (uint32_t)nbytes, now);
    *status = STORE_OK;
    return it;
}

struct item *
store_alloc(const char *key, size_t nkey, uint32_t flags, rel_time_t exptime, uint32_t nbytes,
            struct store_tstats *ts, enum store_status *status)
{
    enum store_status st;
    struct item *it = alloc_item(key, nkey, flags, exptime, nbytes, false, ts, &st);
    if (status != NULL)
        *status = st;
    return it;
}

/* A CAS value for a store command: memcached 1.6.45 draws one for every
 * store (set, add, replace, append, prepend, cas; binary and meta alike)
 * that got as far as an item, stored or not, so the next item's CAS is one
 * further on even after a NOT_STORED or EXISTS. 0 under -C. */
static uint64_t
store_cas_draw(void)
{
    return opts.use_cas ? item_cas_next() : 0;
}

/* Links `it` under hv: CAS `cas` (0: a new one), atime now, hash +
 * counters, the link's ref. A `cas` not drawn from the counter (a client's,
 * E) needs an ITEM_CAS_OWN item, which records the flush generation
 * instead. Stripe lock held. */
static void
link_locked(struct item *it, uint32_t hv, rel_time_t now, uint64_t cas)
{
    ht_assert_locked(hv);
    if (item_own_cas(it))
        item_set_flush_gen(it, expire_flush_gen());
    /* under -C, cas is 0: the item gets a link sequence flush_all reads */
    item_set_cas(it, cas != 0 ? cas : item_cas_next());
    item_set_atime(it, now);
    item_iflag_clear(it, ITEM_FETCHED);
    item_incref(it);
    ht_insert_locked(it, hv);
    lru_link_locked(it, hv);
}

/* Unlinks a linked item and drops the link's ref. Stripe lock held. */
static void
unlink_locked(struct item *it, uint32_t hv)
{
    ht_assert_locked(hv);
    lru_unlink_item_locked(it, hv);
    item_release(it);
}

/* unlink_locked(old) then link_locked(it). Stripe lock held. */
static void
replace_locked(struct item *old, struct item *it, uint32_t hv, rel_time_t now, uint64_t cas)
{
    unlink_locked(old, hv);
    link_locked(it, hv, now, cas);
}

/*
 * Links, in place of the linked `it`, a copy that differs only in its
 * memory: the same value, flags, exptime, atime, CAS, key kind and the
 * fetched, active, stale and token-sent bits; with `own_cas` it has room
 * for a client's CAS (item.h). Returns the copy, held by its link only,
 * or NULL with *st set when memory runs out (`it` is then untouched).
 * Stripe lock held.
 */
static struct item *
copy_locked(struct item *it, uint32_t hv, bool own_cas, rel_time_t now, struct store_tstats *ts,
            enum store_status *st)
{
    ht_assert_locked(hv);
    struct item *nit = alloc_item(item_key(it), it->nkey, it->flags, item_exptime(it), it->nbytes, own_cas, ts, st);
    if (nit == NULL)
        return NULL;
    memcpy(item_data(nit), item_data(it), it->nbytes);
    if (item_key_binary(it))
        item_set_key_binary(nit);
    uint8_t keep = item_iflags(it) & (ITEM_FETCHED | ITEM_ACTIVE | ITEM_STALE | ITEM_TOKEN_SENT);
    rel_time_t atime = item_atime(it);
    uint64_t seq = item_seq(it);
    replace_locked(it, nit, hv, now, seq);
    item_iflag_set(nit, keep);
    item_set_atime(nit, atime);
    item_release(nit); /* the link holds it */
    return nit;
}

/* The live item under key, or NULL; dead items met are unlinked (and
 * counted when `ts`). Stripe lock held. */
static struct item *
find_live_locked(const char *key, size_t nkey, uint32_t hv, rel_time_t now, struct store_tstats *ts)
{
    ht_assert_locked(hv);
    struct item *it = ht_find_locked(key, nkey, hv);
    if (it == NULL)
        return NULL;
    enum expire_state st = expire_state(it, now);
    if (st == EXPIRE_LIVE)
        return it;
    if (ts != NULL) {
        if (st == EXPIRE_EXPIRED)
            STAT_INC(ts->get_expired);
        else
            STAT_INC(ts->get_flushed);
    }
    unlink_locked(it, hv);
    return NULL;
}

enum store_status
store_link(struct item *it, enum store_mode mode, uint64_t cas, uint64_t *cas_out,
           struct store_tstats *ts)
{
    const char *key = item_key(it);
    size_t nkey = it->nkey;
    uint32_t hv = ht_hash(key, nkey);
    rel_time_t now = store_clock_now();
    enum store_status st = STORE_OK;
    struct item *linked = it;

    if (item_iflags(it) & ITEM_LINKED)
        return STORE_NOT_STORED;
    STAT_INC(ts->slab[it->clsid].cmd_set);
    ht_lock(hv);
    uint64_t new_cas = store_cas_draw();
    struct item *old = find_live_locked(key, nkey, hv, now, NULL);

    /*
     * The CAS rules of memcached's do_store_item, for every protocol. Under
     * -C an item cannot carry the client's CAS, so it reads as 0 (memcached's
     * ITEM_set_cas is then a no-op): a SET/ADD/REPLACE is never turned into
     * a compare-and-swap and a compare-and-swap never matches.
     */
    if (!opts.use_cas)
        cas = 0;
    if (cas != 0 && (mode == STORE_SET || mode == STORE_ADD || mode == STORE_REPLACE))
        mode = STORE_CAS;
    if (mode == STORE_CAS) {
        if (old == NULL) {
            STAT_INC(ts->cas_misses);
            st = STORE_NOT_FOUND;
        } else if (cas == 0 || item_cas(old) != cas) {
            STAT_INC(ts->slab[old->clsid].cas_badval);
            st = STORE_EXISTS;
        } else {
            STAT_INC(ts->slab[old->clsid].cas_hits);
            replace_locked(old, it, hv, now, new_cas);
        }
        goto out;
    }
    /* append/prepend: a CAS is checked against a present item only */
    if (cas != 0 && old != NULL && item_cas(old) != cas) {
        st = STORE_EXISTS;
        goto out;
    }
    switch (mode) {
    case STORE_SET:
        if (old != NULL)
            replace_locked(old, it, hv, now, new_cas);
        else
            link_locked(it, hv, now, new_cas);
        break;
    case STORE_ADD:
        if (old != NULL) {
            lru_bump_locked(old, now);
            st = STORE_NOT_STORED;
        } else {
            link_locked(it, hv, now, new_cas);
        }
        break;
    case STORE_REPLACE:
        if (old == NULL)
            st = STORE_NOT_STORED;
        else
            replace_locked(old, it, hv, now, new_cas);
        break;
    case STORE_APPEND:
    case STORE_PREPEND: {
        if (old == NULL) {
            st = STORE_NOT_STORED;
            break;
        }
        uint64_t n = (uint64_t)old->nbytes + it->nbytes;
        struct item *nit = alloc_item(key, nkey, old->flags, item_exptime(old), n, false, ts, &st);
        if (nit == NULL)
            break;
        char *d = item_data(nit);
        if (mode == STORE_APPEND) {
            memcpy(d, item_data(old), old->nbytes);
            memcpy(d + old->nbytes, item_data(it), it->nbytes);
        } else {
            memcpy(d, item_data(it), it->nbytes);
            memcpy(d + it->nbytes, item_data(old), old->nbytes);
        }
        replace_locked(old, nit, hv, now, new_cas);
        linked = nit;
        item_release(nit); /* ours from alloc_item; the link keeps it */
        break;
    }
    default:
        st = STORE_NOT_STORED;
        break;
    }
out:
    if (st == STORE_OK) {
        STAT_INC(ts->total_items);
        if (cas_out != NULL)
            *cas_out = item_cas(linked);
    }
    ht_unlock(hv);
    return st;
}

struct item *
store_get(const char *key, size_t nkey, bool count_get, bool no_bump, struct store_tstats *ts)
{
    uint32_t hv = ht_hash(key, nkey);
    rel_time_t now = store_clock_now();
    ht_lock(hv);
    struct item *it = find_live_locked(key, nkey, hv, now, count_get ? ts : NULL);
    if (it != NULL) {
        item_incref(it);
        lru_hit_locked(it, now, !no_bump);
    }
    ht_unlock(hv);
    if (count_get) {
        STAT_INC(ts->get_cmds);
        if (it != NULL)
            STAT_INC(ts->slab[it->clsid].get_hits);
        else
            STAT_INC(ts->get_misses);
    }
    return it;
}

struct item *
store_get_touch(const char *key, size_t nkey, rel_time_t exptime, bool count_get,
                struct store_tstats *ts)
{
    uint32_t hv = ht_hash(key, nkey);
    rel_time_t now = store_clock_now();
    ht_lock(hv);
    struct item *it = find_live_locked(key, nkey, hv, now, count_get ? ts : NULL);
    if (it != NULL) {
        item_set_exptime(it, exptime);
        item_incref(it);
        lru_hit_locked(it, now, true);
    }
    ht_unlock(hv);
    STAT_INC(ts->touch_cmds);
    if (count_get)
        STAT_INC(ts->get_cmds);
    if (it != NULL) {
        STAT_INC(ts->slab[it->clsid].touch_hits);
        if (count_get)
            STAT_INC(ts->slab[it->clsid].get_hits);
    } else {
        STAT_INC(ts->touch_misses);
        if (count_get)
            STAT_INC(ts->get_misses);
    }
    return it;
}

enum store_status
store_delete(const char *key, size_t nkey, uint64_t cas, struct store_tstats *ts)
{
    uint32_t hv = ht_hash(key, nkey);
    rel_time_t now = store_clock_now();
    enum store_status st = STORE_OK;
    ht_lock(hv);
    struct item *it = find_live_locked(key, nkey, hv, now, NULL);
    if (it == NULL) {
        STAT_INC(ts->delete_misses);
        st = STORE_NOT_FOUND;
    } else if (cas != 0 && item_cas(it) != cas) {
        st = STORE_EXISTS;
    } else {
        STAT_INC(ts->slab[it->clsid].delete_hits);
        unlink_locked(it, hv);
    }
    ht_unlock(hv);
    return st;
}

/*
 * Parses a stored value as memcached's incr/decr does (strtoull plus
 * checks): optional leading white space, an optional sign, at least one
 * digit, no overflow, then the end of the value or a white-space byte
 * (anything may follow that). A '-' is accepted only when the negated
 * result still reads as non-negative (that is, "-0").
 */
static bool
parse_number(const char *p, size_t n, uint64_t *out)
{
    size_t i = 0;
    bool neg = false;
    while (i < n && isspace((unsigned char)p[i]))
        i++;
    if (i < n && (p[i] == '+' || p[i] == '-'))
        neg = p[i++] == '-';
    size_t start = i;
    uint64_t v = 0;
    for (; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
        unsigned d = (unsigned)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (i == start)
        return false;
    if (i < n && !isspace((unsigned char)p[i]))
        return false;
    if (neg) {
        v = (uint64_t)0 - v;
        if ((int64_t)v < 0)
            return false;
    }
    *out = v;
    return true;
}

/*
 * incr/decr of the linked item `it` under hv (stripe lock held): parses its
 * value, counts the hit, and writes the result in place (padded with
 * spaces, length kept) when nobody else holds the item and the digits fit,
 * as memcached does; else links a new item in its place. Returns the item
 * now linked with *out the new value, or NULL with *st set (NON_NUMERIC,
 * or an allocation failure). `own_cas`: the caller then gives the result a
 * client's CAS (E), so it must be an ITEM_CAS_OWN item.
 */
static struct item *
arith_locked(struct item *it, uint32_t hv, bool incr, uint64_t delta, bool own_cas, rel_time_t now,
            struct store_tstats *ts, uint64_t *out, enum store_status *st)
{
    ht_assert_locked(hv);
    uint64_t v;
    if (!parse_number(item_data(it), it->nbytes, &v)) {
        *st = STORE_NON_NUMERIC;
        return NULL;
    }
    if (incr) {
        v += delta;
        STAT_INC(ts->slab[it->clsid].incr_hits);
    } else {
        v = delta > v ? 0 : v - delta;
        STAT_INC(ts->slab[it->clsid].decr_hits);
    }
    *out = v;
    char buf[24];
    int len = snprintf(buf, sizeof(buf), "%" PRIu64, v);
    if (item_refcount(it) == 1 && (uint32_t)len <= it->nbytes && own_cas && !item_own_cas(it)) {
        /* in place, but into an item with room for the client's CAS */
        struct item *nit = copy_locked(it, hv, true, now, ts, st);
        if (nit == NULL)
            return NULL;
        it = nit;
    }
    if (item_refcount(it) == 1 && (uint32_t)len <= it->nbytes) {
        char *d = item_data(it);
        memcpy(d, buf, (size_t)len);
        memset(d + len, ' ', it->nbytes - (uint32_t)len);
        if (opts.use_cas)
            item_set_cas(it, item_cas_next());
        lru_bump_locked(it, now);
        return it;
    }
    struct item *nit = alloc_item(item_key(it), it->nkey, it->flags, item_exptime(it), (uint64_t)len, own_cas, ts, st);
    if (nit == NULL)
        return NULL;
    memcpy(item_data(nit), buf, (size_t)len);
    replace_locked(it, nit, hv, now, 0);
    item_release(nit); /* the link holds it */
    return nit;
}

enum store_status
store_arith(const char *key, size_t nkey, bool incr, uint64_t delta, uint64_t cas,
            uint64_t *result, uint64_t *cas_out, struct store_tstats *ts)
{
    uint32_t hv = ht_hash(key, nkey);
    rel_time_t now = store_clock_now();
    enum store_status st = STORE_OK;
    ht_lock(hv);
    struct item *it = find_live_locked(key, nkey, hv, now, NULL);
    if (it == NULL) {
        if (incr)
            STAT_INC(ts->incr_misses);
        else
            STAT_INC(ts->decr_misses);
        st = STORE_NOT_FOUND;
        goto out;
    }
    /* memcached rejects an empty value before it compares the CAS */
    if (it->nbytes == 0) {
        st = STORE_NON_NUMERIC;
        goto out;
    }
    if (cas != 0 && item_cas(it) != cas) {
        st = STORE_EXISTS;
        goto out;
    }
    uint64_t v;
    it = arith_locked(it, hv, incr, delta, false, now, ts, &v, &st);
    if (it == NULL)
        goto out;
    if (result != NULL)
        *result = v;
    if (cas_out != NULL)
        *cas_out = item_cas(it);
out:
    ht_unlock(hv);
    return st;
}

/* ---- statistics ---- */

unsigned
store_class_count(void)
{
    return slab_nclasses();
}

bool
store_class_info(unsigned id, struct store_class_info *out)
{
    struct slab_class *c = slab_class_get(id);
    if (c == NULL)
        return false;
    rel_time_t now = store_clock_now();
    memset(out, 0, sizeof(*out));
    struct tcache_totals t;
    tcache_totals(id, &t); /* before the class lock: lock order */
    slab_lock(c);
    out->id = id;
    out->chunk_size = c->size;
    out->chunks_per_page = c->perslab;
    out->total_pages = c->npages;
    out->total_chunks = (uint64_t)c->npages * c->perslab;
    /* chunks in thread caches are free; the thread counts race the class
     * ones by a few items at most, so clamp rather than wrap */
    uint64_t used = STAT_GET(c->used_chunks);
    uint64_t cached = t.cached > 0 ? (uint64_t)t.cached : 0;
    out->used_chunks = used > cached ? used - cached : 0;
    out->free_chunks = STAT_GET(c->free_count) + (used > cached ? cached : used);
    out->free_chunks_end = c->end_left;
    out->mem_requested = t.requested > 0 ? (uint64_t)t.requested : 0;
    out->curr_items = t.items > 0 ? (uint64_t)t.items : 0;
    /* approximation: the age of the item at the CLOCK hand (the next
     * eviction candidate), not of the least recently used one */
    struct item *hand = lru_hand_item_locked(c);
    if (hand != NULL && item_atime(hand) < now)
        out->oldest_age = now - item_atime(hand);
    slab_unlock(c);
    out->evicted_time = STAT_GET(c->evicted_time);
    out->outofmemory = STAT_GET(c->outofmemory);
    out->tailrepairs = 0;
    out->expired_unfetched = STAT_GET(c->expired_unfetched);
    out->evicted_unfetched = STAT_GET(c->evicted_unfetched);
    out->evicted_active = STAT_GET(c->evicted_active);
    out->crawler_reclaimed = STAT_GET(c->crawler_reclaimed);
    out->evicted = STAT_GET(c->evicted);
    out->reclaimed = STAT_GET(c->reclaimed);
    out->lock_taken = STAT_GET(c->lock_taken);
    return true;
}

void
store_info(struct store_info *out)
{
    memset(out, 0, sizeof(*out));
    unsigned n = slab_nclasses();
    for (unsigned id = 1; id <= n; id++) {
        struct slab_class *c = slab_class_get(id);
        if (c == NULL)
            continue;
        struct tcache_totals t;
        tcache_totals(id, &t);
        out->curr_items += t.items > 0 ? (uint64_t)t.items : 0;
        out->bytes += t.bytes > 0 ? (uint64_t)t.bytes : 0;
        out->expired_reclaimed += STAT_GET(c->crawler_reclaimed);
        slab_lock(c);
        if (c->npages > 0)
            out->active_classes++;
        slab_unlock(c);
    }
    out->limit_maxbytes = slab_mem_limit();
    out->total_malloced = slab_total_malloced();
    out->malloc_fails = slab_malloc_fails();
    out->hash_power_level = ht_power();
    out->hash_bytes = ht_bytes();
    out->hash_is_expanding = ht_is_expanding();
    out->slab_global_page_pool = 0;
}

/* ---- internals shared with store_meta.c (see store/store_internal.h) ---- */

struct item *
store_int_alloc(const char *key, size_t nkey, uint32_t flags, rel_time_t exptime, uint64_t nbytes, bool own_cas,
                struct store_tstats *ts, enum store_status *status)
{
    return alloc_item(key, nkey, flags, exptime, nbytes, own_cas, ts, status);
}

void
store_int_link_locked(struct item *it, uint32_t hv, rel_time_t now, uint64_t cas)
{
    link_locked(it, hv, now, cas);
}

uint64_t
store_int_cas_draw(void)
{
    return store_cas_draw();
}

void
store_int_unlink_locked(struct item *it, uint32_t hv)
{
    unlink_locked(it, hv);
}

struct item *
store_int_find_live_locked(const char *key, size_t nkey, uint32_t hv, rel_time_t now, struct store_tstats *ts)
{
    return find_live_locked(key, nkey, hv, now, ts);
}

struct item *
store_int_copy_locked(struct item *it, uint32_t hv, bool own_cas, rel_time_t now, struct store_tstats *ts,
               enum store_status *st)
{
    return copy_locked(it, hv, own_cas, now, ts, st);
}

struct item *
store_int_arith_locked(struct item *it, uint32_t hv, bool incr, uint64_t delta, bool own_cas, rel_time_t now,
                struct store_tstats *ts, uint64_t *out, enum store_status *st)
{
    return arith_locked(it, hv, incr, delta, own_cas, now, ts, out, st);
}

bool
store_int_use_cas(void)
{
    return opts.use_cas;
}
