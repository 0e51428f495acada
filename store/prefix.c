/*
 * prefix.c - the table of flushed prefixes (prefix.h): registration, the
 * look-up every live check makes, and retirement by a hash table walk.
 *
 * The table: PREFIX_MAX slots (bytes, length, hash, the two bounds), an
 * open-addressed index of slot numbers by hash, the distinct lengths
 * registered (sorted) and a bitmap of the first bytes registered. A
 * look-up whose key's first byte starts no prefix stops there; otherwise it
 * hashes the key's first n bytes for each registered length n in turn and
 * probes the index there. The hash takes the bytes 8 at a time and carries
 * the whole words from one length to the next, so a look-up reads the key
 * once and costs a probe per distinct registered length, never a scan of
 * the prefixes.
 *
 * Readers take no lock: every field is an atomic, and the table is guarded
 * by a sequence counter (`version`, odd while a writer changes which
 * prefixes are registered); a reader that saw it move retries. Writers
 * (flush_prefix, retirement) hold `write_lock`, and only for the short
 * change itself. Raising the bounds of a registered prefix is one atomic
 * store each and needs no new version. `retire_lock` serialises the
 * retirement walks. Lock order: retire_lock, then the stripe locks one at
 * a time (the walk), and write_lock alone (never with a stripe lock).
 */
#include "config.h"

#include "store/prefix.h"
#include "store/expire.h"
#include "store/hashtable.h"
#include "store/item.h"
#include "store/store.h"
#include "store/store_internal.h"

#include <pthread.h>
#include <sched.h>
#include <string.h>

#define INDEX_SIZE (2 * PREFIX_MAX) /* a power of two: load factor <= 1/2 */
#define HASH_SEED UINT64_C(0xcbf29ce484222325)
#define HASH_MUL UINT64_C(0x9e3779b97f4a7c15)

struct prefix_slot {
    _Atomic uint64_t seq;        /* items linked with a lower sequence are dead */
    _Atomic uint64_t gen;        /* ITEM_CAS_OWN items: a lower flush generation */
    _Atomic uint64_t hash;       /* hash_of() the bytes */
    _Atomic uint8_t len;         /* 0: free */
    _Atomic unsigned char bytes[STORE_KEY_MAX];
    uint64_t order;              /* when last flushed (write_lock): the oldest retires first */
};

_Atomic unsigned prefix_nlive;

static struct prefix_slot slots[PREFIX_MAX];
static _Atomic uint16_t pindex[INDEX_SIZE];         /* slot number + 1; 0 empty */
static _Atomic uint8_t lens[STORE_KEY_MAX];        /* the distinct lengths, ascending */
static _Atomic unsigned nlens;
static _Atomic uint64_t firsts[4];                  /* bit c: a prefix starts with byte c */
static _Atomic uint64_t version;
static uint64_t order_next;                         /* write_lock */
static pthread_mutex_t write_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t retire_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t (*_Atomic walker)(void);            /* NULL: the hash table */

/* counters for `stats` */
static _Atomic uint64_t n_flushes, n_retired, n_walks, n_reclaimed;

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

/* The sequence counter's fences. ThreadSanitizer does not model fences (GCC
 * refuses them under -fsanitize=thread: -Wtsan), so its builds order the
 * same accesses with a read-modify-write of `version` that adds nothing: it
 * is both acquire and release. Every table word is atomic, so either way
 * the sanitizer sees no race. */
#if defined(__SANITIZE_THREAD__)
#define MCD_NO_FENCES 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MCD_NO_FENCES 1
#endif
#endif
#ifdef MCD_NO_FENCES
#define SEQ_FENCE_ACQUIRE() ((void)atomic_fetch_add_explicit(&version, 0, memory_order_acq_rel))
#define SEQ_FENCE_RELEASE() ((void)atomic_fetch_add_explicit(&version, 0, memory_order_acq_rel))
#else
#define SEQ_FENCE_ACQUIRE() atomic_thread_fence(memory_order_acquire)
#define SEQ_FENCE_RELEASE() atomic_thread_fence(memory_order_release)
#endif
#define STORE(x, v) atomic_store_explicit(&(x), (v), memory_order_relaxed)

