/*
 * seg_index.h - the segment store prototype's hash index: 2^power buckets
 * of one cache line, each 7 item slots of 8 bytes and an info word (a
 * spinlock and the index of an overflow bucket). Overflow buckets chain;
 * they come from a pool grown in blocks, and the head bucket's lock guards
 * its whole chain.
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

/* The key's 64-bit hash; the bucket is its low bits, the tag its top 12. */
uint64_t seg_hash(const char *key, size_t nkey);

static inline uint16_t
seg_hash_tag(uint64_t h)
{
    uint16_t t = (uint16_t)(h >> 52);
    return t != 0 ? t : 1;
}

/* 2^power head buckets (power <= 30), and room for up to `overflow_max`
 * overflow buckets. Returns 0, or -1 (out of memory). */
int seg_index_setup(unsigned power, uint32_t overflow_max);
void seg_index_teardown(void);

/* Locks and returns the head bucket of hash h (a spinlock: held for a
 * look-up and a slot change, never across anything that blocks). */
struct seg_bucket *seg_index_lock(uint64_t h);
void seg_index_unlock(struct seg_bucket *b);

/* The next bucket of b's chain, or NULL. Under the head's lock. */
struct seg_bucket *seg_index_next(const struct seg_bucket *b);

/* An empty slot in head's chain, adding an overflow bucket when all are
 * full; NULL when the overflow pool is used up. Under the head's lock. */
uint64_t *seg_index_free_slot(struct seg_bucket *head);

/* Finds the slot pointing at (seg, off) in head's chain; NULL if none.
 * Under the head's lock. */
uint64_t *seg_index_find_loc(struct seg_bucket *head, uint16_t tag, uint32_t seg, uint32_t off);

/* Calls fn for every head bucket, locked (each in turn). */
void seg_index_walk(void (*fn)(struct seg_bucket *head, void *arg), void *arg);
/* log2 of the number of head buckets */
unsigned seg_index_power(void);

/* Bytes the index takes: head buckets and overflow buckets handed out. */
size_t seg_index_bytes(void);
uint32_t seg_index_overflow_used(void);

/* Head bucket i (< 2^power), not locked: a walk in slices reads its slots
 * (relaxed) to pass over an empty bucket without touching its lock (and
 * so without committing the page of a bucket never used), then locks it
 * with seg_index_lock(i). */
const struct seg_bucket *seg_index_head(uint64_t i);

#endif /* MCD_SEG_INDEX_H */
