/* test_rebalance.c - the page mover: a class with no page gets one from the
 * class holding the most, whose items on that page are evicted. */
#include "config.h"

#include "store/hashtable.h"
#include "store/store.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/unit/store/fixture.h"

static struct store_tstats ts;

static void start(bool evict)
{
    struct store_options o = store_test_opts(2u << 20, 12);
    o.evict_to_free = evict;
    store_test_start(o, &ts, 100);
}

static enum store_status put(const char *prefix, int i, uint32_t vlen, char fill)
{
    char key[32];
    int n = snprintf(key, sizeof(key), "%s%d", prefix, i);
    enum store_status st;
    struct item *it = store_alloc(key, (size_t)n, 0, 0, vlen, &ts, &st);
    if (it == NULL)
        return st;
    memset(item_data(it), fill, vlen);
    st = store_link(it, NULL, NULL, &ts);
    item_release(it);
    return st;
}

/* Every small item still present reads back intact. Returns how many. */
static int count_small(int n)
{
    int found = 0;
    for (int i = 0; i < n; i++) {
        char key[32];
        int kl = snprintf(key, sizeof(key), "s%d", i);
        struct item *it = store_get(key, (size_t)kl, &store_test_peek, NULL, &ts);
        if (it == NULL)
            continue;
        found++;
        cr_assert_eq(item_nbytes(it), 40);
        for (int b = 0; b < 40; b++)
            cr_assert_eq(item_data(it)[b], 's');
        item_release(it);
    }
    return found;
}

Test(rebalance, class_without_page_takes_one, .fini = fini)
{
    start(true);
    /* small items take both pages of the 2 MB budget */
    int n = 0;
    struct store_info si;
    do {
        cr_assert_eq(put("s", n++, 40, 's'), STORE_OK);
        store_info(&si);
    } while (si.total_malloced < (2u << 20) || n < 30000);
    uint64_t before = ts.evictions;
    /* a value of another class: without the mover this is out of memory */
    cr_assert_eq(put("big", 0, 5000, 'b'), STORE_OK);
    cr_assert_gt(ts.evictions, before, "the moved page's items count as evictions");
    store_info(&si);
    cr_assert_leq(si.total_malloced, 2u << 20, "moving a page takes no new memory");
    int left = count_small(n);
    cr_assert_gt(left, 0);
    cr_assert_lt(left, n);
    struct item *it = store_get("big0", 4, &store_test_peek, NULL, &ts);
    cr_assert_not_null(it);
    cr_assert_eq(item_data(it)[4999], 'b');
    item_release(it);
}

/* Holds one stripe lock for `hold_ms`, as a thread preempted in the middle
 * of a short critical section does (the hash table's expansion walking
 * the stripes, on a loaded machine). */
struct stripe_holder {
    pthread_mutex_t m;
    pthread_cond_t cv;
    bool holding;
    long hold_ms;
};

static void *hold_stripe(void *arg)
{
    struct stripe_holder *h = arg;
    ht_lock(0);
    pthread_mutex_lock(&h->m);
    h->holding = true;
    pthread_cond_signal(&h->cv);
    pthread_mutex_unlock(&h->m);
    struct timespec t = {0, h->hold_ms * 1000000L};
    nanosleep(&t, NULL);
    ht_unlock(0);
    return NULL;
}

/* Every page holds items of every stripe, so a stripe held elsewhere for
 * a few ms makes each page busy for that long: the move waits it out
 * (sleeping, so the holder runs) instead of answering out of memory. It
 * gave up after about 1 ms, and a set right after a fill failed now and
 * then on a busy machine. */
Test(rebalance, stripe_held_for_ms_delays_the_move, .fini = fini)
{
    start(true);
    int n = 0;
    struct store_info si;
    do {
        cr_assert_eq(put("s", n++, 40, 's'), STORE_OK);
        store_info(&si);
    } while (si.total_malloced < (2u << 20) || n < 30000);
    struct stripe_holder h = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 8};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, hold_stripe, &h), 0);
    pthread_mutex_lock(&h.m);
    while (!h.holding)
        pthread_cond_wait(&h.cv, &h.m);
    pthread_mutex_unlock(&h.m);
    cr_expect_eq(put("big", 0, 5000, 'b'), STORE_OK, "a stripe held for 8 ms costs the set a wait, not its memory");
    pthread_join(t, NULL);
}

