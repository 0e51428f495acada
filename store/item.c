/*
 * item.c - item header accessors, initialisation and reference counting.
 *
 * Owns the layout described in item.h. Refcount rules: a linked item
 * holds one reference of its own; every struct item * handed out by the
 * store carries one more. References are only ever taken while the item is
 * reachable under a lock that keeps it alive (the stripe lock of a linked
 * item, or the class lock during eviction), so a count seen at 0 is final:
 * the thread that drops the last reference puts the chunk in its own chunk
 * cache (tcache.h), or on the class free list when it holds the class lock.
 */
#include "config.h"

#include "store/item.h"
#include "store/hashtable.h"
#include "store/slab.h"
#include "store/tcache.h"

#include <string.h>

_Static_assert(sizeof(struct item) == 28, "item header must stay 28 bytes");
_Static_assert(HT_STRIPES_POWER_MAX <= 7, "an item records its stripe in 7 bits of its state");

static _Atomic uint64_t cas_counter;
static bool cas_visible; /* false under -C; written at setup only */

uint64_t
item_cas_next(void)
{
    return atomic_fetch_add_explicit(&cas_counter, 1, memory_order_relaxed) + 1;
}

uint64_t
item_cas_last(void)
{
    return atomic_load_explicit(&cas_counter, memory_order_relaxed);
}

/* memcached 1.6.45 hands its first item CAS 2, not 1 (checked against it:
 * a fresh server's first `set` then `gets` shows 2), so the counter starts
 * as if one value had been issued. */
void
item_cas_reset(bool use_cas)
{
    atomic_store(&cas_counter, 1);
    cas_visible = use_cas;
}

/* The 8-byte field is there with or without -C: under -C it holds the
 * link sequence flush_all needs (item.h) and clients see a CAS of 0. */
size_t
item_hdr_size(bool use_cas)
{
    (void)use_cas;
    return sizeof(struct item) + sizeof(uint64_t);
}

size_t
item_total_size(bool own_cas, size_t nkey, size_t nbytes)
{
    return item_hdr_size(true) + nkey + nbytes + (own_cas ? sizeof(uint64_t) : 0);
}

size_t
item_size(const struct item *it)
{
    return item_total_size(item_own_cas(it), it->nkey, it->nbytes);
}

void
item_init(struct item *it, unsigned clsid, bool own_cas, const char *key, size_t nkey,
          uint32_t flags, rel_time_t exptime, uint32_t nbytes, rel_time_t now)
{
    /* a chunk being written is this thread's alone: off the free list,
     * unlinked, taken from a page of its class */
    STORE_ASSERT(!(item_state(it) & (ITEM_FREE | ITEM_LINKED)) && slab_chunk_of_class(it, clsid));
    it->h_next = 0;
    atomic_store_explicit(&it->exptime, exptime, memory_order_relaxed);
    atomic_store_explicit(&it->atime, now, memory_order_relaxed);
    it->nbytes = nbytes;
    it->flags = flags;
    atomic_store_explicit(&it->refcount, 1, memory_order_relaxed);
    it->nkey = (uint8_t)nkey;
    it->clsid = (uint8_t)clsid;
    atomic_store_explicit(&it->state, own_cas ? ITEM_CAS_OWN : 0, memory_order_relaxed);
    item_set_cas(it, 0);
    memcpy(item_key_mut(it), key, nkey);
}

void
item_set_cas(struct item *it, uint64_t cas)
{
    memcpy(it + 1, &cas, sizeof(cas));
}

char *
item_key_mut(struct item *it)
{
    return (char *)(it + 1) + sizeof(uint64_t);
}

const char *
item_key(const struct item *it)
{
    return (const char *)(it + 1) + sizeof(uint64_t);
}

uint8_t
item_nkey(const struct item *it)
{
    return it->nkey;
}

char *
item_data(struct item *it)
{
    return item_key_mut(it) + it->nkey;
}

uint32_t
item_nbytes(const struct item *it)
{
    return it->nbytes;
}

uint32_t
item_flags(const struct item *it)
{
    return it->flags;
}

uint64_t
item_seq(const struct item *it)
{
    uint64_t seq;
    memcpy(&seq, it + 1, sizeof(seq));
    return seq;
}

uint64_t
item_cas(const struct item *it)
{
    return cas_visible ? item_seq(it) : 0;
}

uint64_t
item_flush_gen(const struct item *it)
{
    uint64_t gen;
    STORE_ASSERT(item_own_cas(it));
    memcpy(&gen, (const char *)item_key(it) + it->nkey + it->nbytes, sizeof(gen));
    return gen;
}

void
item_set_flush_gen(struct item *it, uint64_t gen)
{
    STORE_ASSERT(item_own_cas(it));
    memcpy(item_data(it) + it->nbytes, &gen, sizeof(gen));
}

rel_time_t
item_exptime(const struct item *it)
{
    return atomic_load_explicit(&((struct item *)it)->exptime, memory_order_relaxed);
}

rel_time_t
item_atime(const struct item *it)
{
    return atomic_load_explicit(&((struct item *)it)->atime, memory_order_relaxed);
}

unsigned
item_class(const struct item *it)
{
    return it->clsid;
}

void
item_release_locked(struct item *it)
{
    slab_assert_locked(slab_class_get(it->clsid));
    uint32_t was = atomic_fetch_sub_explicit(&it->refcount, 1, memory_order_acq_rel);
    STORE_ASSERT(was >= 1); /* never below zero, never released twice */
    if (was == 1) {
        STORE_ASSERT(!(item_iflags(it) & ITEM_LINKED)); /* the link holds a reference */
        tcache_count_requested(it->clsid, -(int64_t)item_size(it));
        slab_free_locked(slab_class_get(it->clsid), it);
    }
}

void
item_release(struct item *it)
{
    if (it == NULL)
        return;
    uint32_t was = atomic_fetch_sub_explicit(&it->refcount, 1, memory_order_acq_rel);
    STORE_ASSERT(was >= 1); /* never below zero, never released twice */
    if (was == 1)
        tcache_free(it);
}
