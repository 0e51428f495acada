/*
 * lru.h - one LRU list per slab class: link, unlink, rate-limited bump,
 * eviction from the tail.
 *
 * The list lives in struct slab_class and is guarded by the class lock.
 * Head = most recently linked or bumped; tail = first to go. The list may
 * contain the class's sweep marker (ITEM_MARKER), which every walker skips.
 */
#ifndef MCD_STORE_LRU_H
#define MCD_STORE_LRU_H

#include "store/store.h"

#include <stdbool.h>
#include <stdint.h>

struct item;
struct slab_class;

/* A hit moves an item to the head at most this often (seconds). */
#define ITEM_UPDATE_INTERVAL 60
/* Items looked at from the tail per eviction attempt. */
#define LRU_EVICT_TRIES 5

/* Raw list operations (class lock held); no counters. */
void lru_insert_head_locked(struct slab_class *c, struct item *it);
void lru_remove_locked(struct slab_class *c, struct item *it);

/* Adds a just-linked item to its LRU and the class counters.
 * Stripe lock and class lock held. */
void lru_link_locked(struct slab_class *c, struct item *it);

/*
 * Takes a linked item out of the hash table and its LRU and clears
 * LINKED, with the stripe lock of hv AND the class lock held. Does not
 * drop the link's reference: the caller does (item_release_locked) or
 * reuses the chunk.
 */
void lru_unlink_item_locked(struct slab_class *c, struct item *it, uint32_t hv);

/* Moves `it` to the head if its atime is older than ITEM_UPDATE_INTERVAL
 * and updates atime. Stripe lock held; takes the class lock. */
void lru_bump(struct item *it, rel_time_t now);

/*
 * Frees one chunk by pulling an item off the tail (class lock held): an
 * expired/flushed item is reclaimed; otherwise, when `evict`, the oldest
 * item nobody else references is evicted. Stripe locks are only
 * trylocked. Returns the chunk (refcount 1, unlinked) or NULL.
 */
struct item *lru_pull_tail_locked(struct slab_class *c, rel_time_t now, bool evict,
                                  struct store_tstats *ts);

/* The tail item (marker skipped) or NULL. Class lock held. */
struct item *lru_tail_locked(struct slab_class *c);

#endif /* MCD_STORE_LRU_H */
