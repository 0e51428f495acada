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
 * (stripe locks are only trylocked, once, found as the CLOCK hand finds
 * them: lru.c) and the page's chunks are dropped from the free list. If
 * any chunk is busy the items already unlinked become free chunks of the
 * victim and the page is given up for another; never a wait under the
 * class lock.
 * The page then joins `to` under `to`'s lock. total_malloced is unchanged.
 *
 * The background mover (automove.c: slabs reassign, the automover, a
 * lowered cache_memlimit) drains a page instead, over as many passes as it
 * takes, each a walk of the page REBALANCE_SLICE chunks per hold of the
 * class lock (the page stays the class's in between): the page's free
 * chunks, its never-used
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
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REBALANCE_TRIES 4 /* victim classes tried per move */
#define REBALANCE_PAGES 4 /* pages of a victim tried, from its CLOCK hand on */
#define REBALANCE_SPINS 64            /* trylocks of one item's stripe, a microsecond or two,
                                         before its page is busy */
#define REBALANCE_RETRIES 8           /* more rounds when every page tried was busy, */
#define REBALANCE_SLICE 256          /* chunks a drain deals with per hold of the class lock */
#define REBALANCE_WALK 2048          /* free-list chunks it walks per hold */
#define REBALANCE_RESTARTS 8         /* walks from the head again in one pass, at most */
#define REBALANCE_GAP_NS 20000L      /* the drain's pause between two holds (timer slack
                                        makes it 50-70 us) */
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

/* Takes the page's chunks off v's free list, marking each MOVING (the
 * mover's), until `want` of them are found: the walk stops there rather
 * than go down a free list of a hundred thousand chunks (14 ms) for
 * none. Returns how many. Class lock of v held. */
static uint32_t claim_free_locked(struct slab_class *v, const char *page, uint32_t want)
{
    slab_assert_locked(v);
    size_t page_size = slab_page_size();
    uint32_t *pp = &v->free_list, got = 0;
    while (*pp != 0 && got < want) {
        struct item *f = slab_item(*pp);
        if (in_page(f, page, page_size)) {
            *pp = f->h_next;
            atomic_store_explicit(&f->state, ITEM_MOVING, memory_order_relaxed);
            got++;
        } else {
            pp = &f->h_next;
        }
    }
    STAT_SUB(v->free_count, got);
    return got;
}

/* Takes page `idx` out of class v: its `nfree` chunks on the free list
 * (the caller counted them under this hold of the lock) leave it, the
 * never-used tail is dropped, the hand and the sweep cursor keep pointing
 * at the same chunks. Class lock of v held. */
