/*
 * automove.c - the page mover's thread (see automove.h).
 *
 * Owns the thread, the one pending request (`slabs reassign`), the
 * automover's sample window and the mover's counters. One move at a time:
 * a request, an automover decision or a page given back for a lowered
 * limit, each a drain of one page (rebalance.c) in passes with a short
 * sleep between them while chunks of the page are in use, then the page
 * goes to its new class or to the global page pool (slab.c). While a move
 * is under way `slabs reassign` answers BUSY, as memcached's.
 *
 * The automover, once a second, samples every class: did it evict, run
 * out of memory or gain a page; the age of the item at its CLOCK hand
 * (the next it would evict: store.h's oldest_age); its free chunks. Over
 * the last `window` seconds (slab_automove_window):
 *   - a class with more than 2.5 pages of free chunks and none of those
 *     events in the whole window gives a page to the global pool;
 *   - else if the class that evicted in more than half of the window and
 *     now has the youngest average age is younger than `ratio` times the
 *     class of the oldest average age (with more than 2 pages), a page
 *     moves from that old class to the young one; AM_BURST pages when
 *     the young age is below half of that (memcached moves one a second,
 *     which a shift of value sizes in a large cache outruns for minutes).
 * Mode 2 moves a page to any class that evicted since the last tick (every
 * AM_TICK_MS), from the class with the oldest items that has 2 pages.
 * Classes take pages from the global pool before they carve new ones.
 *
 * Lock: am_lock guards the request and the stop flag, a leaf lock; the
 * drain takes registry_lock, a class lock and trylocks stripes, never
 * with am_lock held.
 */
#include "config.h"

#include "store/engine.h"

#include "store/automove.h"

#include "store/item.h"
#include "store/lru.h"
#include "store/rebalance.h"
#include "store/slab.h"
#include "store/tcache.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define AM_TICK_MS 100            /* the thread wakes this often */
#define AM_PASS_SLEEP_NS 1000000L /* between two passes over a busy page */
#define AM_BUSY_MS 5000           /* how long a busy page is tried before it is given up
                                     (5000 passes of 1 ms, when a pass was one hold) */
#define AM_PASS_MAX_INLINE 3      /* passes, with no thread: the caller (a unit
                                     test, the fuzz target) does not wait */
#define AM_SOURCE_PAGES 2         /* the automover takes from classes of more pages */
#define AM_RECLAIM_PAGES 2.5      /* free chunks worth this many pages: one to the pool */
#define AM_BURST 4                /* pages one decision moves when the ages are far apart */

static pthread_t am_thread;
static bool am_running;
static pthread_mutex_t am_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t am_cond = PTHREAD_COND_INITIALIZER;
static bool am_stop;                   /* am_lock */
static bool req_pending;               /* am_lock */
static int req_src, req_dst;           /* am_lock */
static _Atomic bool am_stopping;       /* am_stop, for the drain loop */
static _Atomic bool move_running;      /* a move accepted and not finished */

static _Atomic unsigned am_mode;
static double am_ratio;
static unsigned am_window;
static _Atomic unsigned pick_cursor;

static _Atomic uint64_t n_moved, n_rescues, n_evictions, n_inline, n_busy;
static _Atomic bool last_busy;

/* the automover's samples: the mover thread's alone */
struct am_prev {
    uint64_t evicted, oom, tick_evicted;
    size_t pages;
};
struct am_slot {
    bool dirty, evicted;
    rel_time_t age;
};
static struct am_prev prev[STORE_CLASSES_MAX];
static struct am_slot *slots;           /* [class][window] */
static unsigned slot_pos;

static void
nap(long ns)
{
    struct timespec ts = {.tv_sec = ns / 1000000000L, .tv_nsec = ns % 1000000000L};
    nanosleep(&ts, NULL);
}

