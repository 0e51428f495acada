/*
 * lru.c - per-class LRU: order, bumps and eviction.
 *
 * Owns the prev/next links of linked items and the head/tail of each
 * class's list, all under that class's lock. Lock order is stripe lock ->
 * class lock; eviction runs with the class lock held and therefore only
 * trylocks a victim's stripe lock, skipping the victim when it is busy.
 * An item someone holds a reference to (refcount > 1) is never evicted:
 * its chunk could not be reused.
 */
#include "config.h"

#include "store/lru.h"
#include "store/expire.h"
#include "store/hashtable.h"
#include "store/item.h"
#include "store/slab.h"

#include <pthread.h>

void
lru_insert_head_locked(struct slab_class *c, struct item *it)
{
    it->prev = NULL;
    it->next = c->head;
    if (c->head != NULL)
        c->head->prev = it;
    c->head = it;
    if (c->tail == NULL)
        c->tail = it;
}

void
lru_remove_locked(struct slab_class *c, struct item *it)
{
    if (it->prev != NULL)
        it->prev->next = it->next;
    else
        c->head = it->next;
    if (it->next != NULL)
        it->next->prev = it->prev;
    else
        c->tail = it->prev;
    it->prev = it->next = NULL;
}

void
lru_link_locked(struct slab_class *c, struct item *it)
{
    lru_insert_head_locked(c, it);
    STAT_INC(c->curr_items);
    STAT_ADD(c->bytes, item_size(it));
}

void
lru_unlink_item_locked(struct slab_class *c, struct item *it, uint32_t hv)
{
    ht_remove_locked(it, hv);
    lru_remove_locked(c, it);
    item_iflag_clear(it, ITEM_LINKED);
    STAT_SUB(c->curr_items, 1);
    STAT_SUB(c->bytes, item_size(it));
}

void
lru_bump(struct item *it, rel_time_t now)
{
    if (item_atime(it) + ITEM_UPDATE_INTERVAL >= now)
        return;
    struct slab_class *c = slab_class_get(it->clsid);
    pthread_mutex_lock(&c->lock);
    if (item_iflags(it) & ITEM_LINKED) {
        lru_remove_locked(c, it);
        lru_insert_head_locked(c, it);
        item_set_atime(it, now);
    }
    pthread_mutex_unlock(&c->lock);
}

struct item *
lru_tail_locked(struct slab_class *c)
{
    struct item *it = c->tail;
    while (it != NULL && (item_iflags(it) & ITEM_MARKER))
        it = it->prev;
    return it;
}

struct item *
lru_pull_tail_locked(struct slab_class *c, rel_time_t now, bool evict, struct store_tstats *ts)
{
    int tries = LRU_EVICT_TRIES;
    struct item *it = c->tail;
    while (it != NULL && tries > 0) {
        struct item *prev = it->prev;
        if (item_iflags(it) & ITEM_MARKER) {
            it = prev;
            continue;
        }
        tries--;
        if (item_refcount(it) > 1) {
            it = prev;
            continue;
        }
        uint32_t hv = ht_hash(item_key(it), it->nkey);
        if (!ht_trylock(hv)) {
            it = prev;
            continue;
        }
        /* No new reference can appear now that we hold the stripe lock. */
        if (item_refcount(it) != 1 || !(item_iflags(it) & ITEM_LINKED)) {
            ht_unlock(hv);
            it = prev;
            continue;
        }
        bool fetched = (item_iflags(it) & ITEM_FETCHED) != 0;
        enum expire_state st = expire_state(it, now);
        if (st != EXPIRE_LIVE) {
            STAT_INC(ts->reclaimed);
            STAT_INC(c->reclaimed);
            if (!fetched) {
                STAT_INC(ts->expired_unfetched);
                STAT_INC(c->expired_unfetched);
            }
        } else if (evict) {
            rel_time_t at = item_atime(it);
            STAT_INC(ts->evictions);
            STAT_INC(c->evicted);
            atomic_store_explicit(&c->evicted_time, now > at ? now - at : 0,
                                  memory_order_relaxed);
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
            it = prev;
            continue;
        }
        lru_unlink_item_locked(c, it, hv);
        ht_unlock(hv);
        /* The chunk keeps the link's reference, which becomes the caller's. */
        STAT_SUB(c->mem_requested, item_size(it));
        return it;
    }
    return NULL;
}