/* Busy loops, as the other builds and tests of a loaded CI machine. */
static _Atomic bool spin_stop;

static void *spin(void *arg)
{
    (void)arg;
    volatile unsigned long n = 0;
    while (!atomic_load_explicit(&spin_stop, memory_order_relaxed))
        n++;
    return NULL;
}

/* An append builds its new item under its key's stripe lock, so a page
 * the move needs may hold items of that very stripe: it can never take
 * them, and every page of small items has some. The move used to try
 * each such item's stripe 1000 times, giving up the CPU every 64, with
 * the victim's class lock held, on each of 16 pages, 9 rounds: under
 * load (here 6 busy threads on a 2-core machine) that was seconds (3.3 s
 * and 4.4 s measured with 10 busy loops) during which every thread that
 * needed the class waited too. One trylock per item: the move gives up
 * after its retry pauses (64 ms in all). */
Test(rebalance, move_under_own_stripe_gives_up_without_spinning, .fini = fini, .timeout = 60)
{
    start(true);
    int n = 0;
    struct store_info si;
    do {
        cr_assert_eq(put("s", n++, 40, 's'), STORE_OK);
        store_info(&si);
    } while (si.total_malloced < (2u << 20) || n < 30000);
    pthread_t th[6];
    atomic_store(&spin_stop, false);
    for (int i = 0; i < 6; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, spin, NULL), 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ht_lock(0);
    enum store_status st;
    struct item *it = store_alloc("big0", 4, 0, 0, 5000, &ts, &st);
    ht_unlock(0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    atomic_store(&spin_stop, true);
    for (int i = 0; i < 6; i++)
        pthread_join(th[i], NULL);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000L + (t1.tv_nsec - t0.tv_nsec) / 1000000L;
    fprintf(stderr, "move with the caller's stripe held: %s after %ld ms\n", it != NULL ? "moved" : "gave up", ms);
    if (it != NULL)
        item_release(it);
    cr_expect_lt(ms, 1000, "the move held the set (and the victim class) for %ld ms", ms);
    /* the stripe given back, the same set moves a page */
    cr_expect_eq(put("big", 1, 5000, 'b'), STORE_OK);
}

Test(rebalance, referenced_page_is_not_moved, .fini = fini)
{
    start(true);
    /* one page of small items, every one held by a reference */
    enum store_status st;
    struct item *held[64];
    for (int i = 0; i < 64; i++) {
        char key[16];
        int kl = snprintf(key, sizeof(key), "h%d", i);
        held[i] = store_alloc(key, (size_t)kl, 0, 0, 40, &ts, &st);
        cr_assert_not_null(held[i]);
        cr_assert_eq(store_link(held[i], NULL, NULL, &ts), STORE_OK);
    }
    /* the other page goes to a big class and fills */
    cr_assert_eq(put("big", 0, 600000, 'b'), STORE_OK);
    /* a third class: the only victims are the held page and the big page;
     * the big one is free to move */
    cr_assert_eq(put("mid", 0, 5000, 'm'), STORE_OK);
    for (int i = 0; i < 64; i++) {
        char key[16];
        int kl = snprintf(key, sizeof(key), "h%d", i);
        struct item *it = store_get(key, (size_t)kl, &store_test_peek, NULL, &ts);
        cr_assert_not_null(it, "held items are never evicted by a move");
        item_release(it);
        item_release(held[i]);
    }
}

/* Chunks this thread caches (tcache.h) would pin their page: the mover
 * gives its own cached chunks of the victim class back first. */
Test(rebalance, own_cached_chunks_do_not_pin_the_page, .fini = fini)
{
    start(true);
    /* one page: a big item, held, so that page cannot move */
    enum store_status st;
    struct item *big = store_alloc("big0", 4, 0, 0, 600000, &ts, &st);
    cr_assert_not_null(big);
    cr_assert_eq(store_link(big, NULL, NULL, &ts), STORE_OK);
    /* the other page: small items, until a set evicts a batch, of which
     * this thread now caches all but one */
    int n = 0;
    while (ts.evictions == 0)
        cr_assert_eq(put("s", n++, 40, 's'), STORE_OK);
    /* a third class: the small page is the only one that can move */
    cr_assert_eq(put("mid", 0, 5000, 'm'), STORE_OK);
    struct item *it = store_get("mid0", 4, &store_test_peek, NULL, &ts);
    cr_assert_not_null(it);
    cr_assert_eq(item_data(it)[4999], 'm');
    item_release(it);
    item_release(big);
}

/* Another thread's cached chunks would pin the page just as well: the
 * mover takes every thread's cached chunks of its victim class back
 * (tcache_steal), the thread being alive and idle meanwhile. */
struct filler {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stage; /* 1: filled, 2: may exit */
    int n;
};

static void *fill_and_wait(void *arg)
{
    struct filler *f = arg;
    struct store_tstats mine;
    memset(&mine, 0, sizeof(mine));
    /* small items until a set evicts a batch: this thread caches it */
    for (f->n = 0; mine.evictions == 0; f->n++) {
        char key[32];
        int kl = snprintf(key, sizeof(key), "s%d", f->n);
        enum store_status st;
        struct item *it = store_alloc(key, (size_t)kl, 0, 0, 40, &mine, &st);
        cr_assert_not_null(it);
        memset(item_data(it), 's', 40);
        cr_assert_eq(store_link(it, NULL, NULL, &mine), STORE_OK);
        item_release(it);
    }
    pthread_mutex_lock(&f->lock);
    f->stage = 1;
    pthread_cond_broadcast(&f->cond);
    while (f->stage != 2)
        pthread_cond_wait(&f->cond, &f->lock);
    pthread_mutex_unlock(&f->lock);
    return NULL;
}

Test(rebalance, other_threads_cached_chunks_do_not_pin_the_page, .fini = fini)
{
    start(true);
    enum store_status st;
    struct item *big = store_alloc("big0", 4, 0, 0, 600000, &ts, &st);
    cr_assert_not_null(big);
    cr_assert_eq(store_link(big, NULL, NULL, &ts), STORE_OK);
    struct filler f = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, fill_and_wait, &f), 0);
    pthread_mutex_lock(&f.lock);
    while (f.stage != 1)
        pthread_cond_wait(&f.cond, &f.lock);
    pthread_mutex_unlock(&f.lock);
    /* a third class, set by this thread while the filler is alive */
    enum store_status got = put("mid", 0, 5000, 'm');
    pthread_mutex_lock(&f.lock);
    f.stage = 2;
    pthread_cond_broadcast(&f.cond);
    pthread_mutex_unlock(&f.lock);
    pthread_join(th, NULL);
    cr_assert_eq(got, STORE_OK);
    struct item *it = store_get("mid0", 4, &store_test_peek, NULL, &ts);
    cr_assert_not_null(it);
    cr_assert_eq(item_data(it)[4999], 'm');
    item_release(it);
    item_release(big);
}