static void
count(_Atomic uint64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static uint64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Empties a page of v (which must have at least `min_pages`) and returns
 * it, or NULL when v has too few or its page stayed busy too long. */
static char *
drain(struct slab_class *v, size_t min_pages)
{
    struct rebalance_drain d;
    if (v == NULL || !rebalance_drain_start(v, min_pages, &d))
        return NULL;
    struct rebalance_counts c = {0};
    char *page = NULL;
    uint64_t give_up = now_ms() + AM_BUSY_MS;
    for (unsigned pass = 0;; pass++) {
        enum rebalance_pass r = rebalance_drain_pass(&d, &c);
        if (r == REBALANCE_DONE) {
            page = d.page;
            break;
        }
        if (r == REBALANCE_GONE)
            break;
        atomic_store_explicit(&last_busy, true, memory_order_relaxed);
        if ((am_running ? now_ms() >= give_up : pass >= AM_PASS_MAX_INLINE) ||
            atomic_load_explicit(&am_stopping, memory_order_relaxed)) {
            rebalance_drain_abandon(&d);
            break;
        }
        nap(AM_PASS_SLEEP_NS);
    }
    count(&n_rescues, c.rescues);
    count(&n_evictions, c.evictions);
    count(&n_inline, c.inline_reclaim);
    count(&n_busy, c.busy_items);
    return page;
}

/* A page from class src (0: the global pool) to class dst (0: the pool). */
static bool
do_move(int src, int dst)
{
    char *page = src == 0 ? slab_gpool_take() : drain(slab_class_get((unsigned)src), AM_SOURCE_PAGES);
    if (page == NULL)
        return false;
    rebalance_give_page(dst == 0 ? NULL : slab_class_get((unsigned)dst), page);
    count(&n_moved, 1);
    return true;
}

/* An automover decision: one move, with `slabs reassign` held off. */
static bool
auto_move(int src, int dst)
{
    bool idle = false;
    if (!atomic_compare_exchange_strong(&move_running, &idle, true))
        return false;
    bool moved = do_move(src, dst);
    atomic_store(&move_running, false);
    return moved;
}

/* Pages back to the OS while more is taken than the limit allows: the
 * global pool's first, then pages of the class with the most. */
static void
shrink(void)
{
    while (slab_total_malloced() > slab_mem_limit() && !atomic_load_explicit(&am_stopping, memory_order_relaxed)) {
        char *page = slab_gpool_take();
        if (page == NULL) {
            struct slab_class *v = NULL;
            for (unsigned id = 1; id <= slab_nclasses(); id++) {
                struct slab_class *c = slab_class_get(id);
                if (v == NULL || __atomic_load_n(&c->npages, __ATOMIC_RELAXED) >
                                     __atomic_load_n(&v->npages, __ATOMIC_RELAXED))
                    v = c;
            }
            if (v == NULL || (page = drain(v, 1)) == NULL)
                return;
        }
        slab_page_release(page);
    }
}

struct am_class {
    size_t pages, free;
    uint32_t perslab;
    rel_time_t age;
};

static void
sample(struct slab_class *c, rel_time_t now, struct am_class *out)
{
    slab_lock(c);
    out->pages = c->npages;
    out->free = STAT_GET(c->free_count) + c->end_left;
    out->perslab = c->perslab;
    struct item *hand = lru_hand_item_locked(c);
    out->age = hand != NULL && item_atime(hand) < now ? now - item_atime(hand) : 0;
    slab_unlock(c);
}

/* Mode 1, once a second. */
static void
decide_windowed(void)
{
    rel_time_t now = store_clock_now();
    unsigned n = slab_nclasses();
    int youngest = -1, oldest = -1;
    uint64_t young_age = UINT64_MAX, old_age = 0;
    bool young_evicting = false;
    for (unsigned id = 1; id <= n; id++) {
        struct slab_class *c = slab_class_get(id);
        struct am_class s;
        sample(c, now, &s);
        uint64_t ev = STAT_GET(c->evicted), oom = STAT_GET(c->outofmemory);
        struct am_slot *w = &slots[(size_t)id * am_window];
        struct am_slot *cur = &w[slot_pos];
        cur->evicted = ev > prev[id].evicted;
        cur->dirty = cur->evicted || oom > prev[id].oom || s.pages > prev[id].pages;
        cur->age = s.age;
        prev[id].evicted = ev;
        prev[id].oom = oom;
        prev[id].pages = s.pages;
        unsigned dirty = 0, evicted = 0;
        uint64_t age = 0;
        for (unsigned k = 0; k < am_window; k++) {
            dirty += w[k].dirty;
            evicted += w[k].evicted;
            age += w[k].age;
        }
        age /= am_window;
        if (s.pages > 0 && (double)s.free > (double)s.perslab * AM_RECLAIM_PAGES && dirty == 0) {
            slot_pos = (slot_pos + 1) % am_window;
            auto_move((int)id, 0);
            return;
        }
        if (age > old_age && s.pages > AM_SOURCE_PAGES) {
            oldest = (int)id;
            old_age = age;
        }
        if (age < young_age && evicted > am_window / 2) {
            youngest = (int)id;
            young_age = age;
            young_evicting = cur->evicted;
        }
    }
    slot_pos = (slot_pos + 1) % am_window;
    if (youngest == -1 || oldest == -1 || youngest == oldest || !young_evicting ||
        (double)young_age >= (double)old_age * am_ratio)
        return;
    /* the young class's items live less than half as long as the ratio
     * allows: it is short of memory by far more than a page a second */
    int pages = (double)young_age * 2 < (double)old_age * am_ratio ? AM_BURST : 1;
    for (int i = 0; i < pages && auto_move(oldest, youngest); i++)
        ;
}

/* Mode 2, every tick: a page to each class that evicted, one per tick. */
static void
decide_eager(void)
{
    rel_time_t now = store_clock_now();
    unsigned n = slab_nclasses();
    int dst = -1, src = -1;
    rel_time_t old_age = 0;
    for (unsigned id = 1; id <= n; id++) {
        struct slab_class *c = slab_class_get(id);
        uint64_t ev = STAT_GET(c->evicted);
        if (ev > prev[id].tick_evicted && dst == -1)
            dst = (int)id;
        prev[id].tick_evicted = ev;
    }
    if (dst == -1)
        return;
    for (unsigned id = 1; id <= n; id++) {
        struct am_class s;
        if ((int)id == dst)
            continue;
        sample(slab_class_get(id), now, &s);
        if (s.pages >= AM_SOURCE_PAGES && (src == -1 || s.age > old_age)) {
            src = (int)id;
            old_age = s.age;
        }
    }
    if (src != -1)
        auto_move(src, dst);
}


/* Takes the pending request, if any, and carries it out. */
static void
serve_request(void)
{
    pthread_mutex_lock(&am_lock);
    bool have = req_pending;
    int src = req_src, dst = req_dst;
    req_pending = false;
    pthread_mutex_unlock(&am_lock);
    if (!have)
        return;
    do_move(src, dst);
    atomic_store(&move_running, false);
}

static void *
am_main(void *arg)
{
    (void)arg;
    tcache_enrol();
    uint64_t last_second = now_ms();
    pthread_mutex_lock(&am_lock);
    while (!am_stop) {
        if (!req_pending) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += AM_TICK_MS * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&am_cond, &am_lock, &ts);
        }
        if (am_stop)
            break;
        pthread_mutex_unlock(&am_lock);
        serve_request();
        shrink();
        unsigned mode = atomic_load_explicit(&am_mode, memory_order_relaxed);
        if (mode == 2)
            decide_eager();
        if (now_ms() - last_second >= 1000) {
            last_second = now_ms();
            if (mode == 1)
                decide_windowed();
        }
        pthread_mutex_lock(&am_lock);
    }
    pthread_mutex_unlock(&am_lock);
    return NULL;
}

