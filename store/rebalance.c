/*
 * rebalance.c - moving a page between slab classes (see rebalance.h).
 *
 * The victim is the class with the most pages; the page is the one under
 * that class's CLOCK hand (the next it would evict from), else one of the
 * few after it. Under the victim's class lock every carved chunk of the
 * page must be either free or a linked item nobody else references (a
 * chunk in some thread's cache counts as busy, so every thread's cached
 * chunks of the victim are taken back first, under the same class lock:
 * tcache_steal_locked); such items are unlinked
 * (stripe locks are only trylocked, found as the CLOCK hand finds them:
 * lru.c) and the page's chunks are dropped from the free list. If any chunk is busy the items already
 * unlinked become free chunks of the victim and the move is abandoned.
 * The page then joins `to` under `to`'s lock. total_malloced is unchanged.
 *
 * The background mover (automove.c: slabs reassign, the automover, a
 * lowered cache_memlimit) drains a page instead, over as many passes as it
 * takes, each under the class lock: the page's free chunks, its never-used
 * tail and every item it has dealt with are marked MOVING (not LINKED, not
 * FREE) and stay the mover's; a live item nobody holds is rescued, copied
 * into a free chunk of its class outside the page and relinked in its
 * place under its stripe lock (evicted when the class has no free chunk),
 * an expired one reclaimed. A chunk in use (read, being written, cached:
 * a thread's cache is taken back at each pass) is left for the next pass.
 * When none is left the page leaves the class, for another one or for
 * the global page pool.
 */
#include "config.h"

#include "store/rebalance.h"

#include "store/expire.h"
#include "store/hashtable.h"
#include "store/item.h"
#include "store/lru.h"
#include "store/slab.h"
#include "store/tcache.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REBALANCE_TRIES 4 /* victim classes tried per move */
#define REBALANCE_PAGES 4 /* pages of a victim tried, from its CLOCK hand on */
#define REBALANCE_RETRIES 8           /* more rounds when every page tried was busy, */
#define REBALANCE_RETRY_NS 250000L    /* the first 0.25 ms later, each pause twice the last
                                         (64 ms in all at most) */

static bool in_page(const void *p, const char *page, size_t page_size)
{
    return (const char *)p >= page && (const char *)p < page + page_size;
}

/* The class with the most pages, other than `to` and those in `tried`. */
static struct slab_class *pick_victim(const struct slab_class *to, uint64_t tried)
{
    struct slab_class *best = NULL;
    size_t most = 0;
    for (unsigned id = 1; id <= slab_nclasses(); id++) {
        struct slab_class *c = slab_class_get(id);
        if (c == NULL || c == to || (tried & (UINT64_C(1) << id)))
            continue;
        /* a racy read is fine: the choice is re-checked under the lock */
        size_t n = __atomic_load_n(&c->npages, __ATOMIC_RELAXED);
        if (n > most) {
            most = n;
            best = c;
        }
    }
    return best;
}

/* Takes page `idx` out of class v: its chunks leave the free list, the
 * never-used tail is dropped, the hand and the sweep cursor keep pointing
 * at the same chunks. Class lock of v held. */
static void detach_page_locked(struct slab_class *v, size_t idx)
{
    slab_assert_locked(v);
    size_t page_size = slab_page_size();
    char *page = v->pages[idx];
    uint32_t *pp = &v->free_list;
    uint64_t dropped = 0;
    while (*pp != 0) {
        struct item *f = slab_item(*pp);
        if (in_page(f, page, page_size)) {
            *pp = f->h_next;
            dropped++;
        } else {
            pp = &f->h_next;
        }
    }
    STAT_SUB(v->free_count, dropped);
    if (v->end_left > 0 && in_page(v->end_ptr, page, page_size)) {
        v->end_ptr = NULL;
        v->end_left = 0;
    }
    slab_page_owner(page, 0);
    memmove(&v->pages[idx], &v->pages[idx + 1], (v->npages - idx - 1) * sizeof(v->pages[0]));
    __atomic_store_n(&v->npages, v->npages - 1, __ATOMIC_RELAXED);
    if (v->hand_page > idx)
        v->hand_page--;
    else if (v->hand_page == idx)
        v->hand_idx = 0;
    if (v->sweep_page > idx)
        v->sweep_page--;
    else if (v->sweep_page == idx)
        v->sweep_idx = 0;
}