/* The hash of a prefix: a state over its whole 8-byte words (word_step),
 * then its last 0..7 bytes and its length (hash_end). */
static inline uint64_t
word_at(const unsigned char *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    return w;
}

static inline uint64_t
word_step(uint64_t h, uint64_t w)
{
    h = (h ^ w) * HASH_MUL;
    return h ^ (h >> 32);
}

/* `p` holds n (0..7) bytes of the prefix, and `avail` bytes may be read. */
static inline uint64_t
hash_end(uint64_t h, const unsigned char *p, size_t n, size_t avail, size_t len)
{
    uint64_t t = 0;
    if (n > 0) {
        if (avail >= 8) {
            t = word_at(p) & (~UINT64_C(0) >> (64 - 8 * n));
        } else {
            for (size_t i = 0; i < n; i++)
                t |= (uint64_t)p[i] << (8 * i);
        }
    }
    h = (h ^ t ^ ((uint64_t)len << 56)) * HASH_MUL;
    return h ^ (h >> 29);
}

static uint64_t
hash_of(const unsigned char *p, size_t n)
{
    uint64_t h = HASH_SEED;
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        h = word_step(h, word_at(p + i));
    return hash_end(h, p + i, n - i, n - i, n);
}

static inline size_t
index_of(uint64_t h)
{
    return (size_t)(h ^ (h >> 29)) & (INDEX_SIZE - 1);
}

