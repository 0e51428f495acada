/*
 * lru.c - CLOCK replacement per slab class (see lru.h).
 *
 * Owns each class's hand (hand_page, hand_idx), under the class lock.
 * Lock order is stripe lock -> class lock; eviction runs with the class
 * lock held and therefore only trylocks a victim's stripe lock, skipping
 * the victim when it is busy. An item someone holds a reference to
 * (refcount > 1) is never evicted: its chunk could not be reused.
 *
 * The hand only reads chunks that were carved (slab_carved_locked): such a
 * chunk is on the free list (ITEM_FREE), in a thread's chunk cache, or in
 * use. Items are linked and unlinked under their stripe lock alone, and a
 * cached chunk is reused without any class lock, so before the stripe lock
 * is held the hand reads nothing but the atomic `state` (and refcount): the
 * stripe comes from `state`, and once it is trylocked item_linked_under()
 * says whether the chunk still holds an item linked under it. Only then
 * are its key and sizes read.
 */
#include "config.h"

#include "store/lru.h"
#include "store/expire.h"
#include "store/hashtable.h"
#include "store/item.h"
#include "store/slab.h"
#include "store/tcache.h"
#include "store/watch_hook.h"

#include <pthread.h>

void
lru_link_locked(struct item *it, uint32_t hv)
{
    ht_assert_locked(hv);
    tcache_count_items(it->clsid, 1, (int64_t)item_size(it));
    item_mark_linked_locked(it, ht_stripe(hv));
}

void
lru_unlink_item_locked(struct item *it, uint32_t hv)
{
    ht_assert_locked(hv);
    STORE_ASSERT(item_linked_under(it, ht_stripe(hv)) && item_refcount(it) >= 1);
    ht_remove_locked(it, hv);
    item_iflag_clear(it, ITEM_LINKED | ITEM_ACTIVE);
    tcache_count_items(it->clsid, -1, -(int64_t)item_size(it));
}

bool
lru_trylock_linked(struct item *it, uint16_t st, bool unreferenced, uint32_t *hv)
{
    unsigned stripe = item_state_stripe(st);
    if (!ht_trylock(stripe))
        return false;
    if (!item_linked_under(it, stripe) || (unreferenced && item_refcount(it) != 1)) {
        ht_unlock(stripe);
        return false;
    }
    *hv = ht_hash(slab_item_key(it), it->nkey);
    return true;
}

void
lru_bump_locked(struct item *it, rel_time_t now)
{
    STORE_ASSERT(!(item_iflags(it) & ITEM_LINKED) || ht_holds(item_state_stripe(item_state(it))));
    if (!(item_iflags(it) & ITEM_ACTIVE))
        item_iflag_set(it, ITEM_ACTIVE);
    if (slab_item_atime(it) + ITEM_UPDATE_INTERVAL < now)
        item_set_atime(it, now);
}

/* The chunk under the hand, which then moves one step, crossing to the
 * next page (and wrapping round) as needed: a page boundary costs no step,
 * so a class of one chunk a page is scanned chunk by chunk as any other.
 * NULL when no page has a carved chunk. Class lock held, npages > 0. */
static struct item *
hand_step_locked(struct slab_class *c)
{
    slab_assert_locked(c);
    if (c->hand_page >= c->npages) {
        c->hand_page = 0;
        c->hand_idx = 0;
    }
    for (size_t crossed = 0; c->hand_idx >= slab_carved_locked(c, c->hand_page); crossed++) {
        if (crossed > c->npages)
            return NULL;
        c->hand_page = c->hand_page + 1 < c->npages ? c->hand_page + 1 : 0;
        c->hand_idx = 0;
    }
    return slab_chunk_locked(c, c->hand_page, c->hand_idx++);
}

/* Chunks one eviction attempt may look at: LRU_EVICT_SWEEPS rounds of the
 * class, but rounds of at most max(perslab, LRU_EVICT_ROUND_CAP) chunks,
 * so that a big class costs what it always did (two pages' worth) and a
 * class of a few chunks a page is still gone round twice: every ACTIVE
 * bit cleared on the first round, a victim found on the second. Class
 * lock held. */
