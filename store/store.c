/*
 * store.c - the store's life cycle, allocation, the steps every operation
 * on a key is made of (link, unlink, replace, copy, under the key's stripe
 * lock: store_internal.h) and the statistics. The operations themselves
 * are store_get.c, store_link.c, store_delete.c and store_arith.c.
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

#include "store/engine.h"

#include "store/store.h"
#include "store/clock.h"
#include "store/crawler.h"
#include "store/expire.h"
#include "store/hashtable.h"
#include "store/item.h"
#include "store/lru.h"
#include "store/automove.h"
#include "store/rebalance.h"
#include "store/slab.h"
#include "store/store_internal.h"
#include "store/tcache.h"

#include <errno.h>
#include <string.h>

static struct store_options opts;

int
store_setup(const struct store_options *o)
{
    if (o->segments)
        return store_int_seg_setup(o);
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
    if (automove_setup(&opts, opts.background_threads) != 0) {
        int e = errno;
        expire_thread_stop();
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
    STORE_SEG_ROUTE_VOID(store_int_seg_teardown());
    automove_teardown();
    expire_thread_stop();
    crawler_teardown();
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
    STORE_SEG_ROUTE(seg_engine_max_value_len(nkey));
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

struct item *
store_int_alloc(const char *key, size_t nkey, uint32_t flags, rel_time_t exptime, uint64_t nbytes, bool own_cas,
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
    STORE_SEG_ROUTE(seg_engine_alloc(key, nkey, flags, exptime, nbytes, ts, status));
    enum store_status st;
    struct item *it = store_int_alloc(key, nkey, flags, exptime, nbytes, false, ts, &st);
    if (status != NULL)
        *status = st;
    return it;
}

uint64_t
store_int_cas_draw(void)
{
    return opts.use_cas ? item_cas_next() : 0;
}

bool
store_int_use_cas(void)
{
    return opts.use_cas;
}

void
store_int_link_locked(struct item *it, uint32_t hv, rel_time_t now, uint64_t cas)
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

void
store_int_unlink_locked(struct item *it, uint32_t hv)
{
    ht_assert_locked(hv);
    lru_unlink_item_locked(it, hv);
    slab_item_release(it);
}

void
store_int_replace_locked(struct item *old, struct item *it, uint32_t hv, rel_time_t now, uint64_t cas)
{
    store_int_unlink_locked(old, hv);
    store_int_link_locked(it, hv, now, cas);
}

struct item *
store_int_copy_locked(struct item *it, uint32_t hv, bool own_cas, rel_time_t now, struct store_tstats *ts,
                      enum store_status *st)
{
    ht_assert_locked(hv);
    struct item *nit = store_int_alloc(slab_item_key(it), it->nkey, it->flags, slab_item_exptime(it), it->nbytes, own_cas, ts,
                                       st);
    if (nit == NULL)
        return NULL;
    memcpy(slab_item_data(nit), slab_item_data(it), it->nbytes);
    if (item_key_binary(it))
        item_set_key_binary(nit);
    uint8_t keep = item_iflags(it) & (ITEM_FETCHED | ITEM_ACTIVE | ITEM_STALE | ITEM_TOKEN_SENT);
    rel_time_t atime = slab_item_atime(it);
    store_int_replace_locked(it, nit, hv, now, item_seq(it));
    item_iflag_set(nit, keep);
    item_set_atime(nit, atime);
    slab_item_release(nit); /* the link holds it */
    return nit;
}

bool
item_key_binary(const struct item *it)
{
    STORE_SEG_ROUTE(seg_engine_item_key_binary(it));
    return (item_state(it) & ITEM_KEY_BINARY) != 0;
}

void
item_set_key_binary(struct item *it)
{
    STORE_SEG_ROUTE_VOID(seg_engine_item_set_key_binary(it));
    atomic_fetch_or_explicit(&it->state, ITEM_KEY_BINARY, memory_order_relaxed);
}

/* ---- statistics ---- */

unsigned
store_class_count(void)
{
    STORE_SLAB_ONLY(1); /* segments: one class, 1 */
    return slab_nclasses();
}

bool
store_class_info(unsigned id, struct store_class_info *out)
{
    STORE_SEG_ROUTE(seg_engine_class_info(id, out));
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
    if (hand != NULL && slab_item_atime(hand) < now)
        out->oldest_age = now - slab_item_atime(hand);
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
    STORE_SEG_ROUTE_VOID(seg_engine_info(out));
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
    automove_info(out);
}
