/*
 * seg_index.c - the segment store's hash index (seg_index.h): head
 * buckets and their growth (linear hashing), the overflow pool, bucket
 * locks, the key hash.
 *
 * Head buckets live in one mapping reserved for the largest index
 * (MAP_NORESERVE: a page is committed when a bucket on it is first used,
 * and linear hashing uses them in order), so no bucket ever moves and no
 * directory sits between a hash and its bucket. The shape word (mask, p)
 * is stored (release) by the one grower after it moved a bucket's keys
 * and before it unlocks the bucket.
 *
 * Overflow buckets are handed out from blocks of SEG_OVF_BLOCK, found
 * through a block table sized at setup, so a bucket never moves once
 * handed out. An overflow bucket stays in its chain (an emptied one is
 * reused by the same chain) until a split compacts the chain: the empty
 * tail goes back to the pool's free list.
 */
#include "config.h"

#include "store/largepage.h"
#include "store/seg/seg_index.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define SEG_OVF_BLOCK 1024u
struct seg_index_shape seg_index_g;
static size_t heads_bytes;                 /* the mapping */
static unsigned level_max;
static seg_slot_hash_fn slot_hash;
/* the head slots' load the index grows to keep (seg_index_grow()); built
 * with -DSEG_INDEX_LOAD_PCT=100 or 115 to measure the trade (doc/performance.md 7.z) */
#ifndef SEG_INDEX_LOAD_PCT
#define SEG_INDEX_LOAD_PCT 85
#endif
static pthread_mutex_t grow_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic bool grow_hint;
static _Atomic bool growing; /* a grower is splitting */

static struct seg_bucket **ovf_blocks;
static uint32_t ovf_max;
static uint32_t ovf_used;                  /* under ovf_lock */
static uint32_t ovf_free;                  /* free list: index + 1; under ovf_lock */
static _Atomic uint32_t ovf_live_pub;      /* in chains, for stats */
static _Atomic uint32_t ovf_lock;

void
seg_index_spin_wait(_Atomic uint32_t *l)
{
    for (;;) {
        while (atomic_load_explicit(l, memory_order_relaxed) != 0)
            sched_yield();
        if (atomic_exchange_explicit(l, 1, memory_order_acquire) == 0)
            return;
    }
}

static void
spin_lock(_Atomic uint32_t *l)
{
    if (atomic_exchange_explicit(l, 1, memory_order_acquire) != 0)
        seg_index_spin_wait(l);
}

static void
spin_unlock(_Atomic uint32_t *l)
{
    atomic_store_explicit(l, 0, memory_order_release);
}

static inline unsigned
mp_level(uint64_t w)
{
    return (unsigned)__builtin_popcountll(w >> 32);
}

static inline uint64_t
mp_p(uint64_t w)
{
    return (uint32_t)w;
}

static inline uint64_t
mp_make(unsigned level, uint64_t p)
{
    return (((uint64_t)1 << level) - 1) << 32 | p;
}

static inline struct seg_bucket *
bucket_at(uint64_t b)
{
    return &seg_index_g.heads[b];
}

int
seg_index_setup(unsigned power, unsigned power_max, uint32_t overflow_max, seg_slot_hash_fn hash,
                bool large_pages)
{
    if (power > 30)
        return -1;
    if (power_max < power)
        power_max = power;
    if (power_max > 30)
        power_max = 30;
    level_max = power_max;
    heads_bytes = ((size_t)1 << power_max) * sizeof(struct seg_bucket);
    void *m = largepage_map(heads_bytes, PROT_READ | PROT_WRITE, large_pages, NULL);
    if (m == NULL)
        return -1;
    seg_index_g.heads = m;
    slot_hash = hash;
    atomic_store(&seg_index_g.mp, mp_make(power, 0));
    atomic_store(&grow_hint, false);
    ovf_max = overflow_max;
    ovf_used = 0;
    ovf_free = 0;
    atomic_store(&ovf_live_pub, 0);
    size_t nblocks = (overflow_max + SEG_OVF_BLOCK - 1) / SEG_OVF_BLOCK;
    ovf_blocks = calloc(nblocks > 0 ? nblocks : 1, sizeof(*ovf_blocks));
    if (ovf_blocks == NULL) {
        seg_index_teardown();
        return -1;
    }
    return 0;
}

void
seg_index_teardown(void)
{
    if (ovf_blocks != NULL) {
        for (uint32_t i = 0; i * SEG_OVF_BLOCK < ovf_used; i++)
            free(ovf_blocks[i]);
    }
    free(ovf_blocks);
    ovf_blocks = NULL;
    if (seg_index_g.heads != NULL)
        munmap(seg_index_g.heads, heads_bytes);
    seg_index_g.heads = NULL;
}

struct seg_bucket *
seg_index_lock_slow(uint64_t h)
{
    for (;;) {
        uint64_t w = atomic_load_explicit(&seg_index_g.mp, memory_order_acquire);
        uint64_t b = seg_index_bucket_of(h, w);
        struct seg_bucket *hb = bucket_at(b);
        spin_lock(&hb->lock);
        uint64_t now = atomic_load_explicit(&seg_index_g.mp, memory_order_relaxed);
        if (now == w || seg_index_bucket_of(h, now) == b)
            return hb;
        spin_unlock(&hb->lock);
    }
}

