/*
 * expire.c - TTL conversion, flush_all, the background sweep and the
 * maintainer thread.
 *
 * Owns the flush state and the maintainer thread:
 *   flush_cas         items whose cas field is non-zero and below it are
 *                     flushed: an immediate flush_all drops every item linked
 *                     before it, so a set in the same second survives. Under
 *                     -C the field holds a link sequence from the same
 *                     counter, which clients never see (item.h), so -C
 *                     behaves the same. It is never undone by a later flush.
 *   flush_gen         the number of such immediate flushes and of
 *                     flush_prefix calls so far. An item whose CAS a client
 *                     chose (meta E, ITEM_CAS_OWN) says nothing about when
 *                     it was linked, so it records the generation it was
 *                     linked in (item.h) and is flushed when that is below
 *                     flush_all_gen (flush_gen after the last immediate
 *                     flush_all), whatever its CAS; prefix.c compares it
 *                     with a prefix's own generation.
 *   flush_time        0, or when << 32 | atime_max: from rel time `when` on,
 *                     items whose atime is <= atime_max are flushed (a
 *                     flush_all with a delay). One word, so a reader never
 *                     pairs one flush's time with another's atime bound.
 *                     Each flush_all replaces it, as memcached's
 *                     oldest_live: a later flush with no delay, or with an
 *                     absolute time in the past, cancels a pending one.
 * Both are atomics, written under flush_lock (store with release) and read
 * lock-free (load with acquire); a reader racing a flush may see the old or
 * the new state, as with memcached's settings.oldest_live.
 *
 * The sweep moves a cursor (sweep_page, sweep_idx) over the carved chunks
 * of each class's pages, in page order, under the class lock, examining
 * the linked item in each chunk (found, as the CLOCK hand does, through
 * the stripe recorded in its state: lru.c). A round starts at the first page and
 * ends after the last; a pass that spends its budget resumes from the
 * cursor on the next one. The stripe lock of an item is only trylocked
 * (class -> stripe is the reverse of the lock order); busy items are
 * skipped until the next round. The class lock is dropped every
 * SWEEP_BATCH chunks so that set/get of the class never wait long behind
 * the sweep.
 */
#include "config.h"

#include "store/engine.h"

#include "store/expire.h"
#include "store/clock.h"
#include "store/hashtable.h"
#include "store/item.h"
#include "store/lru.h"
#include "store/prefix.h"
#include "store/slab.h"
#include "store/tcache.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>

#define SWEEP_BATCH 64
/* Chunks of each class the thread looks at per pass (once a second): a
 * class of a million items is swept every ~100 s, without touching all of
 * its memory every second. */
#define SWEEP_PER_PASS 10000
#define MAINTAIN_PERIOD_S 1
#define EXPAND_BUCKETS_PER_STEP 1024

static pthread_mutex_t flush_lock = PTHREAD_MUTEX_INITIALIZER;
_Atomic uint64_t expire_flush_cas_v;  /* flush_cas (expire.h reads it inline) */
static _Atomic uint64_t flush_gen;
static _Atomic uint64_t flush_all_gen;
_Atomic uint64_t expire_flush_time_v; /* flush_time (the same) */

static uint64_t
flush_time_pack(rel_time_t when, rel_time_t atime_max)
{
    return (uint64_t)when << 32 | atime_max;
}
void
expire_setup(bool use_cas)
{
    (void)use_cas; /* flushes work alike without CAS: item.h */
    atomic_store(&expire_flush_cas_v, 0);
    atomic_store(&flush_gen, 0);
    atomic_store(&flush_all_gen, 0);
    atomic_store(&expire_flush_time_v, 0);
    prefix_reset();
}

uint64_t
expire_flush_gen(void)
{
    return atomic_load_explicit(&flush_gen, memory_order_acquire);
}