Test(rebalance, no_move_without_eviction, .fini = fini)
{
    start(false);
    int n = 0;
    while (put("s", n, 40, 's') == STORE_OK)
        n++;
    cr_assert_gt(n, 15000, "both pages filled with small items");
    cr_assert_eq(put("big", 0, 5000, 'b'), STORE_NO_MEMORY, "-M: out of memory, nothing evicted");
    cr_assert_eq(count_small(n), n);
}

/* Many threads storing values of every size into 2 MB: pages keep moving
 * between classes while other threads allocate, read and free in them.
 * Every value read back must be the one written for its key. */
#define RB_THREADS 4
#define RB_OPS 60000
#define RB_KEYS 2000

static void fill(char *p, uint32_t n, unsigned key)
{
    for (uint32_t i = 0; i < n; i++)
        p[i] = (char)('a' + (key * 7 + i) % 26);
}

static void *mover_worker(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    struct store_tstats *t = calloc(1, sizeof(*t));
    long bad = 0;
    for (int op = 0; op < RB_OPS; op++) {
        unsigned k = (unsigned)rand_r(&seed) % RB_KEYS;
        char key[16];
        int kl = snprintf(key, sizeof(key), "m%u", k);
        if (rand_r(&seed) % 2) {
            uint32_t n = 10 + (uint32_t)rand_r(&seed) % 5000;
            enum store_status st;
            struct item *it = store_alloc(key, (size_t)kl, k, 0, n, t, &st);
            if (it == NULL)
                continue;
            fill(item_data(it), n, k);
            store_link(it, NULL, NULL, t);
            item_release(it);
        } else {
            struct item *it = store_get(key, (size_t)kl, NULL, NULL, t);
            if (it == NULL)
                continue;
            char *want = malloc(item_nbytes(it));
            fill(want, item_nbytes(it), k);
            if (item_flags(it) != k || memcmp(want, item_data(it), item_nbytes(it)) != 0)
                bad++;
            free(want);
            item_release(it);
        }
    }
    free(t);
    return (void *)(intptr_t)bad;
}

