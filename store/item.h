/*
 * item.h - the item header, its layout and reference counting.
 *
 * An item lives in one slab chunk:
 *
 *   0    4    8    12   16   20   24 25 26 27 28
 *   +----+----+----+----+----+----+--+--+--+--+
 *   |hnxt|exp |atim|nbyt|flag|ref |nk|cl|if|sp|   if, sp: `state` (iflags, stripe)
 *   +----+----+----+----+----+----+--+--+--+--+
 *   28                 36
 *   +------------------+---------------------+-------------------------+
 *   | cas (uint64)     | key (nkey, no NUL)  | value (nbytes, no CRLF) |
 *   +------------------+---------------------+-------------------------+
 *   the cas field is always there. Under -C (use_cas = false) it holds
 *   the item's link sequence, drawn from the CAS counter, which clients
 *   never see (item_cas() reads 0). Either way flush_all reads it to tell
 *   items linked before it from those linked after it in the same second
 *   (expire.c). It is not 8-aligned and is only ever accessed with memcpy.
 *
 *   An item whose CAS a client chose (meta E; ITEM_CAS_OWN) cannot be
 *   placed by that value, so it carries 8 more bytes after its value: the
 *   flush generation it was linked in (item_flush_gen()), counted in its
 *   size and never in nbytes:
 *
 *   +--------+-----+-------+-----------------------+
 *   | header | cas | key   | value | flush gen (u64)|   ITEM_CAS_OWN only
 *   +--------+-----+-------+-----------------------+
 *
 * h_next is a 32-bit handle (slab_handle()/slab_item() in slab.h): the
 * chunk's offset in the item arena / granularity (8 bytes up to 32 GB of
 * -m), plus 1; 0 means none.
 *
 * `state` is one 16-bit atomic: the iflags in its low byte and, in the
 * high byte, ITEM_KEY_BINARY (bit 15) and the stripe lock the item was linked under (written together
 * with LINKED). So whoever walks chunks without the stripe lock (the CLOCK
 * hand, the expiry sweep, the page mover) can find that lock without
 * reading the key of a chunk another thread may be rewriting. After a
 * trylock of stripe s, it re-reads `state`. LINKED with stripe s then
 * means the item was linked under s, and it stays linked while s is held.
 *
 * Fields by the lock that guards them (see doc/threads.md):
 *   stripe lock of the key's hash:  h_next, the LINKED flag and the stripe
 *                                   byte, cas, the value bytes of a linked
 *                                   item (arith in place), atime after link
 *                                   (rate-limited hits). A linked item's
 *                                   cas and value are rewritten only when
 *                                   its refcount is 1 (nobody else reads
 *                                   them); md I replaces a held item
 *   class lock of clsid:            chunk free-list link (h_next of a free
 *                                   chunk), FREE
 *   stripe lock, atomic:            exptime (touch)
 *   atomic, no lock:                refcount, state (ACTIVE is set on a hit
 *                                   without any lock and cleared by the
 *                                   CLOCK hand under the class lock)
 *   immutable once allocated:       nbytes, flags, nkey, clsid, key
 */
#ifndef MCD_STORE_ITEM_H
#define MCD_STORE_ITEM_H

#include "store/debug.h"
#include "store/store.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum item_iflag {
    ITEM_LINKED = 1u << 0,   /* in the hash table (and counted in its class) */
    ITEM_FETCHED = 1u << 1,  /* read by a client since it was linked */
    ITEM_CAS_OWN = 1u << 2,  /* the CAS was chosen by a client (E): flush gen trailer */
    ITEM_ACTIVE = 1u << 3,   /* hit since the CLOCK hand last passed it */
    ITEM_FREE = 1u << 4,     /* chunk is on its class free list */
    ITEM_STALE = 1u << 5,    /* meta: invalidated (md I / ms C<old> I), served with X */
    ITEM_TOKEN_SENT = 1u << 6, /* meta: a client was handed the win (W) token */
    ITEM_MOVING = 1u << 7,   /* unlinked by the page mover, which holds the chunk */
};

#define ITEM_STRIPE_SHIFT 8
#define ITEM_STRIPE_MASK 0x7fu    /* at most 128 stripes (hashtable.h) */
/* meta: the key was stored base64 decoded (b); replies show it encoded.
 * The top bit of `state`, above the stripe; set before the item is linked. */
#define ITEM_KEY_BINARY 0x8000u

struct item {
    uint32_t h_next;              /* hash chain handle; free-list link when free */
    _Atomic rel_time_t exptime;   /* 0 = never */
    _Atomic rel_time_t atime;     /* last set or (rate-limited) access */
    uint32_t nbytes;              /* value length */
    uint32_t flags;               /* client flags */
    _Atomic uint32_t refcount;    /* one for the link, one per holder */
    uint8_t nkey;
    uint8_t clsid;
    _Atomic uint16_t state;       /* enum item_iflag | stripe << ITEM_STRIPE_SHIFT */
};

/* Bytes of header in front of the key: 28 plus the 8-byte cas field, with
 * or without CAS (under -C the field holds the link sequence). */
size_t item_hdr_size(bool use_cas);
/* Whole size of an item (header, cas, key, value), plus the flush
 * generation trailer when `own_cas` (ITEM_CAS_OWN). */
size_t item_total_size(bool own_cas, size_t nkey, size_t nbytes);
/* Whole size of this item (its trailer included). */
size_t item_size(const struct item *it);

/* The slab store's own accessors, for store/'s slab code: the public
 * item_*() of store.h (item.c) are these behind the engine branch of
 * store/engine.h, which the slab store's own paths need not pay. */
