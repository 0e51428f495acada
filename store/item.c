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

#include "store/engine.h"

#include "store/item.h"
#include "store/hashtable.h"
#include "store/slab.h"
#include "store/tcache.h"

#include <pthread.h>
#include <string.h>

_Static_assert(sizeof(struct item) == 28, "item header must stay 28 bytes");
_Static_assert(HT_STRIPES_POWER_MAX <= 7, "an item records its stripe in 7 bits of its state");

static bool cas_visible; /* false under -C; written at setup only */

/*
 * CAS values. Each thread draws from a range of CAS_RANGE values it took
 * from one shared counter (cas_top: the highest value reserved), so a set
 * costs no atomic read-modify-write on a line every thread writes. Each
 * thread publishes the last value it handed out in its own slot (its own
 * cache line); item_cas_last() is the highest of them.
 *
 * flush_all and flush_prefix treat cas fields below item_cas_fence() as
 * "linked before". A value from a range reserved before the fence could
 * be below it and yet be drawn after it, so the fence also raises
 * cas_floor: a thread whose next value is below the floor drops the rest of
 * its range and reserves a new one, above every value reserved so far.
 * Any value drawn after the fence returns is thus at or above it, and every
 * value drawn before it began is below it.
 *
 * One thread alone hands out 2, 3, 4, ... with no gaps, across ranges and
 * across flushes, as memcached's single counter does (tests compare a
 * connection's CAS values with memcached's).
 *
 * A thread takes a slot on its first draw and gives it back when it exits;
 * a slot keeps its `last` for the next owner, whose values are higher. A
 * thread that finds no free slot draws straight from cas_top.
 */
#define CAS_RANGE 256
#define CAS_SLOTS 256

struct cas_slot {
    _Alignas(64) _Atomic uint64_t last; /* the owner's last value, 0 none */
    _Atomic bool used;
    uint64_t next, end;                 /* the owner's range: next..end */
};

static struct cas_slot cas_slots[CAS_SLOTS];
static _Atomic uint64_t cas_top;        /* highest value reserved by anyone */
static _Atomic uint64_t cas_floor;      /* values below it are drawn no more */
static _Atomic uint64_t cas_lone_last;  /* highest value drawn without a slot */
static _Atomic unsigned cas_gen;        /* bumped by item_cas_reset() */

static _Thread_local struct cas_slot *my_slot;
static _Thread_local unsigned my_gen;
static pthread_key_t cas_key;
static pthread_once_t cas_key_once = PTHREAD_ONCE_INIT;

static void
cas_slot_release(void *arg)
{
    struct cas_slot *s = arg;
    if (my_gen == atomic_load(&cas_gen))
        atomic_store_explicit(&s->used, false, memory_order_release);
    my_slot = NULL;
}

static void
cas_key_make(void)
{
    (void)pthread_key_create(&cas_key, cas_slot_release);
}

static struct cas_slot *
cas_slot_claim(void)
{
    (void)pthread_once(&cas_key_once, cas_key_make);
    for (unsigned i = 0; i < CAS_SLOTS; i++) {
        bool no = false;
        if (!atomic_load_explicit(&cas_slots[i].used, memory_order_relaxed) &&
            atomic_compare_exchange_strong(&cas_slots[i].used, &no, true)) {
            cas_slots[i].next = 1;
            cas_slots[i].end = 0; /* empty: the first draw reserves */
            my_slot = &cas_slots[i];
            my_gen = atomic_load(&cas_gen);
            (void)pthread_setspecific(cas_key, my_slot);
            return my_slot;
        }
    }
    return NULL;
}

static void
fetch_max(_Atomic uint64_t *a, uint64_t v)
{
    uint64_t cur = atomic_load_explicit(a, memory_order_relaxed);
    while (cur < v && !atomic_compare_exchange_weak_explicit(a, &cur, v, memory_order_acq_rel,
                                                             memory_order_relaxed))
        ;
}