Test(rebalance, concurrent_moves_keep_values_intact, .fini = fini)
{
    start(true);
    pthread_t th[RB_THREADS];
    for (uintptr_t i = 0; i < RB_THREADS; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, mover_worker, (void *)(i + 1)), 0);
    for (int i = 0; i < RB_THREADS; i++) {
        void *bad;
        pthread_join(th[i], &bad);
        cr_expect_eq((intptr_t)bad, 0, "thread %d read %ld corrupted values", i, (long)(intptr_t)bad);
    }
    struct store_info si;
    store_info(&si);
    cr_assert_leq(si.total_malloced, 2u << 20);
}

/* ---- the background mover's drain (store_slabs_reassign, cache_memlimit):
 * with no background thread the caller carries the move out at once ---- */

static unsigned class_pages(unsigned id)
{
    struct store_class_info ci;
    cr_assert(store_class_info(id, &ci));
    return (unsigned)ci.total_pages;
}

/* A reassign rescues the page's live items into free chunks of their class
 * (here: left by deletes), so every item stays readable, with its value. */
Test(rebalance, reassign_rescues_live_items, .fini = fini)
{
    struct store_options o = store_test_opts(8u << 20, 12);
    store_test_start(o, &ts, 100);
    int n = 30000;
    for (int i = 0; i < n; i++)
        cr_assert_eq(put("s", i, 40, 's'), STORE_OK);
    for (int i = 0; i < n; i += 2) {
        char key[32];
        int kl = snprintf(key, sizeof(key), "s%d", i);
        cr_assert_eq(store_delete(key, (size_t)kl, NULL, &ts), STORE_OK);
    }
    unsigned cls = 1, pages = class_pages(cls);
    cr_assert_geq(pages, 3);
    cr_assert_eq(store_slabs_reassign(cls, 5), STORE_REASSIGN_OK);
    cr_assert_eq(class_pages(cls), pages - 1);
    cr_assert_eq(class_pages(5), 1);
    struct store_info si;
    store_info(&si);
    cr_assert_eq(si.slabs_moved, 1);
    cr_assert_gt(si.slab_reassign_rescues, 0);
    cr_assert_eq(si.slab_reassign_evictions, 0);
    cr_assert_eq(si.curr_items, (uint64_t)n / 2);
    int found = 0;
    for (int i = 1; i < n; i += 2) {
        char key[32];
        int kl = snprintf(key, sizeof(key), "s%d", i);
        struct item *it = store_get(key, (size_t)kl, &store_test_peek, NULL, &ts);
        cr_assert_not_null(it, "%s lost", key);
        cr_assert_eq(item_nbytes(it), 40);
        for (int b = 0; b < 40; b++)
            cr_assert_eq(item_data(it)[b], 's');
        item_release(it);
        found++;
    }
    cr_assert_eq(found, n / 2);
    /* the destination class stores into its new page */
    cr_assert_eq(put("m", 0, 300, 'm'), STORE_OK);
    store_info(&si);
    cr_assert_leq(si.total_malloced, 8u << 20);
}

/* The replies' rules: SAME first, then ids, then pages to spare; the pool
 * needs two pages too. */