int
automove_setup(const struct store_options *o, bool start)
{
    atomic_store(&am_mode, o->automove <= 2 ? o->automove : 1);
    am_ratio = o->automove_ratio > 0 ? o->automove_ratio : 0.8;
    am_window = o->automove_window > 0 ? o->automove_window : 10;
    slots = calloc((size_t)STORE_CLASSES_MAX * am_window, sizeof(*slots));
    if (slots == NULL) {
        errno = ENOMEM;
        return -1;
    }
    memset(prev, 0, sizeof(prev));
    slot_pos = 0;
    atomic_store(&n_moved, 0);
    atomic_store(&n_rescues, 0);
    atomic_store(&n_evictions, 0);
    atomic_store(&n_inline, 0);
    atomic_store(&n_busy, 0);
    atomic_store(&last_busy, false);
    atomic_store(&move_running, false);
    atomic_store(&am_stopping, false);
    am_stop = false;
    req_pending = false;
    if (!start)
        return 0;
    int rc = pthread_create(&am_thread, NULL, am_main, NULL);
    if (rc != 0) {
        free(slots);
        slots = NULL;
        errno = rc;
        return -1;
    }
    am_running = true;
    return 0;
}

void
automove_teardown(void)
{
    if (am_running) {
        pthread_mutex_lock(&am_lock);
        am_stop = true;
        atomic_store(&am_stopping, true);
        pthread_cond_signal(&am_cond);
        pthread_mutex_unlock(&am_lock);
        pthread_join(am_thread, NULL);
        am_running = false;
    }
    free(slots);
    slots = NULL;
}