static bool
slot_is(const struct prefix_slot *s, uint64_t h, const unsigned char *p, size_t n)
{
    if (LOAD(s->hash) != h || LOAD(s->len) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (LOAD(s->bytes[i]) != p[i])
            return false;
    return true;
}

/* The slot of prefix p[0..n) with hash h, or NULL. */
static inline __attribute__((always_inline)) struct prefix_slot *
find(uint64_t h, const unsigned char *p, size_t n)
{
    for (size_t i = index_of(h), probes = 0; probes < INDEX_SIZE; i = (i + 1) & (INDEX_SIZE - 1), probes++) {
        unsigned e = LOAD(pindex[i]);
        if (e == 0)
            return NULL;
        struct prefix_slot *s = &slots[e - 1];
        if (slot_is(s, h, p, n))
            return s;
    }
    return NULL;
}

/* One look-up against a stable table (the caller checks `version`). */
static bool
lookup(const unsigned char *k, size_t nk, bool own, uint64_t seq, uint64_t gen)
{
    if (!(LOAD(firsts[k[0] >> 6]) >> (k[0] & 63) & 1))
        return false;
    unsigned nl = LOAD(nlens);
    uint64_t h = HASH_SEED;
    size_t words = 0; /* bytes of whole words in h */
    for (unsigned j = 0; j < nl; j++) {
        size_t n = LOAD(lens[j]);
        if (n > nk)
            break;
        for (; words + 8 <= n; words += 8)
            h = word_step(h, word_at(k + words));
        struct prefix_slot *s = find(hash_end(h, k + words, n - words, nk - words, n), k, n);
        if (s != NULL && (own ? gen < LOAD(s->gen) : (seq != 0 && seq < LOAD(s->seq))))
            return true;
    }
    return false;
}

bool
prefix_flushed_slow(const struct item *it)
{
    bool own = item_own_cas(it);
    return prefix_key_flushed((const unsigned char *)slab_item_key(it), slab_item_nkey(it), own, own ? 0 : item_seq(it),
                              own ? item_flush_gen(it) : 0);
}

bool
prefix_key_flushed(const unsigned char *k, size_t nk, bool own, uint64_t seq, uint64_t gen)
{
    for (;;) {
        uint64_t v = atomic_load_explicit(&version, memory_order_acquire);
        if (v & 1) {
            sched_yield();
            continue;
        }
        bool dead = lookup(k, nk, own, seq, gen);
        SEQ_FENCE_ACQUIRE();
        if (LOAD(version) == v)
            return dead;
    }
}

/* ---- writers ---- */

static void
version_bump(void)
{
    /* odd: readers wait; the release orders the table's stores after it */
    atomic_store_explicit(&version, LOAD(version) + 1, memory_order_relaxed);
    SEQ_FENCE_RELEASE();
}

static void
version_done(void)
{
    atomic_store_explicit(&version, LOAD(version) + 1, memory_order_release);
}

/* Adds length n and first byte c to the look-up's filters. Inside a
 * version bump, write_lock held. */
static void
filters_add_locked(size_t n, unsigned char c)
{
    STORE(firsts[c >> 6], LOAD(firsts[c >> 6]) | UINT64_C(1) << (c & 63));
    unsigned nl = LOAD(nlens), j = 0;
    while (j < nl && LOAD(lens[j]) < n)
        j++;
    if (j < nl && LOAD(lens[j]) == n)
        return;
    for (unsigned m = nl; m > j; m--)
        STORE(lens[m], LOAD(lens[m - 1]));
    STORE(lens[j], (uint8_t)n);
    STORE(nlens, nl + 1);
}

/* Rebuilds the index and the filters from the slots. Inside a version
 * bump, write_lock held. */
static void
rebuild_locked(void)
{
    for (size_t i = 0; i < INDEX_SIZE; i++)
        STORE(pindex[i], 0);
    for (size_t i = 0; i < 4; i++)
        STORE(firsts[i], 0);
    STORE(nlens, 0);
    unsigned live = 0;
    for (unsigned s = 0; s < PREFIX_MAX; s++) {
        unsigned n = LOAD(slots[s].len);
        if (n == 0)
            continue;
        live++;
        filters_add_locked(n, LOAD(slots[s].bytes[0]));
        size_t i = index_of(LOAD(slots[s].hash));
        while (LOAD(pindex[i]) != 0)
            i = (i + 1) & (INDEX_SIZE - 1);
        STORE(pindex[i], (uint16_t)(s + 1));
    }
    atomic_store_explicit(&prefix_nlive, live, memory_order_release);
}

void
prefix_reset(void)
{
    pthread_mutex_lock(&write_lock);
    version_bump();
    for (unsigned s = 0; s < PREFIX_MAX; s++)
        STORE(slots[s].len, 0);
    rebuild_locked();
    version_done();
    order_next = 0;
    pthread_mutex_unlock(&write_lock);
    STORE(n_flushes, 0);
    STORE(n_retired, 0);
    STORE(n_walks, 0);
    STORE(n_reclaimed, 0);
}

/* Registers p[0..n), or raises its bounds. False when the table is full.
 * write_lock held. */
static bool
register_locked(const unsigned char *p, size_t n)
{
    uint64_t h = hash_of(p, n);
    /* the bounds: everything linked so far is below them. The generation
     * first, then the sequence; both before the prefix is visible. */
    uint64_t gen = expire_gen_bump();
    uint64_t seq = item_cas_fence();
    struct prefix_slot *s = find(h, p, n);
    if (s != NULL) {
        atomic_store_explicit(&s->gen, gen, memory_order_release);
        atomic_store_explicit(&s->seq, seq, memory_order_release);
        s->order = order_next++;
        return true;
    }
    if (LOAD(prefix_nlive) >= PREFIX_MAX)
        return false;
    unsigned free = 0;
    while (LOAD(slots[free].len) != 0)
        free++;
    s = &slots[free];
    version_bump();
    STORE(s->seq, seq);
    STORE(s->gen, gen);
    STORE(s->hash, h);
    for (size_t i = 0; i < n; i++)
        STORE(s->bytes[i], p[i]);
    STORE(s->len, (uint8_t)n);
    s->order = order_next++;
    size_t i = index_of(h);
    while (LOAD(pindex[i]) != 0)
        i = (i + 1) & (INDEX_SIZE - 1);
    STORE(pindex[i], (uint16_t)(free + 1));
    filters_add_locked(n, p[0]);
    atomic_store_explicit(&prefix_nlive, LOAD(prefix_nlive) + 1, memory_order_release);
    version_done();
    return true;
}

int
store_flush_prefix(const char *prefix, size_t n)
{
    if (n == 0 || n > STORE_KEY_MAX)
        return -1;
    for (;;) {
        pthread_mutex_lock(&write_lock);
        bool ok = register_locked((const unsigned char *)prefix, n);
        pthread_mutex_unlock(&write_lock);
        if (ok)
            break;
        prefix_retire(PREFIX_MAX / 2); /* full: make room (O(items), once in a while) */
    }
    atomic_fetch_add_explicit(&n_flushes, 1, memory_order_relaxed);
    return 0;
}

/* ---- retirement ---- */

struct reap {
    uint64_t unlinked;
};

/* The walk's visit: unlinks an item a registration kills. Stripe lock
 * held. */
static void
reap_one(struct item *it, void *arg)
{
    struct reap *r = arg;
    if (!prefix_flushed(it))
        return;
    store_int_unlink_locked(it, ht_hash(slab_item_key(it), slab_item_nkey(it)));
    r->unlinked++;
}

uint64_t
prefix_retire(unsigned n)
{
    static struct {
        unsigned slot;
        uint64_t seq, gen;
    } victims[PREFIX_MAX]; /* retire_lock */
    unsigned nv = 0;

    pthread_mutex_lock(&retire_lock);
    /* the n oldest: those whose order is below the n-th smallest */
    pthread_mutex_lock(&write_lock);
    unsigned live = LOAD(prefix_nlive);
    if (n > live)
        n = live;
    uint64_t cut = order_next - (order_next > 0 ? 1 : 0);
    if (n < live) {
        /* the order values of live slots are distinct: find the n-th smallest */
        uint64_t lo = 0, hi = order_next;
        while (lo < hi) { /* the least `cut` with n slots at or below it */
            uint64_t mid = lo + (hi - lo) / 2;
            unsigned c = 0;
            for (unsigned s = 0; s < PREFIX_MAX; s++)
                if (LOAD(slots[s].len) != 0 && slots[s].order <= mid)
                    c++;
            if (c >= n)
                hi = mid;
            else
                lo = mid + 1;
        }
        cut = lo;
    }
    for (unsigned s = 0; s < PREFIX_MAX && n > 0; s++) {
        if (LOAD(slots[s].len) != 0 && slots[s].order <= cut) {
            victims[nv].slot = s;
            victims[nv].seq = LOAD(slots[s].seq);
            victims[nv].gen = LOAD(slots[s].gen);
            nv++;
        }
    }
    pthread_mutex_unlock(&write_lock);

    struct reap r = {0};
    if (nv > 0) {
        uint64_t (*walk)(void) = atomic_load(&walker);
        if (walk != NULL) {
            r.unlinked = walk();
        } else {
            for (unsigned s = 0; s < ht_nstripes(); s++) {
                ht_lock(s);
                ht_walk_stripe_locked(s, reap_one, &r);
                ht_unlock(s);
            }
        }
        atomic_fetch_add_explicit(&n_walks, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&n_reclaimed, r.unlinked, memory_order_relaxed);

        /* every item they killed is gone; one flushed again meanwhile may
         * still hide items in stripes walked before: it stays */
        pthread_mutex_lock(&write_lock);
        version_bump();
        unsigned gone = 0;
        for (unsigned v = 0; v < nv; v++) {
            struct prefix_slot *s = &slots[victims[v].slot];
            if (LOAD(s->seq) == victims[v].seq && LOAD(s->gen) == victims[v].gen) {
                STORE(s->len, 0);
                gone++;
            }
        }
        rebuild_locked();
        version_done();
        pthread_mutex_unlock(&write_lock);
        atomic_fetch_add_explicit(&n_retired, gone, memory_order_relaxed);
    }
    pthread_mutex_unlock(&retire_lock);
    return r.unlinked;
}

void
prefix_set_walker(uint64_t (*walk)(void))
{
    atomic_store(&walker, walk);
}

void
prefix_maintain(void)
{
    if (LOAD(prefix_nlive) >= PREFIX_RETIRE_AT)
        prefix_retire(LOAD(prefix_nlive) / 2);
}

void
store_prefix_info(struct store_prefix_info *out)
{
    out->live = LOAD(prefix_nlive);
    out->flushes = LOAD(n_flushes);
    out->retired = LOAD(n_retired);
    out->walks = LOAD(n_walks);
    out->reclaimed = LOAD(n_reclaimed);
}