Test(rebalance, reassign_outcomes, .fini = fini)
{
    struct store_options o = store_test_opts(8u << 20, 12);
    store_test_start(o, &ts, 100);
    cr_assert_eq(store_slabs_reassign(99, 99), STORE_REASSIGN_SAME);
    cr_assert_eq(store_slabs_reassign(-1, 3), STORE_REASSIGN_BADCLASS);
    cr_assert_eq(store_slabs_reassign(1, 99), STORE_REASSIGN_BADCLASS);
    cr_assert_eq(store_slabs_reassign(-2, 3), STORE_REASSIGN_BADCLASS);
    cr_assert_eq(store_slabs_reassign(1, 3), STORE_REASSIGN_NOSPARE);
    cr_assert_eq(store_slabs_reassign(0, 3), STORE_REASSIGN_NOSPARE);
    for (int i = 0; i < 30000; i++)
        cr_assert_eq(put("s", i, 40, 's'), STORE_OK);
    cr_assert_eq(class_pages(1), 3);
    cr_assert_eq(store_slabs_reassign(-1, 0), STORE_REASSIGN_OK); /* -1: class 1, the only one */
    cr_assert_eq(store_slabs_reassign(1, 0), STORE_REASSIGN_OK);
    struct store_info si;
    store_info(&si);
    cr_assert_eq(si.slab_global_page_pool, 2);
    cr_assert_eq(class_pages(1), 1);
    cr_assert_eq(store_slabs_reassign(1, 0), STORE_REASSIGN_NOSPARE);
    cr_assert_eq(store_slabs_reassign(0, 7), STORE_REASSIGN_OK);
    cr_assert_eq(class_pages(7), 1);
    cr_assert_eq(store_slabs_reassign(0, 7), STORE_REASSIGN_NOSPARE);
    /* a class that needs a page takes the pool's before a new one */
    cr_assert_eq(put("m", 0, 5000, 'm'), STORE_OK);
    store_info(&si);
    cr_assert_eq(si.slab_global_page_pool, 0);
    cr_assert_eq(si.total_malloced, 3u << 20);
}

/* A lower limit gives pages back at once (no thread: the caller does it),
 * evicting what cannot be rescued; a higher one lets classes grow past the
 * start-up limit; beyond the reserved arena it is refused. */
Test(rebalance, mem_limit_shrinks_and_grows, .fini = fini)
{
    struct store_options o = store_test_opts(8u << 20, 12);
    store_test_start(o, &ts, 100);
    int n = 0;
    struct store_info si;
    do {
        cr_assert_eq(put("s", n++, 40, 's'), STORE_OK);
        store_info(&si);
    } while (si.total_malloced < (8u << 20));
    cr_assert(store_mem_limit_set(2u << 20));
    store_info(&si);
    cr_assert_eq(si.limit_maxbytes, 2u << 20);
    cr_assert_leq(si.total_malloced, 2u << 20);
    cr_assert_lt(si.curr_items, (uint64_t)n / 3);
    cr_assert_gt(count_small(n), 0);
    cr_assert(store_mem_limit_set(16u << 20));
    for (int i = 0; i < 150000; i++)
        cr_assert_eq(put("t", i, 40, 't'), STORE_OK);
    store_info(&si);
    cr_assert_gt(si.total_malloced, 8u << 20);
    cr_assert_leq(si.total_malloced, 16u << 20);
    cr_assert_not(store_mem_limit_set(store_mem_limit_max() + (1u << 20)));
}

/* A drain deals with a page of small items (10,922 chunks) a slice at a
 * time, giving the class lock up in between: a worker refilling its chunk
 * cache of the class waits a slice, not the page (3 ms of rescues, and up
 * to 25 ms with the walk of a long free list, measured in one hold). The
 * class lock's count of takings shows the slices. */
/* How many of the keys s1, s3, ... below n are present; each must read
 * back as written. */
static int count_odd(int n)
{
    int found = 0;
    for (int i = 1; i < n; i += 2) {
        char key[32];
        int kl = snprintf(key, sizeof(key), "s%d", i);
        struct item *it = store_get(key, (size_t)kl, &store_test_peek, NULL, &ts);
        if (it == NULL)
            continue;
        found++;
        cr_assert_eq(item_nbytes(it), 40);
        for (int b = 0; b < 40; b++)
            cr_assert_eq(item_data(it)[b], 's');
        item_release(it);
    }
    return found;
}