/* Empties page `idx` of class v. Class lock of v held. */
static bool empty_page_locked(struct slab_class *v, size_t idx, struct store_tstats *ts)
{
    slab_assert_locked(v);
    size_t page_size = slab_page_size();
    char *page = v->pages[idx];
    bool newest = v->end_left > 0 && in_page(v->end_ptr, page, page_size);
    uint32_t carved = newest ? (uint32_t)((v->end_ptr - page) / v->size) : v->perslab;

    /* first pass: every carved chunk free, or linked and unreferenced
     * (atomics only: a chunk in a thread cache can be rewritten meanwhile) */
    for (uint32_t i = 0; i < carved; i++) {
        struct item *it = (struct item *)(page + (size_t)i * v->size);
        uint16_t st = item_state(it);
        if (st & ITEM_FREE)
            continue;
        if (!(st & ITEM_LINKED) || item_refcount(it) != 1)
            return false;
    }
    /* second pass: unlink the items. A chunk may have been unlinked and
     * cached by its owner since the first pass, so the ones taken here are
     * marked MOVING: only those go back if the move is abandoned. */
    uint32_t evicted = 0;
    for (uint32_t i = 0; i < carved; i++) {
        struct item *it = (struct item *)(page + (size_t)i * v->size);
        uint16_t st = item_state(it);
        if (st & ITEM_FREE)
            continue;
        uint32_t hv;
        /* one trylock: its holder may be waiting for this class lock (a
         * chunk cache flushed under a stripe lock), or be this very thread
         * (an append's new item is allocated under its key's stripe lock),
         * or be preempted; waiting here would hold every thread that needs
         * the class meanwhile. The page is busy: the caller tries another,
         * and retries later with no lock held. */
        if (!(st & ITEM_LINKED) || !lru_trylock_linked(it, st, true, &hv)) {
            /* busy after all: what was unlinked so far becomes free chunks */
            for (uint32_t j = 0; j < i; j++) {
                struct item *done = (struct item *)(page + (size_t)j * v->size);
                if (item_iflags(done) & ITEM_MOVING)
                    slab_free_locked(v, done);
            }
            return false;
        }
        tcache_count_requested(v->id, -(int64_t)item_size(it));
        lru_unlink_item_locked(it, hv);
        item_iflag_set(it, ITEM_MOVING);
        ht_unlock(hv);
        evicted++;
        STAT_INC(ts->evictions);
        STAT_INC(v->evicted);
        if (!(item_iflags(it) & ITEM_FETCHED))
            STAT_INC(ts->evicted_unfetched);
    }
    STAT_SUB(v->used_chunks, evicted);
    detach_page_locked(v, idx);
    return true;
}

/* Empties one page of some class and returns it, or NULL; *busy tells
 * whether a page was there to take but in use (worth another try later).
 * Tries the classes holding the most pages first, a few of them. */
static char *take_page(const struct slab_class *to, struct store_tstats *ts, bool *busy)
{
    uint64_t tried = 0;
    *busy = false;
    for (int attempt = 0; attempt < REBALANCE_TRIES; attempt++) {
        struct slab_class *v = pick_victim(to, tried);
        if (v == NULL)
            return NULL;
        tried |= UINT64_C(1) << v->id;
        /* chunks cached by any thread would pin the class's pages: they
         * go back under the class lock the page is emptied under */
        tcache_steal_begin();
        slab_lock(v);
        if (v->npages == 0) {
            slab_unlock(v);
            tcache_steal_end();
            continue;
        }
        tcache_steal_locked(v);
        size_t first = v->hand_page < v->npages ? v->hand_page : 0;
        char *page = NULL;
        for (size_t k = 0; k < REBALANCE_PAGES && k < v->npages && page == NULL; k++) {
            size_t idx = (first + k) % v->npages;
            char *p = v->pages[idx];
            if (empty_page_locked(v, idx, ts))
                page = p;
            else
                *busy = true;
        }
        slab_unlock(v);
        tcache_steal_end();
        if (page != NULL)
            return page;
    }
    return NULL;
}

