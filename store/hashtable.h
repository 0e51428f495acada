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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct item;

#define HT_STRIPES_POWER_MAX 7 /* the stripe takes 7 bits of an item's state (item.h) */
#define HT_POWER_MAX 31

int ht_setup(unsigned hashpower);
void ht_teardown(void);

/*
 * The key's hash: 64-bit multiply-fold mixing, 8 bytes a step. A key of
 * up to 16 bytes is read as two (possibly overlapping) words that cover
 * every byte, so its hash costs two loads and two 64x64->128 multiplies
 * (about 20 instructions, where the byte-wise murmur3 it replaced took
 * about 60 for a 16-byte key; doc/performance.md). Longer keys fold 16
 * bytes a step, then the last 16. Each fold adds its inputs back to the
 * product, so that one factor of zero does not erase the other (a key
 * chosen to zero a factor still gets a hash that depends on its other
 * bytes). Internal only: nothing outside the process sees these values
 * (`stats settings` reports memcached's hash_algorithm, which has no
 * effect here; memcached-compat.md).
 */
#define HT_K0 UINT64_C(0x9e3779b97f4a7c15)
#define HT_K1 UINT64_C(0xd6e8feb86659fd93)
#define HT_K2 UINT64_C(0xa0761d6478bd642f)
#define HT_K3 UINT64_C(0xe7037ed1a0b428db)

static inline uint64_t
ht_read64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint64_t
ht_read32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* The 128-bit product of a and b folded to 64 bits, plus both inputs. */
static inline uint64_t
ht_fold(uint64_t a, uint64_t b)
{
    unsigned __int128 r = (unsigned __int128)a * b;
    return ((uint64_t)r ^ (uint64_t)(r >> 64)) + a + b;
}

static inline uint32_t
ht_hash(const char *key, size_t nkey)
{
    const unsigned char *p = (const unsigned char *)key;
    uint64_t seed = HT_K0 ^ nkey, a, b;
    if (nkey <= 16) {
        if (nkey >= 8) {
            a = ht_read64(p);
            b = ht_read64(p + nkey - 8);
        } else if (nkey >= 4) {
            a = ht_read32(p);
            b = ht_read32(p + nkey - 4);
        } else if (nkey > 0) {
            a = (uint64_t)p[0] << 16 | (uint64_t)p[nkey >> 1] << 8 | p[nkey - 1];
            b = 0;
        } else {
            a = b = 0;
        }
    } else {
        size_t n = nkey;
        do {
            seed = ht_fold(ht_read64(p) ^ HT_K1, ht_read64(p + 8) ^ seed);
            p += 16;
            n -= 16;
        } while (n > 16);
        a = ht_read64(p + n - 16);
        b = ht_read64(p + n - 8);
    }
    uint64_t h = ht_fold(a ^ HT_K1, b ^ seed);
    h = ht_fold(h ^ HT_K2, (uint64_t)nkey ^ HT_K3);
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