Test(rebalance, drain_gives_the_class_lock_up_between_slices, .fini = fini)
{
    struct store_options o = store_test_opts(16u << 20, 12);
    store_test_start(o, &ts, 100);
    int n = 50000;
    for (int i = 0; i < n; i++)
        cr_assert_eq(put("s", i, 40, 's'), STORE_OK);
    /* a page to the pool and back: its chunks go on the free list, under
     * the frees of the deletes below */
    cr_assert_eq(store_slabs_reassign(1, 0), STORE_REASSIGN_OK);
    cr_assert_eq(store_slabs_reassign(1, 0), STORE_REASSIGN_OK);
    cr_assert_eq(store_slabs_reassign(0, 1), STORE_REASSIGN_OK);
    for (int i = 0; i < n; i += 2) {
        char key[32];
        int kl = snprintf(key, sizeof(key), "s%d", i);
        store_delete(key, (size_t)kl, NULL, &ts);
    }
    int present = count_odd(n);
    struct store_class_info ci;
    cr_assert(store_class_info(1, &ci));
    unsigned pages = (unsigned)ci.total_pages;
    uint64_t taken = ci.lock_taken;
    struct store_info si;
    store_info(&si);
    uint64_t rescues = si.slab_reassign_rescues, evictions = si.slab_reassign_evictions;
    cr_assert_eq(store_slabs_reassign(1, 5), STORE_REASSIGN_OK);
    cr_assert(store_class_info(1, &ci));
    cr_assert_eq(ci.total_pages, pages - 1);
    store_info(&si);
    cr_assert_gt(si.slab_reassign_rescues, rescues);
    cr_expect_geq(ci.lock_taken - taken, ci.chunks_per_page / 256,
                  "the class lock taken %llu times for a page of %u chunks",
                  (unsigned long long)(ci.lock_taken - taken), ci.chunks_per_page);
    /* every item left reads back as written; only those evicted are gone */
    cr_expect_eq(count_odd(n), present - (int)(si.slab_reassign_evictions - evictions));
}

/* Threads store and read checked values of small sizes while this one
 * drains pages of their class in slices, away and back: every value read
 * is its key's. */
static _Atomic bool drain_stop;

static void *drain_worker(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    struct store_tstats *t = calloc(1, sizeof(*t));
    long bad = 0;
    while (!atomic_load_explicit(&drain_stop, memory_order_relaxed)) {
        unsigned k = (unsigned)rand_r(&seed) % 40000;
        char key[16];
        int kl = snprintf(key, sizeof(key), "d%u", k);
        if (rand_r(&seed) % 2) {
            uint32_t len = 8 + k % 30;
            enum store_status st;
            struct item *it = store_alloc(key, (size_t)kl, k, 0, len, t, &st);
            if (it == NULL)
                continue;
            fill(item_data(it), len, k);
            store_link(it, NULL, NULL, t);
            item_release(it);
        } else {
            struct item *it = store_get(key, (size_t)kl, NULL, NULL, t);
            if (it == NULL)
                continue;
            char want[64];
            fill(want, item_nbytes(it), k);
            if (item_flags(it) != k || item_nbytes(it) != 8 + k % 30 || memcmp(want, item_data(it), item_nbytes(it)) != 0)
                bad++;
            item_release(it);
        }
    }
    free(t);
    return (void *)(intptr_t)bad;
}

Test(rebalance, sliced_drains_keep_values_intact, .fini = fini, .timeout = 60)
{
    struct store_options o = store_test_opts(8u << 20, 12);
    store_test_start(o, &ts, 100);
    for (int i = 0; i < 40000; i++) {
        char key[16];
        int kl = snprintf(key, sizeof(key), "d%d", i);
        uint32_t len = 8 + (uint32_t)i % 30;
        enum store_status st;
        struct item *it = store_alloc(key, (size_t)kl, (uint32_t)i, 0, len, &ts, &st);
        cr_assert_not_null(it);
        fill(item_data(it), len, (unsigned)i);
        cr_assert_eq(store_link(it, NULL, NULL, &ts), STORE_OK);
        item_release(it);
    }
    atomic_store(&drain_stop, false);
    pthread_t th[3];
    for (uintptr_t i = 0; i < 3; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, drain_worker, (void *)(i + 1)), 0);
    unsigned ok = 0;
    for (int round = 0; round < 200; round++)
        ok += store_slabs_reassign(round % 2 ? 7 : 1, round % 2 ? 1 : 7) == STORE_REASSIGN_OK;
    atomic_store(&drain_stop, true);
    for (int i = 0; i < 3; i++) {
        void *bad;
        pthread_join(th[i], &bad);
        cr_expect_eq((intptr_t)bad, 0, "thread %d read %ld wrong values", i, (long)(intptr_t)bad);
    }
    struct store_info si;
    store_info(&si);
    fprintf(stderr, "sliced drains: %u reassigns accepted, %llu pages moved, %llu rescued\n", ok,
            (unsigned long long)si.slabs_moved, (unsigned long long)si.slab_reassign_rescues);
    cr_expect_gt(si.slabs_moved, 10);
    cr_assert_leq(si.total_malloced, 8u << 20);
}