bool rebalance_give_page(struct slab_class *to, char *page)
{
    if (to == NULL) {
        slab_gpool_put(page);
        return true;
    }
    slab_lock(to);
    if (to->npages == to->pages_cap) {
        size_t cap = to->pages_cap ? to->pages_cap * 2 : 16;
        void **p = realloc(to->pages, cap * sizeof(*p));
        if (p == NULL) {
            /* cannot record it: give the memory back to the budget */
            slab_unlock(to);
            slab_page_release(page);
            return false;
        }
        to->pages = p;
        to->pages_cap = cap;
    }
    slab_page_owner(page, to->id);
    to->pages[to->npages] = page;
    __atomic_store_n(&to->npages, to->npages + 1, __ATOMIC_RELAXED);
    if (to->end_left == 0) {
        to->end_ptr = page;
        to->end_left = to->perslab;
    } else {
        /* another thread gave `to` a page meanwhile: put this one's chunks
         * on the free list rather than lose the rest of the other */
        for (uint32_t i = 0; i < to->perslab; i++) {
            struct item *f = (struct item *)(page + (size_t)i * to->size);
            /* the old class's bytes are no state of this chunk's */
            atomic_store_explicit(&f->state, 0, memory_order_relaxed);
            slab_free_locked(to, f);
        }
        STAT_ADD(to->used_chunks, to->perslab); /* slab_free_locked counted them as freed */
    }
    slab_unlock(to);
    return true;
}

bool rebalance_move_page(struct slab_class *to, struct store_tstats *ts)
{
    tcache_enrol(); /* it counts with a class lock held: tcache.h */
    bool busy;
    char *page = take_page(to, ts, &busy);
    /* A page fails on one stripe lock held elsewhere at that instant:
     * right after a burst of sets, the hash table's expansion walks every
     * stripe in turn, and on a loaded machine the maintainer can be
     * preempted holding one for a whole time slice (a set then answered
     * out of memory on a 2-core machine shared with other builds). Try
     * again, a moment later each time, sleeping with no class lock held so
     * that the holder runs, before a set answers out of memory. When no
     * class had a page to take there is nothing to wait for. */
    long pause_ns = REBALANCE_RETRY_NS;
    for (int retry = 0; page == NULL && busy && retry < REBALANCE_RETRIES; retry++) {
        struct timespec pause = {.tv_sec = pause_ns / 1000000000L, .tv_nsec = pause_ns % 1000000000L};
        nanosleep(&pause, NULL);
        pause_ns *= 2;
        page = take_page(to, ts, &busy);
    }
    if (page == NULL)
        return false;
    return rebalance_give_page(to, page);
}

/* ---- the background mover's page drain ---- */

static struct item *chunk_at(const struct slab_class *v, const char *page, uint32_t i)
{
    return (struct item *)(page + (size_t)i * v->size);
}

/* A chunk of v outside the page being drained to rescue an item into:
 * the free list (the page's own chunks are off it), else the never-used
 * end of the newest page. Never a new page. Class lock held. */
static struct item *rescue_chunk_locked(struct slab_class *v)
{
    struct item *f = slab_item(v->free_list);
    if (f != NULL) {
        v->free_list = f->h_next;
        STAT_SUB(v->free_count, 1);
    } else if (v->end_left > 0) {
        f = (struct item *)v->end_ptr;
        v->end_ptr += v->size;
        v->end_left--;
    } else {
        return NULL;
    }
    atomic_store_explicit(&f->state, 0, memory_order_relaxed);
    STAT_INC(v->used_chunks);
    return f;
}

/* Moves linked item `it` (refcount 1, stripe lock of hv held) into chunk
 * `n` of the same class: same bytes, same place in the hash table's eyes;
 * `it` is left unlinked and MOVING. The class's item counts do not
 * change. */
static void rescue_locked(struct item *it, struct item *n, uint32_t hv)
{
    size_t sz = item_size(it);
    uint16_t st = item_state(it);
    ht_remove_locked(it, hv);
    item_iflag_clear(it, ITEM_LINKED | ITEM_ACTIVE);
    memcpy((char *)n + sizeof(n->h_next), (char *)it + sizeof(it->h_next), sz - sizeof(it->h_next));
    atomic_store_explicit(&n->refcount, 1, memory_order_relaxed);
    atomic_store_explicit(&n->state,
                          (uint16_t)(st & (0xffu | ITEM_KEY_BINARY) & ~(unsigned)(ITEM_LINKED | ITEM_MOVING | ITEM_FREE)),
                          memory_order_relaxed);
    ht_insert_locked(n, hv);
    item_mark_linked_locked(n, ht_stripe(hv));
    item_iflag_set(it, ITEM_MOVING);
}

/* Index of `page` in v's page array, or npages. Class lock held. */
static size_t page_index_locked(const struct slab_class *v, const char *page)
{
    for (size_t i = 0; i < v->npages; i++)
        if (v->pages[i] == page)
            return i;
    return v->npages;
}