rel_time_t
store_exptime_convert(int64_t exptime)
{
    rel_time_t now = store_clock_now();
    if (exptime == 0)
        return 0;
    if (exptime < 0)
        return 1; /* in the past: the clock starts at CLOCK_START > 1 */
    if (exptime > STORE_REALTIME_MAXDELTA) {
        int64_t epoch = store_clock_epoch();
        if (exptime <= epoch)
            return 1;
        int64_t rel = exptime - epoch;
        return rel > (int64_t)UINT32_MAX ? UINT32_MAX : (rel_time_t)rel;
    }
    uint64_t rel = (uint64_t)now + (uint64_t)exptime;
    return rel > UINT32_MAX ? UINT32_MAX : (rel_time_t)rel;
}

enum expire_state
expire_state(const struct item *it, rel_time_t now)
{
    rel_time_t exp = slab_item_exptime(it);
    if (exp != 0 && exp <= now)
        return EXPIRE_EXPIRED;
    uint64_t fc = atomic_load_explicit(&expire_flush_cas_v, memory_order_acquire);
    if (fc != 0) {
        if (item_own_cas(it)) {
            if (item_flush_gen(it) < atomic_load_explicit(&flush_all_gen, memory_order_acquire))
                return EXPIRE_FLUSHED;
        } else {
            uint64_t cas = item_seq(it);
            if (cas != 0 && cas < fc)
                return EXPIRE_FLUSHED;
        }
    }
    uint64_t ft = atomic_load_explicit(&expire_flush_time_v, memory_order_acquire);
    if (ft != 0 && (rel_time_t)(ft >> 32) <= now && slab_item_atime(it) <= (rel_time_t)ft)
        return EXPIRE_FLUSHED;
    if (prefix_flushed(it))
        return EXPIRE_FLUSHED;
    return EXPIRE_LIVE;
}

enum expire_state
expire_state_fields(rel_time_t exp, rel_time_t atime, bool own, uint64_t seq, uint64_t gen, const char *key,
                    size_t nkey, rel_time_t now)
{
    if (exp != 0 && exp <= now)
        return EXPIRE_EXPIRED;
    uint64_t fc = atomic_load_explicit(&expire_flush_cas_v, memory_order_acquire);
    if (fc != 0) {
        if (own ? gen < atomic_load_explicit(&flush_all_gen, memory_order_acquire) : (seq != 0 && seq < fc))
            return EXPIRE_FLUSHED;
    }
    uint64_t ft = atomic_load_explicit(&expire_flush_time_v, memory_order_acquire);
    if (ft != 0 && (rel_time_t)(ft >> 32) <= now && atime <= (rel_time_t)ft)
        return EXPIRE_FLUSHED;
    if (atomic_load_explicit(&prefix_nlive, memory_order_acquire) != 0 &&
        prefix_key_flushed((const unsigned char *)key, nkey, own, seq, gen))
        return EXPIRE_FLUSHED;
    return EXPIRE_LIVE;
}

/* Everything linked so far has a cas field below the CAS fence, or
 * (a client's CAS) a flush generation <= the current one. The generation
 * goes first: a reader that sees the new flush_cas sees it too. */
static void
flush_linked_locked(void)
{
    uint64_t gen = atomic_load_explicit(&flush_gen, memory_order_relaxed) + 1;
    atomic_store_explicit(&flush_gen, gen, memory_order_release);
    atomic_store_explicit(&flush_all_gen, gen, memory_order_release);
    atomic_store_explicit(&expire_flush_cas_v, item_cas_fence(), memory_order_release);
}

uint64_t
expire_gen_bump(void)
{
    pthread_mutex_lock(&flush_lock);
    uint64_t gen = atomic_load_explicit(&flush_gen, memory_order_relaxed) + 1;
    atomic_store_explicit(&flush_gen, gen, memory_order_release);
    pthread_mutex_unlock(&flush_lock);
    return gen;
}

