/*
 * prefix.h - flush_prefix: a bounded table of flushed key prefixes, checked
 * on every look-up, so that flushing every key that starts with a prefix
 * costs the same however many keys match.
 *
 * A registration records, for one prefix, the link sequence (the cas field,
 * item.h) and the flush generation (expire.c) the store had reached when
 * it was flushed. An item whose key starts with the prefix and that was
 * linked before (a lower sequence; an ITEM_CAS_OWN item: a lower
 * generation) is dead: expire_state() says EXPIRE_FLUSHED, so every
 * command of every protocol misses it, and the sweep and the CLOCK hand
 * reclaim its memory lazily, as for flush_all.
 *
 * At most PREFIX_MAX registrations are live. Flushing a prefix that is
 * registered already only raises its bounds. A registration is retired by
 * a walk of the whole hash table that unlinks every item it (or any other
 * registration) kills, after which nothing is left for it to hide: the
 * maintainer thread retires the oldest half once PREFIX_RETIRE_AT are
 * live, and a flush_prefix that finds the table full retires them itself
 * before it registers (that one call is then O(items), never wrong).
 */
#ifndef MCD_STORE_PREFIX_H
#define MCD_STORE_PREFIX_H

#include "store/item.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PREFIX_MAX 1024        /* live registrations at most */
#define PREFIX_RETIRE_AT 512   /* the maintainer retires the oldest half from here */

/* Forgets every registration (store setup and teardown). */
void prefix_reset(void);

/* Live registrations; read without a lock on every look-up. */
extern _Atomic unsigned prefix_nlive;

bool prefix_flushed_slow(const struct item *it);
/* The same on fields (the segment engine's items): a key, and `gen` when
 * `own`, else `seq`. */
bool prefix_key_flushed(const unsigned char *k, size_t nk, bool own, uint64_t seq, uint64_t gen);

/* What retirement walks: NULL, the slab store's hash table; else `walk`,
 * which must unlink every item a registration kills (the segment engine's
 * index) and return how many. */
void prefix_set_walker(uint64_t (*walk)(void));

/* Whether a registration kills `it`. One load and one predictable branch
 * when nothing is registered. Stripe lock held (it reads the cas field). */
static inline bool
prefix_flushed(const struct item *it)
{
    if (__builtin_expect(atomic_load_explicit(&prefix_nlive, memory_order_acquire) == 0, 1))
        return false;
    return prefix_flushed_slow(it);
}

/* The maintainer's pass: retires the oldest half of the registrations
 * once PREFIX_RETIRE_AT are live. No store lock held. */
void prefix_maintain(void);

/* Retires the `n` oldest registrations now (a walk of the hash table).
 * Returns the number of items it unlinked. For tests and the above. */
uint64_t prefix_retire(unsigned n);

#endif /* MCD_STORE_PREFIX_H */