bool rebalance_drain_start(struct slab_class *v, size_t min_pages, struct rebalance_drain *d)
{
    memset(d, 0, sizeof(*d));
    slab_lock(v);
    if (v->npages < min_pages || v->npages == 0) {
        slab_unlock(v);
        return false;
    }
    size_t idx = v->hand_page < v->npages ? v->hand_page : 0;
    d->from = v;
    d->page = v->pages[idx];
    slab_unlock(v);
    return true;
}

enum rebalance_pass rebalance_drain_pass(struct rebalance_drain *d, struct rebalance_counts *n)
{
    struct slab_class *v = d->from;
    char *page = d->page;
    rel_time_t now = store_clock_now();
    tcache_enrol(); /* it counts with a class lock held: tcache.h */
    tcache_steal_begin();
    slab_lock(v);
    size_t idx = page_index_locked(v, page);
    if (idx == v->npages) { /* the on-demand mover took it */
        slab_unlock(v);
        tcache_steal_end();
        return REBALANCE_GONE;
    }
    tcache_steal_locked(v);
    if (!d->started) {
        /* the never-used tail is the mover's from now on */
        uint32_t carved = slab_carved_locked(v, idx);
        if (v->end_left > 0 && in_page(v->end_ptr, page, slab_page_size())) {
            v->end_ptr = NULL;
            v->end_left = 0;
        }
        for (uint32_t i = carved; i < v->perslab; i++) {
            struct item *f = chunk_at(v, page, i);
            atomic_store_explicit(&f->refcount, 0, memory_order_relaxed);
            atomic_store_explicit(&f->state, ITEM_MOVING, memory_order_relaxed);
        }
        STAT_ADD(v->used_chunks, v->perslab - carved);
        d->started = true;
    }
    /* the page's free chunks are the mover's */
    uint32_t *pp = &v->free_list;
    while (*pp != 0) {
        struct item *f = slab_item(*pp);
        if (in_page(f, page, slab_page_size())) {
            *pp = f->h_next;
            STAT_SUB(v->free_count, 1);
            STAT_INC(v->used_chunks);
            atomic_store_explicit(&f->state, ITEM_MOVING, memory_order_relaxed);
            n->inline_reclaim++;
        } else {
            pp = &f->h_next;
        }
    }
    uint32_t busy = 0;
    for (uint32_t i = 0; i < v->perslab; i++) {
        struct item *it = chunk_at(v, page, i);
        uint16_t st = item_state(it);
        if ((st & (ITEM_MOVING | ITEM_LINKED)) == ITEM_MOVING)
            continue; /* the mover's already */
        uint32_t hv;
        if (!(st & ITEM_LINKED) || item_refcount(it) != 1 || !lru_trylock_linked(it, st, true, &hv)) {
            busy++; /* being written, read, or cached by a thread */
            continue;
        }
        struct item *dst = NULL;
        if (expire_state(it, now) != EXPIRE_LIVE) {
            STAT_INC(v->reclaimed);
        } else if ((dst = rescue_chunk_locked(v)) != NULL) {
            rescue_locked(it, dst, hv);
            ht_unlock(hv);
            n->rescues++;
            continue;
        } else {
            STAT_INC(v->evicted);
            if (!(item_iflags(it) & ITEM_FETCHED))
                STAT_INC(v->evicted_unfetched);
            n->evictions++;
        }
        tcache_count_requested(v->id, -(int64_t)item_size(it));
        lru_unlink_item_locked(it, hv);
        item_iflag_set(it, ITEM_MOVING);
        ht_unlock(hv);
    }
    n->busy_items += busy;
    if (busy > 0) {
        slab_unlock(v);
        tcache_steal_end();
        return REBALANCE_BUSY;
    }
    STAT_SUB(v->used_chunks, v->perslab); /* every chunk was the mover's */
    detach_page_locked(v, idx);
    slab_unlock(v);
    tcache_steal_end();
    return REBALANCE_DONE;
}

void rebalance_drain_abandon(struct rebalance_drain *d)
{
    struct slab_class *v = d->from;
    if (v == NULL || !d->started)
        return;
    slab_lock(v);
    if (page_index_locked(v, d->page) < v->npages) {
        for (uint32_t i = 0; i < v->perslab; i++) {
            struct item *it = chunk_at(v, d->page, i);
            if ((item_state(it) & (ITEM_MOVING | ITEM_LINKED)) == ITEM_MOVING) {
                atomic_store_explicit(&it->state, 0, memory_order_relaxed);
                slab_free_locked(v, it);
            }
        }
    }
    slab_unlock(v);
}