uint64_t
item_cas_next(void)
{
    struct cas_slot *s = my_slot;
    if (s == NULL || my_gen != atomic_load_explicit(&cas_gen, memory_order_relaxed)) {
        s = cas_slot_claim();
        if (s == NULL) {
            uint64_t v = atomic_fetch_add(&cas_top, 1) + 1;
            fetch_max(&cas_lone_last, v);
            return v;
        }
    }
    uint64_t v = s->next;
    if (v > s->end || v < atomic_load_explicit(&cas_floor, memory_order_acquire)) {
        /* a new range, above every value reserved so far (and so above
         * the floor); when no one else reserved since, it follows on */
        uint64_t top = atomic_fetch_add_explicit(&cas_top, CAS_RANGE, memory_order_acq_rel);
        v = top + 1;
        s->end = top + CAS_RANGE;
    }
    s->next = v + 1;
    atomic_store_explicit(&s->last, v, memory_order_release);
    return v;
}

uint64_t
item_cas_last(void)
{
    uint64_t m = atomic_load_explicit(&cas_lone_last, memory_order_acquire);
    for (unsigned i = 0; i < CAS_SLOTS; i++) {
        uint64_t l = atomic_load_explicit(&cas_slots[i].last, memory_order_acquire);
        if (l > m)
            m = l;
    }
    return m;
}

uint64_t
item_cas_fence(void)
{
    uint64_t f = item_cas_last() + 1;
    fetch_max(&cas_floor, f);
    return f;
}

/* memcached 1.6.45 hands its first item CAS 2, not 1 (checked against it:
 * a fresh server's first `set` then `gets` shows 2), so the counter starts
 * as if one value had been issued. */
void
item_cas_reset(bool use_cas)
{
    for (unsigned i = 0; i < CAS_SLOTS; i++) {
        atomic_store(&cas_slots[i].last, 0);
        atomic_store(&cas_slots[i].used, false);
    }
    atomic_store(&cas_top, 1);
    atomic_store(&cas_lone_last, 1);
    atomic_store(&cas_floor, 0);
    atomic_fetch_add(&cas_gen, 1);
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
    STORE_SEG_ROUTE(seg_engine_item_key(it));
    return slab_item_key(it);
}

uint8_t
item_nkey(const struct item *it)
{
    STORE_SEG_ROUTE(seg_engine_item_nkey(it));
    return slab_item_nkey(it);
}

char *
item_data(struct item *it)
{
    STORE_SEG_ROUTE(seg_engine_item_data(it));
    return slab_item_data(it);
}

uint32_t
item_nbytes(const struct item *it)
{
    STORE_SEG_ROUTE(seg_engine_item_nbytes(it));
    return slab_item_nbytes(it);
}

uint32_t
item_flags(const struct item *it)
{
    STORE_SEG_ROUTE(seg_engine_item_flags(it));
    return slab_item_flags(it);
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
    STORE_SEG_ROUTE(seg_engine_item_cas(it));
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
    STORE_SEG_ROUTE(seg_engine_item_exptime(it));
    return slab_item_exptime(it);
}

rel_time_t
item_atime(const struct item *it)
{
    STORE_SEG_ROUTE(seg_engine_item_atime(it));
    return slab_item_atime(it);
}

void
item_view(struct item *it, struct item_view *v)
{
    if (__builtin_expect(store_seg_on, 0)) {
        seg_engine_item_view(it, v);
        return;
    }
    *v = (struct item_view){
        .key = slab_item_key(it),
        .data = slab_item_data(it),
        .cas = cas_visible ? item_seq(it) : 0,
        .nbytes = slab_item_nbytes(it),
        .flags = slab_item_flags(it),
        .nkey = slab_item_nkey(it),
    };
}

unsigned
item_class(const struct item *it)
{
    STORE_SEG_ROUTE(seg_engine_item_class(it));
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
    STORE_SEG_ROUTE_VOID(seg_engine_item_release(it));
    slab_item_release(it);
}

void
slab_item_release(struct item *it)
{
    if (it == NULL)
        return;
    uint32_t was = atomic_fetch_sub_explicit(&it->refcount, 1, memory_order_acq_rel);
    STORE_ASSERT(was >= 1); /* never below zero, never released twice */
    if (was == 1)
        tcache_free(it);
}
