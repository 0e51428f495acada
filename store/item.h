/*
 * item.h - the item header, its layout and reference counting.
 *
 * An item lives in one slab chunk:
 *
 *   0    4    8    12   16   20   24 25 26 27 28
 *   +----+----+----+----+----+----+--+--+--+--+
 *   |hnxt|exp |atim|nbyt|flag|ref |nk|cl|if|--|
 *   +----+----+----+----+----+----+--+--+--+--+
 *   28                 36 (or 28 under -C)
 *   +------------------+---------------------+-------------------------+
 *   | cas (uint64)     | key (nkey, no NUL)  | value (nbytes, no CRLF) |
 *   +------------------+---------------------+-------------------------+
 *   the cas field is absent when the store runs with use_cas = false (-C);
 *   it is not 8-aligned and is only ever accessed with memcpy
 *
 * h_next is a 32-bit handle (slab_handle()/slab_item() in slab.h): the
 * chunk's offset in the item arena / 8, plus 1; 0 means none.
 *
 * Fields by the lock that guards them (see doc/threads.md):
 *   stripe lock of the key's hash:  h_next, the LINKED flag, cas, the value
 *                                   bytes of a linked item (arith in place),
 *                                   atime after link (rate-limited hits)
 *   class lock of clsid:            chunk free-list link (h_next of a free
 *                                   chunk); LINKED changes with it held too
 *   stripe lock, atomic:            exptime (touch)
 *   atomic, no lock:                refcount, iflags (ACTIVE is set on a hit
 *                                   without any lock and cleared by the
 *                                   CLOCK hand under the class lock)
 *   immutable once allocated:       nbytes, flags, nkey, clsid, key
 */
#ifndef MCD_STORE_ITEM_H
#define MCD_STORE_ITEM_H

#include "store/store.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum item_iflag {
    ITEM_LINKED = 1u << 0,   /* in the hash table (and counted in its class) */
    ITEM_FETCHED = 1u << 1,  /* read by a client since it was linked */
    ITEM_HAS_CAS = 1u << 2,  /* an 8-byte cas field follows the header */
    ITEM_ACTIVE = 1u << 3,   /* hit since the CLOCK hand last passed it */
    ITEM_FREE = 1u << 4,     /* chunk is on its class free list */
    ITEM_STALE = 1u << 5,    /* meta: invalidated (md I / ms C<old> I), served with X */
    ITEM_TOKEN_SENT = 1u << 6, /* meta: a client was handed the win (W) token */
};

struct item {
    uint32_t h_next;              /* hash chain handle; free-list link when free */
    _Atomic rel_time_t exptime;   /* 0 = never */
    _Atomic rel_time_t atime;     /* last set or (rate-limited) access */
    uint32_t nbytes;              /* value length */
    uint32_t flags;               /* client flags */
    _Atomic uint32_t refcount;    /* one for the link, one per holder */
    uint8_t nkey;
    uint8_t clsid;
    _Atomic uint8_t iflags;       /* enum item_iflag */
    uint8_t spare;
};

/* Bytes of header in front of the key: 28, plus 8 when items carry a CAS. */
size_t item_hdr_size(bool use_cas);
/* Whole size of an item (header, cas, key, value). */
size_t item_total_size(bool use_cas, size_t nkey, size_t nbytes);
/* Whole size of this item. */
size_t item_size(const struct item *it);

/* Initialises a fresh chunk as an unlinked item with one (caller's) ref. */
void item_init(struct item *it, unsigned clsid, bool use_cas, const char *key, size_t nkey,
               uint32_t flags, rel_time_t exptime, uint32_t nbytes, rel_time_t now);

void item_set_cas(struct item *it, uint64_t cas);
char *item_key_mut(struct item *it);

static inline uint8_t
item_iflags(const struct item *it)
{
    return atomic_load_explicit(&((struct item *)it)->iflags, memory_order_relaxed);
}
static inline void
item_iflag_set(struct item *it, uint8_t f)
{
    atomic_fetch_or_explicit(&it->iflags, f, memory_order_relaxed);
}
static inline void
item_iflag_clear(struct item *it, uint8_t f)
{
    atomic_fetch_and_explicit(&it->iflags, (uint8_t)~f, memory_order_relaxed);
}
static inline uint32_t
item_refcount(const struct item *it)
{
    return atomic_load_explicit(&((struct item *)it)->refcount, memory_order_acquire);
}
static inline void
item_incref(struct item *it)
{
    atomic_fetch_add_explicit(&it->refcount, 1, memory_order_relaxed);
}
static inline void
item_set_atime(struct item *it, rel_time_t t)
{
    atomic_store_explicit(&it->atime, t, memory_order_relaxed);
}
static inline void
item_set_exptime(struct item *it, rel_time_t t)
{
    atomic_store_explicit(&it->exptime, t, memory_order_relaxed);
}

/*
 * Drops one reference with the item's class lock ALREADY HELD by the
 * caller; frees the chunk onto the free list when it was the last.
 */
void item_release_locked(struct item *it);

/* CAS values: one 64-bit atomic counter for the whole store.
 * item_cas_next() issues a new value (>= 1); item_cas_last() is the last
 * one issued; item_cas_reset() restarts it (setup). */
uint64_t item_cas_next(void);
uint64_t item_cas_last(void);
void item_cas_reset(void);

#endif /* MCD_STORE_ITEM_H */
