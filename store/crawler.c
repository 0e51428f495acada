/*
 * crawler.c - walks over the chunks of slab classes for `lru_crawler
 * metadump|mgdump` and `stats cachedump` (a dump: copies of the live items,
 * on the caller's thread, a batch at a time) and for `lru_crawler crawl`
 * (the crawler thread: reclaims expired and flushed items).
 *
 * The walk follows the rules of the CLOCK hand and the expiry sweep
 * (doc/threads.md): a bounded batch of chunks per hold of the class lock,
 * only the atomic `state` read before the item's stripe lock is held, the
 * stripe found in `state`. A crawl only trylocks that stripe (class ->
 * stripe is the reverse order) and skips a busy item, as the sweep does. A
 * dump must not skip a live item, so when the trylock fails it drops the
 * class lock, takes the stripe lock and then the class lock (the lock
 * order), and looks at the chunk again.
 *
 * Exactly once. The page mover (rebalance.c) takes a page out of a class's
 * page array (the later pages shift down) and appends pages at the end. So
 * the cursor names its page by address, with its index as a hint, and the
 * dump keeps a bitmap of the arena pages it has finished: a page is walked
 * at most once per dump even if it moves to another chosen class. An item
 * that stays in its chunk for the whole dump is listed exactly once (its
 * page stays in its class, so the walk reaches it); items written
 * meanwhile may appear as old, new, both or neither (store.h).
 */
#include "config.h"

#include "store/engine.h"

#include "store/crawler.h"
#include "store/expire.h"
#include "store/hashtable.h"
#include "store/item.h"
#include "store/lru.h"
#include "store/slab.h"
#include "store/tcache.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Chunks looked at per hold of a class lock. */
#define CRAWL_BATCH 64

enum walk_mode { WALK_DUMP, WALK_RECLAIM };

/* Items looked at by crawls, per class (stats items: crawler_items_checked). */
static _Atomic uint64_t class_checked[STORE_CLASSES_MAX];

struct store_dump {
    uint64_t classes;
    unsigned cls;           /* the class being walked (1..) */
    char *page;             /* the page being walked; NULL: find the next */
    size_t page_idx;        /* its index in the class's page array (a hint) */
    uint32_t chunk;         /* the next chunk of that page */
    uint8_t *visited;       /* one bit per arena page, finished pages */
    size_t nvisited;        /* bytes of `visited` */
    uint64_t checked;       /* chunks with a linked item looked at, this class */
    uint64_t limit;         /* WALK_RECLAIM: checked items per class at most (0: all) */
    bool done;
    struct seg_engine_cursor seg; /* segments: the index walk (seg_engine.h) */
};

static size_t page_no(const char *page)
{
    return (size_t)(page - slab_arena) / slab_page_size();
}

static bool visited(const struct store_dump *d, const char *page)
{
    size_t n = page_no(page);
    return n / 8 < d->nvisited && (d->visited[n / 8] & (1u << (n % 8)));
}

static void mark_visited(struct store_dump *d, const char *page)
{
    size_t n = page_no(page);
    if (n / 8 >= d->nvisited) {
        size_t want = n / 8 + 64;
        uint8_t *v = realloc(d->visited, want);
        if (v == NULL)
            return; /* the page may be walked again: harmless but for a repeat */
        memset(v + d->nvisited, 0, want - d->nvisited);
        d->visited = v;
        d->nvisited = want;
    }
    d->visited[n / 8] |= (uint8_t)(1u << (n % 8));
}

struct store_dump *store_dump_open(uint64_t classes)
{
    struct store_dump *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return NULL;
    /* segments: one class, 1, the whole index; any other: an empty dump */
    d->classes = store_seg_on ? classes & (UINT64_C(1) << 1) : classes;
    d->seg.done = store_seg_on && d->classes == 0;
    d->cls = 1;
    d->nvisited = store_seg_on ? 1 : slab_mem_limit() / slab_page_size() / 8 + 2;
    d->visited = calloc(d->nvisited, 1);
    if (d->visited == NULL) {
        free(d);
        return NULL;
    }
    return d;
}