void
automove_info(struct store_info *out)
{
    out->slab_reassign_running = atomic_load_explicit(&move_running, memory_order_relaxed);
    out->slabs_moved = atomic_load_explicit(&n_moved, memory_order_relaxed);
    out->slab_reassign_rescues = atomic_load_explicit(&n_rescues, memory_order_relaxed);
    out->slab_reassign_evictions = atomic_load_explicit(&n_evictions, memory_order_relaxed);
    out->slab_reassign_inline_reclaim = atomic_load_explicit(&n_inline, memory_order_relaxed);
    out->slab_reassign_busy_items = atomic_load_explicit(&n_busy, memory_order_relaxed);
    out->slab_reassign_last_busy_status = atomic_load_explicit(&last_busy, memory_order_relaxed) ? "busy_active" : "none";
    out->slab_global_page_pool = slab_gpool_count();
}

/* memcached's choice for SRC -1: from a rotating start, the first class
 * other than dst with a page to spare; -1 when none. */
static int64_t
pick_any(int64_t dst)
{
    unsigned n = slab_nclasses();
    for (unsigned k = 0; k < n; k++) {
        unsigned id = 1 + atomic_fetch_add_explicit(&pick_cursor, 1, memory_order_relaxed) % n;
        struct slab_class *c = slab_class_get(id);
        if ((int64_t)id != dst && __atomic_load_n(&c->npages, __ATOMIC_RELAXED) >= AM_SOURCE_PAGES)
            return id;
    }
    return -1;
}

enum store_reassign
store_slabs_reassign(int64_t src, int64_t dst)
{
    STORE_SLAB_ONLY(STORE_REASSIGN_BADCLASS);
    if (atomic_load(&move_running))
        return STORE_REASSIGN_BUSY;
    if (src == dst)
        return STORE_REASSIGN_SAME;
    int64_t n = slab_nclasses();
    if (src == -1)
        src = pick_any(dst);
    if (src < 0 || src > n || dst < 0 || dst > n)
        return STORE_REASSIGN_BADCLASS;
    /* as 1.6.45, the pool (0) too needs 2 pages to give one */
    if ((src == 0 ? slab_gpool_count() : __atomic_load_n(&slab_class_get((unsigned)src)->npages, __ATOMIC_RELAXED)) <
        AM_SOURCE_PAGES)
        return STORE_REASSIGN_NOSPARE;
    bool idle = false;
    if (!atomic_compare_exchange_strong(&move_running, &idle, true))
        return STORE_REASSIGN_BUSY;
    pthread_mutex_lock(&am_lock);
    req_pending = true;
    req_src = (int)src;
    req_dst = (int)dst;
    pthread_cond_signal(&am_cond);
    pthread_mutex_unlock(&am_lock);
    if (!am_running) /* no thread (unit tests): the caller carries it out */
        serve_request();
    return STORE_REASSIGN_OK;
}

void
store_slabs_automove_set(unsigned mode)
{
    atomic_store_explicit(&am_mode, mode <= 2 ? mode : 1, memory_order_relaxed);
}

unsigned
store_slabs_automove(void)
{
    return atomic_load_explicit(&am_mode, memory_order_relaxed);
}

bool
store_mem_limit_set(uint64_t bytes)
{
    STORE_SLAB_ONLY(false);
    if (!slab_mem_limit_set(bytes))
        return false;
    pthread_mutex_lock(&am_lock);
    pthread_cond_signal(&am_cond);
    pthread_mutex_unlock(&am_lock);
    if (!am_running)
        shrink();
    return true;
}

uint64_t
store_mem_limit_max(void)
{
    return slab_mem_limit_max();
}