void
store_flush(rel_time_t when)
{
    rel_time_t now = store_clock_now();
    pthread_mutex_lock(&flush_lock);
    if (when <= now) {
        atomic_store_explicit(&expire_flush_time_v, 0, memory_order_release);
        flush_linked_locked();
    } else {
        /* when > now >= CLOCK_START, so the word is never 0 */
        atomic_store_explicit(&expire_flush_time_v, flush_time_pack(when, when - 1), memory_order_release);
    }
    pthread_mutex_unlock(&flush_lock);
}

/* memcached's relative clock starts 62 s before the server does, so a
 * unix time up to 61 s before the start is still "after the start" to
 * its flush_all (checked against 1.6.45 on a fresh server: now - 59
 * flushes, now - 61 does not). */
#define FLUSH_CLOCK_LEAD 62

/* The flush bound for a delay > 0, in rel time: memcached's
 * realtime(delay) - 1, with 0 meaning nothing to flush. */
static rel_time_t
flush_oldest(int64_t delay)
{
    if (delay <= STORE_REALTIME_MAXDELTA)
        return store_exptime_convert(delay) - 1;
    int64_t epoch = store_clock_epoch();
    if (delay <= epoch + CLOCK_START - FLUSH_CLOCK_LEAD + 1)
        return 0;
    int64_t rel = delay - epoch - 1;
    if (rel < 1)
        return 1; /* before mcd's rel 0 but not memcached's: already reached */
    return rel > (int64_t)UINT32_MAX ? UINT32_MAX : (rel_time_t)rel;
}

/*
 * flush_all <delay>, as memcached 1.6.45 answers it (checked against it):
 *   delay <= 0    every item linked before, and nothing linked after, even
 *                 in the same second (with or without -C); a pending
 *                 delayed flush is cancelled.
 *   delay > 0     the bound is oldest = realtime(delay) - 1, a delay over
 *                 30 days being a unix time. From `oldest` on, items whose
 *                 atime is <= oldest are flushed: `flush_all 1` flushes
 *                 the rest of this second too, `flush_all 3` also what is
 *                 set in the next two seconds. A unix time at or before the
 *                 start (more exactly, 61 s before it: FLUSH_CLOCK_LEAD)
 *                 flushes nothing and cancels a pending flush. A bound
 *                 already reached also flushes every item linked before
 *                 (memcached's oldest_cas), with or without -C.
 */
void
store_flush_delay(int64_t delay)
{
    rel_time_t now = store_clock_now();
    pthread_mutex_lock(&flush_lock);
    if (delay <= 0) {
        atomic_store_explicit(&expire_flush_time_v, 0, memory_order_release);
        flush_linked_locked();
    } else {
        rel_time_t oldest = flush_oldest(delay);
        atomic_store_explicit(&expire_flush_time_v, oldest == 0 ? 0 : flush_time_pack(oldest, oldest),
                              memory_order_release);
        if (oldest != 0 && oldest <= now)
            flush_linked_locked();
    }
    pthread_mutex_unlock(&flush_lock);
}

uint64_t
expire_sweep_class(struct slab_class *c, rel_time_t now, uint64_t budget)
{
    uint64_t reclaimed = 0, seen = 0;
    tcache_enrol(); /* it counts with the class lock held: tcache.h */
    slab_lock(c);
    if (!c->sweeping) {
        if (c->npages == 0) {
            slab_unlock(c);
            return 0;
        }
        /* a new round starts at the first chunk of the first page */
        c->sweep_page = 0;
        c->sweep_idx = 0;
        c->sweeping = true;
    }
    for (;;) {
        for (int n = 0; n < SWEEP_BATCH; n++) {
            if (c->sweep_page >= c->npages)
                goto round_done;
            if (c->sweep_idx >= slab_carved_locked(c, c->sweep_page)) {
                c->sweep_page++;
                c->sweep_idx = 0;
                continue;
            }
            if (seen++ == budget)
                goto out;
            struct item *it = slab_chunk_locked(c, c->sweep_page, c->sweep_idx++);
            uint16_t st = item_state(it);
            uint32_t hv;
            if (!(st & ITEM_LINKED) || !lru_trylock_linked(it, st, false, &hv))
                continue;
            if (expire_state(it, now) != EXPIRE_LIVE) {
                if (!(item_iflags(it) & ITEM_FETCHED))
                    STAT_INC(c->expired_unfetched);
                STAT_INC(c->crawler_reclaimed);
                lru_unlink_item_locked(it, hv);
                item_release_locked(it);
                reclaimed++;
            }
            ht_unlock(hv);
        }
        slab_unlock(c);
        slab_lock(c);
    }
round_done:
    c->sweeping = false;
out:
    slab_unlock(c);
    return reclaimed;
}