void store_dump_close(struct store_dump *d)
{
    if (d == NULL)
        return;
    seg_engine_cursor_free(&d->seg);
    free(d->visited);
    free(d);
}

/* Finds the cursor's page in class c, or the next page not walked yet.
 * False when the class has none left. Class lock held. */
static bool locate_locked(struct slab_class *c, struct store_dump *d)
{
    slab_assert_locked(c);
    if (d->page != NULL) {
        if (d->page_idx < c->npages && c->pages[d->page_idx] == d->page)
            return true;
        for (size_t i = 0; i < c->npages; i++) {
            if (c->pages[i] == d->page) {
                d->page_idx = i;
                return true;
            }
        }
        /* the page left the class (its items were evicted): pages only
         * move down or are appended, but look again from the start */
        d->page = NULL;
        d->page_idx = 0;
    }
    for (size_t i = d->page_idx; i < c->npages; i++) {
        if (!visited(d, c->pages[i])) {
            d->page = c->pages[i];
            d->page_idx = i;
            d->chunk = 0;
            return true;
        }
    }
    return false;
}

static void copy_item(const struct item *it, struct store_dump_item *o)
{
    o->nkey = it->nkey;
    memcpy(o->key, item_key(it), it->nkey);
    o->key_binary = (item_state(it) & ITEM_KEY_BINARY) != 0;
    o->fetched = (item_iflags(it) & ITEM_FETCHED) != 0;
    o->clsid = it->clsid;
    o->flags = it->flags;
    o->nbytes = it->nbytes;
    o->exptime = item_exptime(it);
    o->atime = item_atime(it);
    o->cas = item_cas(it);
}

/* The item in `it`, linked under `stripe` which this thread holds: copied
 * out (dump) or reclaimed (crawl) when it is no longer live. Both locks held. */
static bool visit_locked(struct slab_class *c, struct item *it, uint32_t hv, enum walk_mode mode,
                         rel_time_t now, struct store_dump_item *out)
{
    if (expire_state(it, now) == EXPIRE_LIVE) {
        if (mode == WALK_DUMP)
            copy_item(it, out);
        return mode == WALK_DUMP;
    }
    if (mode == WALK_RECLAIM) {
        if (!(item_iflags(it) & ITEM_FETCHED))
            STAT_INC(c->expired_unfetched);
        STAT_INC(c->crawler_reclaimed);
        lru_unlink_item_locked(it, hv);
        item_release_locked(it);
    }
    return false;
}

/* One batch of chunks of class c at most; items found go to out[] (up to
 * max). Returns the count found; sets *class_done at the end of the class. */
static size_t walk_batch(struct slab_class *c, struct store_dump *d, enum walk_mode mode,
                         struct store_dump_item *out, size_t max, bool *class_done)
{
    rel_time_t now = store_clock_now();
    size_t n = 0;
    *class_done = false;
    slab_lock(c);
    for (int step = 0; step < CRAWL_BATCH && n < max; step++) {
        if (!locate_locked(c, d)) {
            *class_done = true;
            break;
        }
        if (d->chunk >= slab_carved_locked(c, d->page_idx)) {
            mark_visited(d, d->page);
            d->page = NULL;
            d->page_idx++;
            continue;
        }
        if (mode == WALK_RECLAIM && d->limit != 0 && d->checked >= d->limit) {
            *class_done = true;
            break;
        }
        struct item *it = (struct item *)(d->page + (size_t)d->chunk * c->size);
        d->chunk++;
        uint16_t st = item_state(it);
        if (!(st & ITEM_LINKED))
            continue;
        d->checked++;
        if (mode == WALK_RECLAIM)
            atomic_fetch_add_explicit(&class_checked[c->id], 1, memory_order_relaxed);
        uint32_t hv;
        unsigned stripe = item_state_stripe(st);
        if (mode == WALK_RECLAIM) {
            if (lru_trylock_linked(it, st, false, &hv)) {
                visit_locked(c, it, hv, mode, now, NULL);
                ht_unlock(hv);
            }
            continue; /* busy: the next crawl or the sweep gets it */
        }
        /* a dump needs no hash: the stripe's lock, then the item still
         * linked under it (ht_lock(stripe) is the lock of every hash of
         * that stripe: hashtable.h) */
        if (ht_trylock(stripe)) {
            if (item_linked_under(it, stripe) && visit_locked(c, it, 0, mode, now, out != NULL ? &out[n] : NULL))
                n++;
            ht_unlock(stripe);
            continue;
        }
        /* busy: take the locks in their order and look again (the chunk's
         * page may have moved meanwhile) */
        char *page = d->page;
        slab_unlock(c);
        ht_lock(stripe);
        slab_lock(c);
        if (locate_locked(c, d) && d->page == page && item_linked_under(it, stripe)) {
            if (expire_state(it, now) == EXPIRE_LIVE)
                copy_item(it, &out[n++]);
        }
        ht_unlock(stripe);
    }
    slab_unlock(c);
    return n;
}