static struct seg_bucket *
ovf_bucket(uint32_t idx)
{
    return &ovf_blocks[idx / SEG_OVF_BLOCK][idx % SEG_OVF_BLOCK];
}

struct seg_bucket *
seg_index_next(const struct seg_bucket *b)
{
    return b->next != 0 ? ovf_bucket(b->next - 1) : NULL;
}

/* Takes an overflow bucket (empty): from the free list, else a new one;
 * its index + 1, or 0 when none. */
static uint32_t
ovf_take(void)
{
    uint32_t got = 0;
    spin_lock(&ovf_lock);
    if (ovf_free != 0) {
        got = ovf_free;
        struct seg_bucket *b = ovf_bucket(got - 1);
        ovf_free = b->next;
        b->next = 0;
    } else if (ovf_used < ovf_max) {
        uint32_t idx = ovf_used;
        if (idx % SEG_OVF_BLOCK == 0) {
            struct seg_bucket *blk = aligned_alloc(64, SEG_OVF_BLOCK * sizeof(*blk));
            if (blk != NULL)
                memset(blk, 0, SEG_OVF_BLOCK * sizeof(*blk));
            ovf_blocks[idx / SEG_OVF_BLOCK] = blk;
        }
        if (ovf_blocks[idx / SEG_OVF_BLOCK] != NULL) {
            ovf_used++;
            got = idx + 1;
        }
    }
    if (got != 0)
        atomic_store_explicit(&ovf_live_pub, atomic_load_explicit(&ovf_live_pub, memory_order_relaxed) + 1,
                              memory_order_relaxed);
    spin_unlock(&ovf_lock);
    if (got != 0 && !atomic_load_explicit(&grow_hint, memory_order_relaxed))
        atomic_store_explicit(&grow_hint, true, memory_order_relaxed);
    return got;
}

/* Gives back a chain of empty overflow buckets (first: index + 1). */
static void
ovf_give(uint32_t first)
{
    if (first == 0)
        return;
    uint32_t last = first, n = 1;
    while (ovf_bucket(last - 1)->next != 0) {
        last = ovf_bucket(last - 1)->next;
        n++;
    }
    spin_lock(&ovf_lock);
    ovf_bucket(last - 1)->next = ovf_free;
    ovf_free = first;
    atomic_store_explicit(&ovf_live_pub, atomic_load_explicit(&ovf_live_pub, memory_order_relaxed) - n,
                          memory_order_relaxed);
    spin_unlock(&ovf_lock);
}

uint64_t *
seg_index_free_slot(struct seg_bucket *head)
{
    struct seg_bucket *b = head;
    for (;;) {
        for (unsigned i = 0; i < SEG_BUCKET_SLOTS; i++) {
            if (b->slot[i] == 0)
                return &b->slot[i];
        }
        if (b->next == 0) {
            uint32_t n = ovf_take();
            if (n == 0)
                return NULL;
            b->next = n;
        }
        b = ovf_bucket(b->next - 1);
    }
}

uint64_t *
seg_index_find_loc(struct seg_bucket *head, uint16_t tag, uint32_t seg, uint32_t off)
{
    uint64_t want = seg_slot_make(seg, off, tag, 0);
    uint64_t cmp_mask = ~((uint64_t)0xff << 12); /* all but the frequency */
    for (struct seg_bucket *b = head; b != NULL; b = seg_index_next(b)) {
        for (unsigned i = 0; i < SEG_BUCKET_SLOTS; i++) {
            if ((b->slot[i] & cmp_mask) == want)
                return &b->slot[i];
        }
    }
    return NULL;
}

/* ---- growth ---- */

/* A write cursor over a chain: the next slot to fill. */
struct cursor {
    struct seg_bucket *b;
    unsigned i;
};

static void
cursor_put(struct cursor *c, uint64_t v)
{
    if (c->i == SEG_BUCKET_SLOTS) {
        c->b = seg_index_next(c->b); /* there: reserved before, or passed by the reader */
        c->i = 0;
    }
    c->b->slot[c->i++] = v;
}

/* Splits bucket p into p and p + 2^level, then advances p. Under
 * grow_lock. False when memory ran out (nothing changed). */
