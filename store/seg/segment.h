/*
 * segment.h - the segment store prototype's memory: items appended at their
 * exact size (8-byte aligned) to fixed-size segments, and the segment pool
 * (free list, TTL buckets' chains, the merge spare, segments left draining
 * while readers hold them). Standalone: nothing of store/ or server/.
 *
 * An item, 8-byte aligned (SEG_ALIGN), at a byte offset of its segment:
 *
 *   0        8          12            12+nkey (or 8+nkey without flags)
 *   | header | [flags]  | key ...     | value ... | pad to 8 |
 *
 *   header (one little-endian uint64):
 *     bits  0..7   nkey (1..250)
 *     bits  8..31  nbytes, the value length (< 16 MB; <= segment size)
 *     bit  32      client flags follow (only when non-zero)
 *     bits 33..63  CAS delta: a signed 31-bit offset from the segment's
 *                  cas_base (CAS = cas_base + delta)
 *
 * A 16-byte key with a 100-byte value and no flags is 8 + 16 + 100 = 124,
 * 128 bytes with padding. No refcount, exptime, atime or links per item:
 * the segment holds the references (readers pin a whole segment), the
 * expiry time (its TTL bucket's) and the age (its position in the chain);
 * the access frequency lives in the index slot (seg_index.h).
 *
 * Whether an item is live is decided by the index alone: an item is live
 * iff an index slot points at it. Nothing in a published item is ever
 * written again (overwrite and delete change the index and the segment's
 * counters only), so readers need no lock to read an item they pinned.
 */
#ifndef MCD_SEG_SEGMENT_H
#define MCD_SEG_SEGMENT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Items start at multiples of 2^SEG_ALIGN_SHIFT bytes (8 by default;
 * bench/seg-sim.sh also builds the store with 0, items packed at their
 * exact size, to measure what the padding costs). */
#ifndef SEG_ALIGN_SHIFT
#define SEG_ALIGN_SHIFT 3
#endif
#define SEG_ALIGN (1u << SEG_ALIGN_SHIFT)
#define SEG_HDR_SIZE 8u
#define SEG_NBYTES_MAX ((1u << 24) - 1)
#define SEG_CAS_DELTA_MIN (-(INT64_C(1) << 30))
#define SEG_CAS_DELTA_MAX ((INT64_C(1) << 30) - 1)
#define SEG_SIZE_MAX (1u << (22 + SEG_ALIGN_SHIFT)) /* offsets / SEG_ALIGN take 22 bits of a slot */
#define SEG_COUNT_MAX (1u << 22) /* segment ids take 22 bits of a slot */

struct seg_item; /* opaque: the bytes at an item's offset */

static inline uint64_t
seg_hdr_load(const struct seg_item *it)
{
    uint64_t h;
    memcpy(&h, it, sizeof(h));
    return h;
}

static inline uint8_t
seg_hdr_nkey(uint64_t h)
{
    return (uint8_t)(h & 0xff);
}

static inline uint32_t
seg_hdr_nbytes(uint64_t h)
{
    return (uint32_t)((h >> 8) & SEG_NBYTES_MAX);
}

static inline bool
seg_hdr_has_flags(uint64_t h)
{
    return (h >> 32) & 1;
}

static inline int64_t
seg_hdr_cas_delta(uint64_t h)
{
    return (int64_t)h >> 33; /* arithmetic shift: the sign comes back */
}

static inline uint64_t
seg_hdr_make(uint8_t nkey, uint32_t nbytes, bool has_flags, int64_t cas_delta)
{
    return (uint64_t)nkey | ((uint64_t)nbytes << 8) | ((uint64_t)has_flags << 32) | ((uint64_t)cas_delta << 33);
}

/* Bytes an item takes in its segment. */
static inline size_t
seg_item_size(size_t nkey, size_t nbytes, bool has_flags)
{
    return (SEG_HDR_SIZE + (has_flags ? 4 : 0) + nkey + nbytes + SEG_ALIGN - 1) & ~(size_t)(SEG_ALIGN - 1);
}

static inline size_t
seg_item_size_of(const struct seg_item *it)
{
    uint64_t h = seg_hdr_load(it);
    return seg_item_size(seg_hdr_nkey(h), seg_hdr_nbytes(h), seg_hdr_has_flags(h));
}