static uint64_t
evict_budget_locked(const struct slab_class *c)
{
    uint64_t round = (uint64_t)c->npages * c->perslab;
    uint64_t cap = c->perslab > LRU_EVICT_ROUND_CAP ? c->perslab : LRU_EVICT_ROUND_CAP;
    return (uint64_t)LRU_EVICT_SWEEPS * (round < cap ? round : cap);
}

struct item *
lru_hand_item_locked(struct slab_class *c)
{
    slab_assert_locked(c);
    if (c->npages == 0)
        return NULL;
    size_t page = c->hand_page < c->npages ? c->hand_page : 0;
    uint32_t idx = c->hand_page < c->npages ? c->hand_idx : 0;
    for (unsigned n = 0; n < 1024; n++) {
        if (idx >= slab_carved_locked(c, page)) {
            page = page + 1 < c->npages ? page + 1 : 0;
            idx = 0;
            continue;
        }
        struct item *it = slab_chunk_locked(c, page, idx++);
        if (item_iflags(it) & ITEM_LINKED)
            return it;
    }
    return NULL;
}

/* One chunk under the hand, for lru_evict_locked(): NULL when it is not
 * a victim (free, unlinked, ACTIVE unless `force` (the bit is then
 * cleared: a second chance), referenced, its stripe busy, or live when
 * not `evict`); else the item, reclaimed or evicted and counted, unlinked
 * with refcount 1. Class lock held. */
static struct item *
victim_locked(struct slab_class *c, struct item *it, rel_time_t now, bool evict, bool force,
              struct store_tstats *ts)
{
    uint16_t st = item_state(it);
    if (!(st & ITEM_LINKED))
        return NULL; /* free, cached, or allocated and not linked (yet or any more) */
    if ((st & ITEM_ACTIVE) && !force) {
        item_iflag_clear(it, ITEM_ACTIVE); /* second chance */
        return NULL;
    }
    if (item_refcount(it) > 1)
        return NULL;
    uint32_t hv;
    if (!lru_trylock_linked(it, st, true, &hv))
        return NULL;
    /* No new reference can appear now that we hold the stripe lock. */
    bool fetched = (item_iflags(it) & ITEM_FETCHED) != 0;
    enum expire_state es = expire_state(it, now);
    if (es != EXPIRE_LIVE) {
        STAT_INC(ts->reclaimed);
        STAT_INC(c->reclaimed);
        if (!fetched) {
            STAT_INC(ts->expired_unfetched);
            STAT_INC(c->expired_unfetched);
        }
    } else if (evict) {
        store_int_evicting(it, now);
        rel_time_t at = slab_item_atime(it);
        STAT_INC(ts->evictions);
        STAT_INC(c->evicted);
        atomic_store_explicit(&c->evicted_time, now > at ? now - at : 0, memory_order_relaxed);
        if (!fetched) {
            STAT_INC(ts->evicted_unfetched);
            STAT_INC(c->evicted_unfetched);
        }
        if (at + ITEM_UPDATE_INTERVAL >= now) {
            STAT_INC(ts->evicted_active);
            STAT_INC(c->evicted_active);
        }
    } else {
        ht_unlock(hv);
        return NULL;
    }
    lru_unlink_item_locked(it, hv);
    STORE_ASSERT(item_refcount(it) == 1);
    ht_unlock(hv);
    /* The chunk keeps the link's reference, which becomes the caller's. */
    tcache_count_requested(it->clsid, -(int64_t)item_size(it));
    return it;
}

struct item *
lru_evict_locked(struct slab_class *c, rel_time_t now, bool evict, struct store_tstats *ts)
{
    slab_assert_locked(c);
    if (c->npages == 0)
        return NULL;
    for (uint64_t steps = evict_budget_locked(c); steps > 0; steps--) {
        struct item *it = hand_step_locked(c);
        if (it == NULL)
            return NULL;
        if ((it = victim_locked(c, it, now, evict, false, ts)) != NULL)
            return it;
    }
    /* Every item the budget reached was hit since the hand last passed
     * (right after a multiget of every key, say) or was busy: rather than
     * fail the set (and send its thread to borrow another class's page),
     * the next unreferenced item goes, hit or not. */
    for (unsigned steps = LRU_EVICT_FORCE_STEPS; steps > 0; steps--) {
        struct item *it = hand_step_locked(c);
        if (it == NULL)
            return NULL;
        if ((it = victim_locked(c, it, now, evict, true, ts)) != NULL)
            return it;
    }
    return NULL;
}