static void detach_page_locked(struct slab_class *v, size_t idx, uint32_t nfree)
{
    slab_assert_locked(v);
    size_t page_size = slab_page_size();
    char *page = v->pages[idx];
    if (nfree > 0)
        claim_free_locked(v, page, nfree);
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

/* lru_trylock_linked(unreferenced), tried REBALANCE_SPINS times in a row
 * (a microsecond or two): right after a burst of sets the hash table's
 * expansion holds one stripe after another, each for a bucket's worth of
 * items, and every page of small items has items of the stripe it holds
 * at that instant. Never longer, never giving the CPU up: the holder may
 * be waiting for the class lock this thread holds (a chunk cache flushed
 * under a stripe lock), or be this very thread (an append allocates its
 * new item under its key's stripe lock), or be preempted; waiting holds
 * every thread that needs the class meanwhile. The page is busy then: the
 * caller tries another, and retries later with no lock held. */
static bool trylock_briefly(struct item *it, uint16_t st, uint32_t *hv)
{
    for (int i = 0; i < REBALANCE_SPINS; i++) {
        if (lru_trylock_linked(it, st, true, hv))
            return true;
        if (!item_linked_under(it, item_state_stripe(st)) || item_refcount(it) != 1)
            return false;
    }
    return false;
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
    uint32_t nfree = 0;
    for (uint32_t i = 0; i < carved; i++) {
        struct item *it = (struct item *)(page + (size_t)i * v->size);
        uint16_t st = item_state(it);
        if (st & ITEM_FREE) {
            nfree++;
            continue;
        }
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
        if (!(st & ITEM_LINKED) || !trylock_briefly(it, st, &hv)) {
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
    detach_page_locked(v, idx, nfree);
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
        /* one page per hold of the class lock: a page of small items is
         * 2-3 ms of evictions, and the workers refilling from the class
         * wait meanwhile. Chunks cached by any thread would pin the
         * class's pages: they go back under the class lock the page is
         * emptied under */
        for (size_t k = 0; k < REBALANCE_PAGES; k++) {
            tcache_steal_begin();
            slab_lock(v);
            if (k >= v->npages) {
                slab_unlock(v);
                tcache_steal_end();
                break;
            }
            tcache_steal_locked(v);
            size_t idx = ((v->hand_page < v->npages ? v->hand_page : 0) + k) % v->npages;
            char *page = v->pages[idx];
            bool emptied = empty_page_locked(v, idx, ts);
            slab_unlock(v);
            tcache_steal_end();
            if (emptied)
                return page;
            *busy = true;
        }
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
 * the free list, else the never-used end of the newest page. Never a new
 * page. The page's own free chunks stay on the free list until the pass
 * claims them (drain_slice_locked); one met at the head is claimed here,
 * and taken off *nfree when the pass counted it already (it lies before
 * chunk `cur`). Class lock held. */
static struct item *rescue_chunk_locked(struct slab_class *v, const char *page, uint32_t cur, uint32_t *nfree,
                                        struct rebalance_counts *n)
{
    struct item *f;
    while ((f = slab_item(v->free_list)) != NULL && in_page(f, page, slab_page_size())) {
        v->free_list = f->h_next;
        STAT_SUB(v->free_count, 1);
        STAT_INC(v->used_chunks);
        atomic_store_explicit(&f->state, ITEM_MOVING, memory_order_relaxed);
        n->inline_reclaim++;
        if ((uint32_t)(((const char *)f - page) / v->size) < cur && *nfree > 0)
            (*nfree)--;
    }
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

/* Index of `page` in v's page array, or npages; `hint` is where it was
 * last time. Class lock held. */
static size_t page_index_locked(const struct slab_class *v, const char *page, size_t hint)
{
    if (hint < v->npages && v->pages[hint] == page)
        return hint;
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

/* Deals with chunks [lo, hi) of the page: a live item nobody holds is
 * rescued (or evicted), an expired one reclaimed, each then the mover's
 * (MOVING); a chunk in use counts in *busy, a free one in *nfree (it is
 * claimed off the free list afterwards, in one walk). Class lock held. */
static void drain_slice_locked(struct slab_class *v, char *page, uint32_t lo, uint32_t hi, rel_time_t now,
                               struct rebalance_counts *n, uint32_t *busy, uint32_t *nfree)
{
    slab_assert_locked(v);
    for (uint32_t i = lo; i < hi; i++) {
        struct item *it = chunk_at(v, page, i);
        uint16_t st = item_state(it);
        if ((st & (ITEM_MOVING | ITEM_LINKED)) == ITEM_MOVING)
            continue; /* the mover's already */
        if (st & ITEM_FREE) {
            (*nfree)++;
            continue;
        }
        uint32_t hv;
        if (!(st & ITEM_LINKED) || item_refcount(it) != 1 || !lru_trylock_linked(it, st, true, &hv)) {
            (*busy)++; /* being written, read, or cached by a thread */
            continue;
        }
        struct item *dst = NULL;
        if (expire_state(it, now) != EXPIRE_LIVE) {
            STAT_INC(v->reclaimed);
        } else if ((dst = rescue_chunk_locked(v, page, i, nfree, n)) != NULL) {
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
}

/* Between two holds of the class lock: a mutex given back is retaken at
 * once by its holder, before a waiter on another core has woken up (a
 * sched_yield() with nothing else to run on this core returns at once);
 * a short sleep lets the workers waiting for the class in. */
static void drain_gap(void)
{
    struct timespec gap = {0, REBALANCE_GAP_NS};
    nanosleep(&gap, NULL);
}

/* Whether chunk `b` is on v's free list: a carved chunk of one of v's
 * pages (checked by address before anything of it is read: a page given
 * back to the OS is PROT_NONE) whose state is FREE alone (only
 * slab_free_locked sets it, pushing the chunk on its class's list; a page
 * that came to v since had its chunks' states set anew). Class lock held. */
static bool on_free_list_locked(const struct slab_class *v, const struct item *b)
{
    size_t page_size = slab_page_size();
    for (size_t i = 0; i < v->npages; i++) {
        const char *p = v->pages[i];
        if (in_page(b, p, page_size))
            return (uint32_t)(((const char *)b - p) / v->size) < slab_carved_locked(v, i) &&
                   item_state(b) == ITEM_FREE;
    }
    return false;
}

/* Up to REBALANCE_WALK chunks of v's free list, taking the page's off it
 * (MOVING) until *got reaches `want`. The walk goes on after *mark (the
 * chunk it stopped at last hold, 0: none) while that chunk is still on the
 * list, else from the head again (*restarts counts those): the list only
 * changes at its head, but for the on-demand mover taking a page's chunks
 * out of it, and a chunk below the mark is reached from it. True when the
 * walk is over (the end of the list, or every chunk found); false: call
 * again, after giving the lock up. Class lock held. */
static bool claim_walk_locked(struct slab_class *v, const char *page, uint32_t want, uint32_t *got,
                              uint32_t *mark, unsigned *restarts)
{
    slab_assert_locked(v);
    size_t page_size = slab_page_size();
    struct item *prev = NULL;
    if (*mark != 0) {
        if (on_free_list_locked(v, slab_item(*mark)))
            prev = slab_item(*mark);
        else
            (*restarts)++;
    }
    uint32_t *pp = prev != NULL ? &prev->h_next : &v->free_list, found = 0;
    for (unsigned n = 0; *pp != 0 && *got + found < want; n++) {
        if (n == REBALANCE_WALK) {
            *mark = slab_handle(prev); /* 0 when prev is NULL: the head */
            STAT_SUB(v->free_count, found);
            STAT_ADD(v->used_chunks, found);
            *got += found;
            return false;
        }
        struct item *f = slab_item(*pp);
        if (in_page(f, page, page_size)) {
            *pp = f->h_next;
            atomic_store_explicit(&f->state, ITEM_MOVING, memory_order_relaxed);
            found++;
        } else {
            prev = f;
            pp = &f->h_next;
        }
    }
    STAT_SUB(v->free_count, found);
    STAT_ADD(v->used_chunks, found);
    *got += found;
    return true;
}

/* Whether every chunk of the page is the mover's. Class lock held. */
static bool all_moving_locked(const struct slab_class *v, const char *page)
{
    for (uint32_t i = 0; i < v->perslab; i++)
        if ((item_state(chunk_at(v, page, i)) & (ITEM_MOVING | ITEM_LINKED)) != ITEM_MOVING)
            return false;
    return true;
}

/*
 * One pass over the page, REBALANCE_SLICE chunks per hold of the class
 * lock: a worker that refills or flushes its chunk cache of the class
 * waits one slice (a few tens of microseconds), not a whole page of small
 * items (10,922 chunks, rescued one by one: 3 ms; with the free-list walk
 * of every pass, up to 17 ms measured, which a preemption on a loaded
 * machine stretches). Between slices the page stays the class's and what
 * the mover claimed stays MOVING, as between passes, and the mover pauses
 * for the waiters (drain_gap). The page's free chunks are counted on the
 * way and claimed off the free list by a walk that stops when it has them
 * all, itself in holds of REBALANCE_WALK chunks; the page leaves the
 * class under the hold that finds every chunk the mover's.
 */
enum rebalance_pass rebalance_drain_pass(struct rebalance_drain *d, struct rebalance_counts *n)
{
    struct slab_class *v = d->from;
    char *page = d->page;
    rel_time_t now = store_clock_now();
    tcache_enrol(); /* it counts with a class lock held: tcache.h */
    uint32_t busy = 0, nfree = 0;
    size_t idx = 0;
    for (uint32_t lo = 0; lo < v->perslab; lo += REBALANCE_SLICE) {
        uint32_t hi = v->perslab - lo > REBALANCE_SLICE ? lo + REBALANCE_SLICE : v->perslab;
        if (lo == 0)
            tcache_steal_begin();
        slab_lock(v);
        idx = page_index_locked(v, page, idx);
        if (idx == v->npages) { /* the on-demand mover took it */
            slab_unlock(v);
            if (lo == 0)
                tcache_steal_end();
            return REBALANCE_GONE;
        }
        if (lo == 0) {
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
        }
        drain_slice_locked(v, page, lo, hi, now, n, &busy, &nfree);
        slab_unlock(v);
        if (lo == 0)
            tcache_steal_end();
        drain_gap();
    }
    n->busy_items += busy;
    /* the page's free chunks are the mover's (one freed since it was
     * counted is left for the next pass), a walk of the free list in holds
     * of REBALANCE_WALK chunks */
    uint32_t got = 0, mark = 0;
    unsigned restarts = 0;
    for (;;) {
        slab_lock(v);
        idx = page_index_locked(v, page, idx);
        if (idx == v->npages) {
            slab_unlock(v);
            n->inline_reclaim += got;
            return REBALANCE_GONE;
        }
        if (nfree == 0 || claim_walk_locked(v, page, nfree, &got, &mark, &restarts))
            break;
        if (restarts > REBALANCE_RESTARTS) {
            busy++; /* the list kept changing under the walk: the next pass */
            break;
        }
        slab_unlock(v);
        drain_gap();
    }
    n->inline_reclaim += got;
    if (busy > 0 || !all_moving_locked(v, page)) {
        slab_unlock(v);
        return REBALANCE_BUSY;
    }
    STAT_SUB(v->used_chunks, v->perslab); /* every chunk was the mover's */
    detach_page_locked(v, idx, 0);
    slab_unlock(v);
    return REBALANCE_DONE;
}

void rebalance_drain_abandon(struct rebalance_drain *d)
{
    struct slab_class *v = d->from;
    if (v == NULL || !d->started)
        return;
    slab_lock(v);
    if (page_index_locked(v, d->page, 0) < v->npages) {
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