/* Serialises whole maintenance passes (the thread and store_maintain()
 * callers): the sweep cursors and the expansion have one driver at a time.
 * Taken before any class or stripe lock. */
static pthread_mutex_t maintain_lock = PTHREAD_MUTEX_INITIALIZER;

/* One pass: sweep each class (at most `budget` items of each; UINT64_MAX
 * finishes every round; 0 sweeps nothing), then drive the hash table's
 * growth. */
static uint64_t
maintain_pass(uint64_t budget)
{
    pthread_mutex_lock(&maintain_lock);
    prefix_maintain();
    rel_time_t now = store_clock_now();
    uint64_t reclaimed = 0, items = 0;
    unsigned n = slab_nclasses();
    for (unsigned id = 1; id <= n; id++) {
        struct slab_class *c = slab_class_get(id);
        if (c == NULL)
            continue;
        if (budget == UINT64_MAX)
            while (c->sweeping) /* finish a round the thread left half done */
                reclaimed += expire_sweep_class(c, now, UINT64_MAX);
        if (budget > 0)
            reclaimed += expire_sweep_class(c, now, budget);
        struct tcache_totals t;
        tcache_totals(id, &t);
        items += t.items > 0 ? (uint64_t)t.items : 0;
    }
    /* Finish any expansion, then double again while still due (a table
     * far too small after a burst of sets catches up in one pass). */
    do {
        while (ht_expand_step(EXPAND_BUCKETS_PER_STEP))
            ;
    } while (ht_expand_due(items) && ht_expand_start());
    pthread_mutex_unlock(&maintain_lock);
    return reclaimed;
}

uint64_t
store_maintain(void)
{
    STORE_SEG_ROUTE(seg_engine_maintain());
    return maintain_pass(UINT64_MAX);
}

/* ---- the maintainer thread ---- */

static pthread_t maint_thread;
static bool maint_running;
static bool maint_stop;
static bool maint_sweep;             /* written before the thread starts */
static pthread_mutex_t maint_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t maint_cond = PTHREAD_COND_INITIALIZER;

static void *
maint_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&maint_lock);
    while (!maint_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += MAINTAIN_PERIOD_S;
        pthread_cond_timedwait(&maint_cond, &maint_lock, &ts);
        if (maint_stop)
            break;
        pthread_mutex_unlock(&maint_lock);
        maintain_pass(maint_sweep ? SWEEP_PER_PASS : 0);
        pthread_mutex_lock(&maint_lock);
    }
    pthread_mutex_unlock(&maint_lock);
    return NULL;
}

int
expire_thread_start(bool sweep)
{
    maint_stop = false;
    maint_sweep = sweep;
    int rc = pthread_create(&maint_thread, NULL, maint_main, NULL);
    if (rc != 0) {
        errno = rc;
        return -1;
    }
    maint_running = true;
    return 0;
}

void
expire_thread_stop(void)
{
    if (!maint_running)
        return;
    pthread_mutex_lock(&maint_lock);
    maint_stop = true;
    pthread_cond_signal(&maint_cond);
    pthread_mutex_unlock(&maint_lock);
    pthread_join(maint_thread, NULL);
    maint_running = false;
}
