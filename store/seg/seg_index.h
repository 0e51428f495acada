/*
 * seg_index.h - the segment store's hash index: head buckets of one cache
 * line, each 7 item slots of 8 bytes and an info word (a spinlock and the
 * index of an overflow bucket). Overflow buckets chain; they come from a
 * pool grown in blocks, and the head bucket's lock guards its whole chain.
 *
 * The index grows by linear hashing: 2^level + p head buckets, a key's
 * bucket b = h mod 2^level, or h mod 2^(level+1) when b < p. Splitting
 * bucket p moves its keys with bit `level` set to bucket p + 2^level, then
 * advances p; when p reaches 2^level, level + 1 and p = 0. Head buckets
 * live in one mapping reserved for the largest index (a page costs memory
 * once a bucket on it is first used), so a bucket never moves and a reader
 * never holds an old table: seg_index_lock() locks the bucket its hash
 * maps to, then checks that a split did not move the key while it waited.
 *
 * A slot (0 = empty; the tag is never 0):
 *   bits  0..11  tag: 12 bits of the key's hash, compared before the item
 *                is touched (a miss reads the bucket line only, 1 in 4096
 *                slots costs an item read)
 *   bits 12..19  access frequency (saturating, probabilistic above 16)
 *   bits 20..41  item offset / SEG_ALIGN in its segment
 *   bits 42..63  segment id
 */
#ifndef MCD_SEG_INDEX_H
#define MCD_SEG_INDEX_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/keyhash.h"
#include "store/seg/segment.h"

#define SEG_BUCKET_SLOTS 7u

struct seg_bucket {
    _Alignas(64) uint64_t slot[SEG_BUCKET_SLOTS];
    _Atomic uint32_t lock;    /* head buckets: 0 free, 1 held */
    uint32_t next;            /* overflow bucket index + 1; 0: end of chain */
};

static inline uint64_t
seg_slot_make(uint32_t seg, uint32_t off, uint16_t tag, uint8_t freq)
{
    return (uint64_t)tag | ((uint64_t)freq << 12) | ((uint64_t)(off >> SEG_ALIGN_SHIFT) << 20) | ((uint64_t)seg << 42);
}

static inline uint16_t
seg_slot_tag(uint64_t s)
{
    return (uint16_t)(s & 0xfff);
}

static inline uint8_t
seg_slot_freq(uint64_t s)
{
    return (uint8_t)((s >> 12) & 0xff);
}

static inline uint32_t
seg_slot_off(uint64_t s)
{
    return (uint32_t)((s >> 20) & 0x3fffff) << SEG_ALIGN_SHIFT;
}

static inline uint32_t
seg_slot_seg(uint64_t s)
{
    return (uint32_t)(s >> 42);
}

static inline uint64_t
seg_slot_with_freq(uint64_t s, uint8_t freq)
{
    return (s & ~((uint64_t)0xff << 12)) | ((uint64_t)freq << 12);
}

/* The key's 64-bit hash (store/keyhash.h, the slab store's too); the
 * bucket is its low bits, the tag its top 12. */
static inline uint64_t
seg_hash(const char *key, size_t nkey)
{
    return key_hash64(key, nkey);
}

static inline uint16_t
seg_hash_tag(uint64_t h)
{
    uint16_t t = (uint16_t)(h >> 52);
    return t != 0 ? t : 1;
}

/* The hash of the key a slot points at (the grower recomputes it: a slot
 * keeps 12 bits only). Called under the slot's bucket lock. */
typedef uint64_t (*seg_slot_hash_fn)(uint64_t slot);

/* 2^power head buckets, growing up to 2^power_max (power <= power_max <=
 * 30; power_max < power: no growth), and room for up to `overflow_max`
 * overflow buckets; large_pages: the heads' mapping asks for huge pages
 * (store/largepage.h). Returns 0, or -1 (out of memory). */
int seg_index_setup(unsigned power, unsigned power_max, uint32_t overflow_max, seg_slot_hash_fn hash,
                    bool large_pages);
void seg_index_teardown(void);

/* Splits head buckets, at most max_splits, while the index is due to grow:
 * one bucket at a time while `items` > 85% of the head slots (7 x
 * (2^level + p)), so the index keeps ~6 items a bucket (~10.8 bytes an
 * item) at every size; doubling whole at 0.85 x 7 x 2^level (memcached's
 * way) held 1M items in 2^18 buckets, 16.8 bytes an item. One grower at
 * a time: returns 0 at once if another thread is growing. Holds no lock
 * but the two buckets it splits (and the overflow pool's, briefly); the
 * caller must hold no bucket lock. Returns the buckets split. */