static inline const char *
slab_item_key(const struct item *it)
{
    return (const char *)(it + 1) + sizeof(uint64_t);
}
static inline uint8_t
slab_item_nkey(const struct item *it)
{
    return it->nkey;
}
static inline char *
slab_item_data(struct item *it)
{
    return (char *)(it + 1) + sizeof(uint64_t) + it->nkey;
}
static inline uint32_t
slab_item_nbytes(const struct item *it)
{
    return it->nbytes;
}
static inline uint32_t
slab_item_flags(const struct item *it)
{
    return it->flags;
}
static inline rel_time_t
slab_item_exptime(const struct item *it)
{
    return atomic_load_explicit(&((struct item *)it)->exptime, memory_order_relaxed);
}
static inline rel_time_t
slab_item_atime(const struct item *it)
{
    return atomic_load_explicit(&((struct item *)it)->atime, memory_order_relaxed);
}
/* item_release() without the engine branch. */
void slab_item_release(struct item *it);

/* Initialises a fresh chunk as an unlinked item with one (caller's) ref;
 * `own_cas`: ITEM_CAS_OWN, the chunk has room for the trailer. */
void item_init(struct item *it, unsigned clsid, bool own_cas, const char *key, size_t nkey,
               uint32_t flags, rel_time_t exptime, uint32_t nbytes, rel_time_t now);

/* Writes the cas field (under -C: the link sequence, never shown). */
void item_set_cas(struct item *it, uint64_t cas);
/* The cas field as stored: the CAS, or under -C the link sequence (for
 * flush_all). item_cas() (store.h) is what clients see: 0 under -C. */
uint64_t item_seq(const struct item *it);
/* ITEM_CAS_OWN items: the flush generation (expire.c) they were linked in,
 * in the trailer after the value. Stripe lock held, or an unlinked item. */
uint64_t item_flush_gen(const struct item *it);
void item_set_flush_gen(struct item *it, uint64_t gen);
char *item_key_mut(struct item *it);

static inline uint8_t
item_iflags(const struct item *it)
{
    return (uint8_t)atomic_load_explicit(&((struct item *)it)->state, memory_order_relaxed);
}
static inline bool
item_own_cas(const struct item *it)
{
    return (item_iflags(it) & ITEM_CAS_OWN) != 0;
}
static inline void
item_iflag_set(struct item *it, uint8_t f)
{
    atomic_fetch_or_explicit(&it->state, f, memory_order_relaxed);
}
static inline void
item_iflag_clear(struct item *it, uint8_t f)
{
    atomic_fetch_and_explicit(&it->state, (uint16_t)~f, memory_order_relaxed);
}
/* The whole state word, for a walker that only has the class lock. */
static inline uint16_t
item_state(const struct item *it)
{
    return atomic_load_explicit(&((struct item *)it)->state, memory_order_acquire);
}
/* Sets LINKED and records `stripe`, releasing the item's header and key
 * to whoever reads LINKED in item_state(). Stripe lock held. */
static inline void
item_mark_linked_locked(struct item *it, unsigned stripe)
{
    uint16_t old = atomic_load_explicit(&it->state, memory_order_relaxed), want;
    do
        want = (uint16_t)((old & (0xffu | ITEM_KEY_BINARY)) | ITEM_LINKED | stripe << ITEM_STRIPE_SHIFT);
    while (!atomic_compare_exchange_weak_explicit(&it->state, &old, want, memory_order_release,
                                                  memory_order_relaxed));
}
/* True when a walker holding stripe lock `stripe` may treat `it` as
 * linked under that lock (see `state` above). */
static inline bool
item_linked_under(const struct item *it, unsigned stripe)
{
    uint16_t st = item_state(it);
    return (st & ITEM_LINKED) && ((st >> ITEM_STRIPE_SHIFT) & ITEM_STRIPE_MASK) == stripe;
}
static inline unsigned
item_state_stripe(uint16_t st)
{
    return (st >> ITEM_STRIPE_SHIFT) & ITEM_STRIPE_MASK;
}
static inline uint32_t
item_refcount(const struct item *it)
{
    return atomic_load_explicit(&((struct item *)it)->refcount, memory_order_acquire);
}
/* Takes one more reference to an item someone already holds: a count
 * of 0 is final (item.c), so it is never raised from there. */
static inline void
item_incref(struct item *it)
{
#if STORE_DEBUG
    uint32_t was = atomic_fetch_add_explicit(&it->refcount, 1, memory_order_relaxed);
    STORE_ASSERT(was >= 1 && was < UINT32_MAX && !(item_iflags(it) & ITEM_FREE));
#else
    atomic_fetch_add_explicit(&it->refcount, 1, memory_order_relaxed);
#endif
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
 * caller; frees the chunk onto the class free list when it was the last.
 * (item_release(), in store.h, takes no lock: the last reference puts the
 * chunk in the thread's cache, tcache.h.)
 */
void item_release_locked(struct item *it);

/* CAS values, unique across threads, each thread drawing from a range of
 * its own (item.c). item_cas_next() issues a new value (>= 2);
 * item_cas_last() is the highest value issued so far; item_cas_fence()
 * returns a bound F above every value issued before it was called and
 * at or below every value issued after it returns (flush_all and
 * flush_prefix: "linked before" is "cas field below F"); item_cas_reset()
 * restarts the values and says whether clients see CAS values (setup;
 * false under -C). */
uint64_t item_cas_next(void);
uint64_t item_cas_last(void);
uint64_t item_cas_fence(void);
void item_cas_reset(bool use_cas);

#endif /* MCD_STORE_ITEM_H */