static bool
split_one(void)
{
    uint64_t w = atomic_load_explicit(&seg_index_g.mp, memory_order_relaxed);
    unsigned level = mp_level(w);
    uint64_t p = mp_p(w), bit = (uint64_t)1 << level, n = p + bit;
    struct seg_bucket *ob = bucket_at(p), *nb = bucket_at(n);
    spin_lock(&ob->lock);
    spin_lock(&nb->lock); /* nobody else's: n is unreachable until p moves */
    /* which slots move: remembered for the first 256 of the chain (the
     * second pass hashes again only past them) */
    uint64_t goes[4] = {0, 0, 0, 0};
    unsigned moving = 0, k = 0;
    for (struct seg_bucket *b = ob; b != NULL; b = seg_index_next(b)) {
        for (unsigned i = 0; i < SEG_BUCKET_SLOTS; i++, k++) {
            if (b->slot[i] != 0 && (slot_hash(b->slot[i]) & bit) != 0) {
                moving++;
                if (k < 256)
                    goes[k / 64] |= (uint64_t)1 << (k % 64);
            }
        }
    }
    /* room in n's chain first, so that no key is left half moved */
    unsigned room = SEG_BUCKET_SLOTS;
    struct seg_bucket *tail = nb;
    for (; tail->next != 0; tail = ovf_bucket(tail->next - 1))
        room += SEG_BUCKET_SLOTS;
    while (room < moving) {
        uint32_t o = ovf_take();
        if (o == 0) {
            spin_unlock(&nb->lock);
            spin_unlock(&ob->lock);
            return false;
        }
        tail->next = o;
        tail = ovf_bucket(o - 1);
        room += SEG_BUCKET_SLOTS;
    }
    /* one pass: moved slots to n, kept ones packed to the front of p's
     * chain (the write cursor never passes the read one) */
    struct cursor keep = {ob, 0}, move = {nb, 0};
    struct seg_bucket *last_kept = ob;
    k = 0;
    for (struct seg_bucket *b = ob; b != NULL; b = seg_index_next(b)) {
        for (unsigned i = 0; i < SEG_BUCKET_SLOTS; i++, k++) {
            uint64_t v = b->slot[i];
            if (v == 0)
                continue;
            b->slot[i] = 0;
            if (k < 256 ? (goes[k / 64] >> (k % 64) & 1) != 0 : (slot_hash(v) & bit) != 0) {
                cursor_put(&move, v);
            } else {
                cursor_put(&keep, v);
                last_kept = keep.b;
            }
        }
    }
    /* p's chain past its last kept slot is empty: back to the pool */
    uint32_t spare = last_kept->next;
    last_kept->next = 0;
    uint64_t next = p + 1 == bit ? mp_make(level + 1, 0) : mp_make(level, p + 1);
    atomic_store_explicit(&seg_index_g.mp, next, memory_order_release);
    spin_unlock(&nb->lock);
    spin_unlock(&ob->lock);
    ovf_give(spare);
    return true;
}

unsigned
seg_index_grow(uint64_t items, unsigned max_splits)
{
    if (pthread_mutex_trylock(&grow_lock) != 0)
        return 0;
    atomic_store_explicit(&grow_hint, false, memory_order_relaxed);
    unsigned done = 0;
    while (done < max_splits) {
        uint64_t w = atomic_load_explicit(&seg_index_g.mp, memory_order_relaxed);
        if (mp_level(w) >= level_max)
            break;
        /* one bucket at a time, while items > SEG_INDEX_LOAD_PCT% of the
         * head slots (2^level + p buckets of 7) */
        uint64_t heads = ((uint64_t)1 << mp_level(w)) + mp_p(w);
        if (items * 100 <= heads * SEG_BUCKET_SLOTS * SEG_INDEX_LOAD_PCT)
            break;
        atomic_store_explicit(&growing, true, memory_order_relaxed);
        if (!split_one())
            break;
        done++;
    }
    atomic_store_explicit(&growing, false, memory_order_relaxed);
    pthread_mutex_unlock(&grow_lock);
    return done;
}

bool
seg_index_grow_hint(void)
{
    return atomic_load_explicit(&grow_hint, memory_order_relaxed);
}

bool
seg_index_expanding(void)
{
    return atomic_load_explicit(&growing, memory_order_relaxed);
}

uint64_t
seg_index_heads(void)
{
    uint64_t w = atomic_load_explicit(&seg_index_g.mp, memory_order_acquire);
    return (w >> 32) + 1 + mp_p(w);
}

size_t
seg_index_bytes(void)
{
    return (size_t)(seg_index_heads() + atomic_load_explicit(&ovf_live_pub, memory_order_relaxed)) *
           sizeof(struct seg_bucket);
}

uint32_t
seg_index_overflow_used(void)
{
    return atomic_load_explicit(&ovf_live_pub, memory_order_relaxed);
}

void
seg_index_walk(void (*fn)(struct seg_bucket *head, void *arg), void *arg)
{
    /* the bound is read again each step: keys a split moves from a bucket
     * not yet visited go to a higher one, visited later */
    for (uint64_t i = 0; i < seg_index_heads(); i++) {
        struct seg_bucket *b = bucket_at(i);
        spin_lock(&b->lock);
        fn(b, arg);
        spin_unlock(&b->lock);
    }
}

unsigned
seg_index_power(void)
{
    return mp_level(atomic_load_explicit(&seg_index_g.mp, memory_order_relaxed));
}

const struct seg_bucket *
seg_index_head(uint64_t i)
{
    return bucket_at(i);
}

struct seg_bucket *
seg_index_lock_at(uint64_t i)
{
    struct seg_bucket *b = bucket_at(i);
    spin_lock(&b->lock);
    return b;
}