static inline const char *
seg_item_key(const struct seg_item *it)
{
    return (const char *)it + SEG_HDR_SIZE + (seg_hdr_has_flags(seg_hdr_load(it)) ? 4 : 0);
}

static inline uint8_t
seg_item_nkey(const struct seg_item *it)
{
    return seg_hdr_nkey(seg_hdr_load(it));
}

static inline const char *
seg_item_data(const struct seg_item *it)
{
    return seg_item_key(it) + seg_item_nkey(it);
}

static inline uint32_t
seg_item_nbytes(const struct seg_item *it)
{
    return seg_hdr_nbytes(seg_hdr_load(it));
}

static inline uint32_t
seg_item_flags(const struct seg_item *it)
{
    uint32_t f = 0;
    if (seg_hdr_has_flags(seg_hdr_load(it)))
        memcpy(&f, (const char *)it + SEG_HDR_SIZE, 4);
    return f;
}

/* Where a segment is in its life. */
enum seg_state {
    SEG_FREE = 0, /* on the free list (or the merge spare) */
    SEG_ACTIVE,   /* one thread's append segment for its TTL bucket: written by that thread only */
    SEG_SEALED,   /* full (or too old to append to): may be evicted, merged, expired */
    SEG_DRAINING, /* evicted while pinned: freed when its refcount reaches 0 */
};

/*
 * A segment's header, kept apart from its memory (which holds items only).
 * Fields are written under the pool lock, except write_off (by the owning
 * thread while ACTIVE) and the atomics.
 */
struct segment {
    uint32_t id;
    enum seg_state state;
    int32_t prev, next;       /* in the TTL bucket's chain, oldest first (free list: next) */
    uint16_t ttl_bucket;
    _Atomic uint32_t write_off; /* bytes appended (relaxed: stats read it unlocked) */
    /* create_at, expire_at and cas_base are written under the pool lock
     * and read by every thread that holds a slot (under its index bucket's
     * lock, not the pool's): atomics (plain loads on x86-64), so that a
     * reader of a segment that is then reclaimed does not race its reuse */
    _Atomic uint32_t create_at; /* seg_now() when opened (merged: the oldest source's) */
    _Atomic uint32_t expire_at; /* 0: never; expired when now >= expire_at */
    _Atomic uint64_t cas_base;
    uint64_t seq;             /* opening order, for FIFO */
    _Atomic uint32_t live_items;
    _Atomic uint32_t live_bytes;
    _Atomic int32_t refcount; /* readers' pins: an evicted segment waits for them (DRAINING) */
    _Atomic int32_t writers;  /* setters between append and link: no eviction meanwhile */
};

/* The TTL buckets: items of similar TTL share segments. Bucket 0 holds
 * items with no TTL; then 5 ranges of 255 buckets, of widths 1, 16, 256,
 * 4096 and 65536 s, from TTL 1 s (up to ~206 days; longer ones go to the
 * last). A bucket's width is at most 1/16 of its lower bound beyond the
 * first range. A segment expires at create_at + its bucket's lower bound. */
#define SEG_TTL_BUCKETS (1u + 5u * 255u)

struct ttl_bucket {
    int32_t head, tail;       /* the chain, oldest first; -1: none (pool lock) */
    uint32_t nseg;            /* (pool lock) */
    int32_t merge_next;       /* where the next merge starts: the segment after the
                                 last merge's result; -1: the head (pool lock) */
    uint32_t ttl;             /* the lower bound of the bucket's TTLs: its segments' TTL */
    uint32_t max_age;         /* an ACTIVE segment this old is sealed (0: never): with the
                                 bucket's width, what an item's expiry may come early by */
    /* Each thread appends to an ACTIVE segment of its own per TTL bucket
     * (seg_store.c): no lock on the append cursor. */
};

/* The bucket of a TTL (0: none), its lower bound and its width. */
unsigned seg_ttl_bucket_of(uint32_t ttl);
uint32_t seg_ttl_bucket_ttl(unsigned b);
uint32_t seg_ttl_bucket_width(unsigned b);

#endif /* MCD_SEG_SEGMENT_H */