static size_t walk(struct store_dump *d, enum walk_mode mode, struct store_dump_item *out, size_t max)
{
    size_t n = 0;
    while (!d->done && n < max) {
        if (d->cls > slab_nclasses() || d->cls >= STORE_CLASSES_MAX) {
            d->done = true;
            break;
        }
        struct slab_class *c = slab_class_get(d->cls);
        bool class_done = true;
        if (c != NULL && (d->classes & (UINT64_C(1) << d->cls)))
            n += walk_batch(c, d, mode, out != NULL ? out + n : NULL, max - n, &class_done); /* a crawl has no out */
        if (class_done) {
            d->cls++;
            d->page = NULL;
            d->page_idx = 0;
            d->checked = 0;
        }
        if (mode == WALK_RECLAIM)
            break; /* one batch per call: the thread sleeps between them */
    }
    return n;
}

size_t store_dump_next(struct store_dump *d, struct store_dump_item *out, size_t max)
{
    size_t n = 0;
    if (store_seg_on) {
        while (n == 0 && !d->seg.done)
            n = seg_engine_dump_next(&d->seg, out, max);
        return n;
    }
    while (n == 0 && !d->done)
        n = walk(d, WALK_DUMP, out, max);
    return n;
}

/* ---- the crawler thread ---- */

static pthread_mutex_t crawl_lock = PTHREAD_MUTEX_INITIALIZER; /* leaf: guards what follows */
static pthread_cond_t crawl_cond = PTHREAD_COND_INITIALIZER;
static pthread_t crawl_thread;
static bool crawl_started, crawl_stop;
static uint64_t crawl_pending;            /* classes asked for, 0: none */
static _Atomic bool crawl_running;
static _Atomic bool crawl_enabled = true;
static _Atomic uint32_t crawl_sleep_us = 100;
static _Atomic uint32_t crawl_tocrawl;
static _Atomic uint64_t crawl_starts;

