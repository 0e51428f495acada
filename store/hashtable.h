/*
 * hashtable.h - the key -> item index: chained buckets, striped locks,
 * incremental growth.
 *
 * Locks: 2^k stripe mutexes (k = min(7, initial hashpower)); a key's
 * stripe is hash & stripe_mask. At most 128, so that an item can record
 * the stripe it is linked under in 7 bits of its state (item.h). Because there are never more stripes than
 * buckets, all items of one bucket - and of the two buckets it splits into
 * on growth - share one stripe. The stripe lock guards those buckets'
 * chains (h_next), the items' LINKED flag, and is what every store
 * operation on a key holds. There is no global lock on the request path.
 */
#ifndef MCD_STORE_HASHTABLE_H
#define MCD_STORE_HASHTABLE_H

#include "store/debug.h"
#include "store/keyhash.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct item;

#define HT_STRIPES_POWER_MAX 7 /* the stripe takes 7 bits of an item's state (item.h) */
#define HT_POWER_MAX 31

int ht_setup(unsigned hashpower);
void ht_teardown(void);

/* The key's hash (store/keyhash.h), folded to 32 bits. */
static inline uint32_t
ht_hash(const char *key, size_t nkey)
{
    uint64_t h = key_hash64(key, nkey);
    return (uint32_t)h ^ (uint32_t)(h >> 32);
}

/* The stripe of hv: 0 .. 2^k - 1. ht_lock(stripe) locks the same mutex as ht_lock(hv). */
uint32_t ht_stripe(uint32_t hv);
void ht_lock(uint32_t hv);
void ht_unlock(uint32_t hv);
/* Non-blocking, for callers holding a class lock (reverse lock order). */
bool ht_trylock(uint32_t hv);

/* Debug builds (debug.h): whether this thread holds the stripe lock of
 * hv, from the stripe's owner record; ht_assert_locked(hv) asserts it in
 * every function whose contract is "stripe lock held", and is nothing in
 * a release build. */
#if STORE_DEBUG
bool ht_holds(uint32_t hv);
#define ht_assert_locked(hv) STORE_ASSERT(ht_holds(hv))
#else
#define ht_assert_locked(hv) ((void)0)
#endif

/* The items below require the stripe lock of hv. */
struct item *ht_find_locked(const char *key, size_t nkey, uint32_t hv);
void ht_insert_locked(struct item *it, uint32_t hv);
/* Removes `it` (must be in the table) from its chain. */
void ht_remove_locked(struct item *it, uint32_t hv);

/* The number of stripes; stripe s is locked by ht_lock(s). */
unsigned ht_nstripes(void);
/* Calls fn on every item linked under stripe s (both tables while the
 * table grows). fn may unlink the item it is given, and nothing else.
 * Stripe lock of s held. */
void ht_walk_stripe_locked(uint32_t s, void (*fn)(struct item *it, void *arg), void *arg);

/* True when `items` is above 1.5 x buckets and no expansion is running. */
bool ht_expand_due(uint64_t items);
/* Allocates a table twice as large and starts migrating into it. Takes
 * each stripe lock in turn (never two at once) to switch that stripe to
 * the new table. False if it could not (no memory, at max). */
bool ht_expand_start(void);
/* Migrates up to `max_buckets` old buckets, each under only its own stripe
 * lock; finishes the expansion (each stripe lock in turn) after the last.
 * Returns true while an expansion is still in progress. */
bool ht_expand_step(size_t max_buckets);

unsigned ht_power(void);
uint64_t ht_bytes(void);
bool ht_is_expanding(void);

#endif /* MCD_STORE_HASHTABLE_H */
