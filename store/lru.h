/*
 * lru.h - replacement by CLOCK, one hand per slab class: link/unlink
 * bookkeeping, the lock-free hit mark, eviction at the hand.
 *
 * (The file keeps its historical name; there is no list any more.) A hit
 * sets ITEM_ACTIVE on the item with a relaxed atomic OR and takes no lock.
 * Eviction, with the class lock held, advances the class's hand over the
 * chunks of its pages in page order: free chunks and unlinked ones are
 * skipped, a linked ACTIVE item loses the bit (second chance), an expired
 * or flushed one is reclaimed, any other is evicted if nobody else holds a
 * reference and its stripe lock can be trylocked. When a bounded look
 * finds only hit items, the next unreferenced one goes all the same.
 */
#ifndef MCD_STORE_LRU_H
#define MCD_STORE_LRU_H

#include "store/item.h"
#include "store/store.h"

#include <stdbool.h>
#include <stdint.h>

struct item;
struct slab_class;

/* A hit refreshes an item's atime at most this often (seconds). */
#define ITEM_UPDATE_INTERVAL 60
/* Rounds of its class the hand may go per eviction attempt (a second
 * round finds the items whose ACTIVE bit the first one cleared)... */
#define LRU_EVICT_SWEEPS 2
/* ...where a round is the class's carved chunks, but at most
 * max(perslab, LRU_EVICT_ROUND_CAP) of them. */
#define LRU_EVICT_ROUND_CAP 4096
/* Then, when that found no victim, chunks the hand may go on over taking
 * the first unreferenced item, ACTIVE or not. */
#define LRU_EVICT_FORCE_STEPS 64

/* Counts a just-inserted item into this thread's counters and sets LINKED
 * with its stripe (item_mark_linked_locked). Stripe lock of hv held. */
void lru_link_locked(struct item *it, uint32_t hv);

/*
 * Takes a linked item out of the hash table, clears LINKED and uncounts
 * it, with the stripe lock of hv held. Does not drop the link's reference:
 * the caller does (item_release) or reuses the chunk.
 */
void lru_unlink_item_locked(struct item *it, uint32_t hv);

/*
 * For a walker over chunks holding a class lock: `st` is item_state(it)
 * with LINKED seen. Trylocks the stripe recorded in `st`, then checks that
 * `it` is still linked under it and, when `unreferenced`, that it has no
 * reference but the link's. On true the stripe lock is held (release it
 * with ht_unlock(*hv)) and *hv is the key's hash; on false no lock is held.
 */
bool lru_trylock_linked(struct item *it, uint16_t st, bool unreferenced, uint32_t *hv);

/* A hit: sets ITEM_ACTIVE (if not set yet) and refreshes atime when it is
 * older than ITEM_UPDATE_INTERVAL. Stripe lock held; no other lock. */
void lru_bump_locked(struct item *it, rel_time_t now);

/* A read hit: marks the item FETCHED and, when `bump`, does lru_bump_locked().
 * Each bit is written only when it is not set yet, so a hot item's cache
 * line is not dirtied on every read. Stripe lock held; no other lock. */
static inline void
lru_hit_locked(struct item *it, rel_time_t now, bool bump)
{
    uint8_t want = bump ? (uint8_t)(ITEM_FETCHED | ITEM_ACTIVE) : (uint8_t)ITEM_FETCHED;
    if ((item_iflags(it) & want) != want)
        item_iflag_set(it, want);
    if (bump && slab_item_atime(it) + ITEM_UPDATE_INTERVAL < now)
        item_set_atime(it, now);
}

/*
 * Frees one chunk by advancing the class's hand (class lock held), at most
 * LRU_EVICT_SWEEPS rounds of the class (a round capped as said above): an
 * expired/flushed item is reclaimed;
 * otherwise, when `evict`, the first unreferenced item without ACTIVE is
 * evicted. When the budget finds none, the hand goes on at most
 * LRU_EVICT_FORCE_STEPS more chunks and evicts the first unreferenced
 * item, ACTIVE or not. Stripe locks are only trylocked. Returns the chunk (refcount 1,
 * unlinked) or NULL.
 */
struct item *lru_evict_locked(struct slab_class *c, rel_time_t now, bool evict,
                              struct store_tstats *ts);

/* The first linked item at or after the hand (a bounded look, the hand
 * does not move), or NULL. Class lock held. */
struct item *lru_hand_item_locked(struct slab_class *c);

#endif /* MCD_STORE_LRU_H */