static void crawl_pause(uint32_t usec)
{
    if (usec == 0)
        return;
    struct timespec ts = {.tv_sec = usec / 1000000, .tv_nsec = (long)(usec % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

static void run_crawl(uint64_t classes)
{
    struct store_dump *d = store_dump_open(classes);
    if (d == NULL)
        return;
    d->limit = atomic_load_explicit(&crawl_tocrawl, memory_order_relaxed);
    while (!d->done) {
        if (store_seg_on) {
            /* segments: one class, the index in slices */
            if (d->seg.done || (d->limit != 0 && d->checked >= d->limit))
                break;
            uint64_t n = seg_engine_crawl_next(&d->seg, d->limit != 0 ? d->limit - d->checked : 0);
            d->checked += n;
            atomic_fetch_add_explicit(&class_checked[1], n, memory_order_relaxed);
        } else {
            walk(d, WALK_RECLAIM, NULL, 1);
        }
        pthread_mutex_lock(&crawl_lock);
        bool stop = crawl_stop;
        pthread_mutex_unlock(&crawl_lock);
        if (stop)
            break;
        crawl_pause(atomic_load_explicit(&crawl_sleep_us, memory_order_relaxed));
    }
    store_dump_close(d);
}

static void *crawl_main(void *arg)
{
    (void)arg;
    if (!store_seg_on)
        tcache_enrol(); /* a crawl counts with the class lock held: tcache.h */
    pthread_mutex_lock(&crawl_lock);
    for (;;) {
        while (!crawl_stop && crawl_pending == 0)
            pthread_cond_wait(&crawl_cond, &crawl_lock);
        if (crawl_stop)
            break;
        uint64_t classes = crawl_pending;
        pthread_mutex_unlock(&crawl_lock);
        run_crawl(classes);
        pthread_mutex_lock(&crawl_lock);
        crawl_pending = 0;
        atomic_store(&crawl_running, false);
    }
    pthread_mutex_unlock(&crawl_lock);
    return NULL;
}

enum store_crawl_status store_crawl_start(uint64_t classes)
{
    if (!atomic_load(&crawl_enabled))
        return STORE_CRAWL_DISABLED;
    enum store_crawl_status st = STORE_CRAWL_OK;
    pthread_mutex_lock(&crawl_lock);
    if (crawl_pending != 0) {
        st = STORE_CRAWL_BUSY;
    } else {
        if (!crawl_started) {
            crawl_stop = false;
            if (pthread_create(&crawl_thread, NULL, crawl_main, NULL) != 0)
                st = STORE_CRAWL_FAILED;
            else
                crawl_started = true;
        }
        if (st == STORE_CRAWL_OK) {
            crawl_pending = classes != 0 ? classes : 1; /* no class: an empty crawl */
            atomic_store(&crawl_running, true);
            atomic_fetch_add(&crawl_starts, 1);
            pthread_cond_signal(&crawl_cond);
        }
    }
    pthread_mutex_unlock(&crawl_lock);
    return st;
}

enum store_crawl_status store_crawl_enable(bool on)
{
    bool was = atomic_exchange(&crawl_enabled, on);
    return on && was ? STORE_CRAWL_FAILED : STORE_CRAWL_OK;
}

bool store_crawl_enabled(void)
{
    return atomic_load(&crawl_enabled);
}

void store_crawl_set_sleep(uint32_t usec)
{
    atomic_store(&crawl_sleep_us, usec);
}

void store_crawl_set_tocrawl(uint32_t n)
{
    atomic_store(&crawl_tocrawl, n);
}

uint32_t store_crawl_sleep(void)
{
    return atomic_load(&crawl_sleep_us);
}

uint32_t store_crawl_tocrawl(void)
{
    return atomic_load(&crawl_tocrawl);
}

void store_crawl_info(struct store_crawl_info *out)
{
    memset(out, 0, sizeof(*out));
    out->running = atomic_load(&crawl_running);
    out->starts = atomic_load(&crawl_starts);
    for (unsigned i = 0; i < STORE_CLASSES_MAX; i++) {
        out->class_checked[i] = atomic_load_explicit(&class_checked[i], memory_order_relaxed);
        out->checked += out->class_checked[i];
    }
}

/* Stops the crawler thread (store_teardown, before the memory goes). */
void crawler_teardown(void)
{
    pthread_mutex_lock(&crawl_lock);
    bool started = crawl_started;
    crawl_stop = true;
    pthread_cond_signal(&crawl_cond);
    pthread_mutex_unlock(&crawl_lock);
    if (started)
        pthread_join(crawl_thread, NULL);
    pthread_mutex_lock(&crawl_lock);
    crawl_started = false;
    crawl_stop = false;
    crawl_pending = 0;
    pthread_mutex_unlock(&crawl_lock);
    atomic_store(&crawl_running, false);
    /* the counts are the store's: a new store starts them at zero (the
     * settings, enabled / sleep / tocrawl, are the process's and stay) */
    atomic_store(&crawl_starts, 0);
    for (unsigned i = 0; i < STORE_CLASSES_MAX; i++)
        atomic_store_explicit(&class_checked[i], 0, memory_order_relaxed);
}