unsigned seg_index_grow(uint64_t items, unsigned max_splits);
/* True when the index has taken an overflow bucket since the last
 * seg_index_grow(): cheap (one relaxed load), a hint that growth may be
 * due. */
bool seg_index_grow_hint(void);
/* A grower is splitting buckets now (stats' hash_is_expanding). */
bool seg_index_expanding(void);

/* The index's shape, read on every look-up (seg_index.c owns it). */
struct seg_index_shape {
    struct seg_bucket *heads;  /* the mapping: 2^level_max buckets */
    /* (2^level - 1) << 32 | p: the one grower stores it (release) after
     * it moved a bucket's keys, before it unlocks the bucket */
    _Atomic uint64_t mp;
};
extern struct seg_index_shape seg_index_g;

/* The head bucket of hash h at shape mp. */
static inline uint64_t
seg_index_bucket_of(uint64_t h, uint64_t mp)
{
    uint64_t mask = mp >> 32, b = h & mask;
    if (b < (uint32_t)mp)
        b = h & (mask << 1 | 1);
    return b;
}

struct seg_bucket *seg_index_lock_slow(uint64_t h);
void seg_index_spin_wait(_Atomic uint32_t *l);

/* Locks and returns the head bucket of hash h (a spinlock: held for a
 * look-up and a slot change, never across anything that blocks). */
static inline struct seg_bucket *
seg_index_lock(uint64_t h)
{
    uint64_t mp = atomic_load_explicit(&seg_index_g.mp, memory_order_acquire);
    uint64_t b = seg_index_bucket_of(h, mp);
    struct seg_bucket *hb = &seg_index_g.heads[b];
    if (atomic_exchange_explicit(&hb->lock, 1, memory_order_acquire) != 0)
        seg_index_spin_wait(&hb->lock);
    /* a split of b that ran while this thread waited is finished (its
     * grower stored mp before it unlocked b): did it move h? */
    uint64_t now = atomic_load_explicit(&seg_index_g.mp, memory_order_relaxed);
    if (__builtin_expect(now != mp, 0) && seg_index_bucket_of(h, now) != b) {
        atomic_store_explicit(&hb->lock, 0, memory_order_release);
        return seg_index_lock_slow(h);
    }
    return hb;
}

static inline void
seg_index_unlock(struct seg_bucket *b)
{
    atomic_store_explicit(&b->lock, 0, memory_order_release);
}

/* The next bucket of b's chain, or NULL. Under the head's lock. */
struct seg_bucket *seg_index_next(const struct seg_bucket *b);

/* An empty slot in head's chain, adding an overflow bucket when all are
 * full; NULL when the overflow pool is used up. Under the head's lock. */
uint64_t *seg_index_free_slot(struct seg_bucket *head);

/* Finds the slot pointing at (seg, off) in head's chain; NULL if none.
 * Under the head's lock. */
uint64_t *seg_index_find_loc(struct seg_bucket *head, uint16_t tag, uint32_t seg, uint32_t off);

/* Calls fn for every head bucket, locked (each in turn; a bucket split
 * meanwhile may be seen twice, a key never missed). */
void seg_index_walk(void (*fn)(struct seg_bucket *head, void *arg), void *arg);
/* the level: 2^level <= head buckets < 2^(level+1) (p > 0: part way to
 * the next level) */
unsigned seg_index_power(void);
/* head buckets: 2^level + p */
uint64_t seg_index_heads(void);

/* Bytes the index takes: head buckets and overflow buckets in chains. */
size_t seg_index_bytes(void);
uint32_t seg_index_overflow_used(void);

/* Head bucket i (< seg_index_heads()), not locked: a walk in slices
 * reads its slots (relaxed) to pass over an empty bucket without touching
 * its lock (and so without committing its page). */
const struct seg_bucket *seg_index_head(uint64_t i);
/* Locks and returns head bucket i itself (i < seg_index_heads(): a head
 * bucket, once there, stays). A walk that must see each key once locks a
 * bucket group this way, in ascending order, as a split does. */
struct seg_bucket *seg_index_lock_at(uint64_t i);

#endif /* MCD_SEG_INDEX_H */
