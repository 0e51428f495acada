/*
 * seg_index.c - the segment store prototype's hash index (seg_index.h):
 * head buckets, the overflow pool, bucket locks, the key hash.
 *
 * Overflow buckets are handed out from blocks of SEG_OVF_BLOCK, found
 * through a block table sized at setup, so a bucket never moves once
 * handed out. An overflow bucket stays in its chain until teardown (an
 * emptied one is reused by the same chain): a chain is as long as the
 * most items its bucket ever held at once.
 */
#include "config.h"

#include "store/seg/seg_index.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define SEG_OVF_BLOCK 1024u

static struct seg_bucket *heads;
static uint64_t mask;
static struct seg_bucket **ovf_blocks;
static uint32_t ovf_max;
static uint32_t ovf_used;                  /* under ovf_lock */
static _Atomic uint32_t ovf_used_pub;      /* for stats */
static _Atomic uint32_t ovf_lock;

static void
spin_lock(_Atomic uint32_t *l)
{
    for (;;) {
        if (atomic_exchange_explicit(l, 1, memory_order_acquire) == 0)
            return;
        while (atomic_load_explicit(l, memory_order_relaxed) != 0)
            sched_yield();
    }
}

static void
spin_unlock(_Atomic uint32_t *l)
{
    atomic_store_explicit(l, 0, memory_order_release);
}

static inline uint64_t
mix64(uint64_t v)
{
    v ^= v >> 33;
    v *= 0xff51afd7ed558ccdull;
    v ^= v >> 33;
    v *= 0xc4ceb9fe1a85ec53ull;
    v ^= v >> 33;
    return v;
}

uint64_t
seg_hash(const char *key, size_t nkey)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ ((uint64_t)nkey * 0x100000001b3ull);
    while (nkey >= 8) {
        uint64_t v;
        memcpy(&v, key, 8);
        h = (h ^ v) * 0x87c37b91114253d5ull;
        h = (h << 31) | (h >> 33);
        key += 8;
        nkey -= 8;
    }
    if (nkey > 0) {
        uint64_t v = 0;
        memcpy(&v, key, nkey);
        h = (h ^ v) * 0x4cf5ad432745937full;
    }
    return mix64(h);
}

int
seg_index_setup(unsigned power, uint32_t overflow_max)
{
    if (power > 30)
        return -1;
    size_t n = (size_t)1 << power;
    /* zero pages from the kernel, committed as buckets are first used: an
     * index sized for a large -m costs memory only as it fills */
    void *p = mmap(NULL, n * sizeof(*heads), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (p == MAP_FAILED)
        return -1;
    heads = p;
    mask = n - 1;
    ovf_max = overflow_max;
    ovf_used = 0;
    atomic_store(&ovf_used_pub, 0);
    size_t nblocks = (overflow_max + SEG_OVF_BLOCK - 1) / SEG_OVF_BLOCK;
    ovf_blocks = calloc(nblocks > 0 ? nblocks : 1, sizeof(*ovf_blocks));
    if (ovf_blocks == NULL) {
        munmap(heads, n * sizeof(*heads));
        heads = NULL;
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
    if (heads != NULL)
        munmap(heads, (size_t)(mask + 1) * sizeof(*heads));
    heads = NULL;
}

struct seg_bucket *
seg_index_lock(uint64_t h)
{
    struct seg_bucket *b = &heads[h & mask];
    spin_lock(&b->lock);
    return b;
}

void
seg_index_unlock(struct seg_bucket *b)
{
    spin_unlock(&b->lock);
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

/* Takes a new overflow bucket (zeroed); its index + 1, or 0 when none. */
static uint32_t
ovf_take(void)
{
    uint32_t got = 0;
    spin_lock(&ovf_lock);
    if (ovf_used < ovf_max) {
        uint32_t idx = ovf_used;
        if (idx % SEG_OVF_BLOCK == 0) {
            struct seg_bucket *blk = aligned_alloc(64, SEG_OVF_BLOCK * sizeof(*blk));
            if (blk != NULL)
                memset(blk, 0, SEG_OVF_BLOCK * sizeof(*blk));
            ovf_blocks[idx / SEG_OVF_BLOCK] = blk;
        }
        if (ovf_blocks[idx / SEG_OVF_BLOCK] != NULL) {
            ovf_used++;
            atomic_store_explicit(&ovf_used_pub, ovf_used, memory_order_relaxed);
            got = idx + 1;
        }
    }
    spin_unlock(&ovf_lock);
    return got;
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

size_t
seg_index_bytes(void)
{
    return (size_t)(mask + 1) * sizeof(struct seg_bucket) +
           (size_t)atomic_load_explicit(&ovf_used_pub, memory_order_relaxed) * sizeof(struct seg_bucket);
}

uint32_t
seg_index_overflow_used(void)
{
    return atomic_load_explicit(&ovf_used_pub, memory_order_relaxed);
}

void
seg_index_walk(void (*fn)(struct seg_bucket *head, void *arg), void *arg)
{
    for (uint64_t i = 0; i <= mask; i++) {
        spin_lock(&heads[i].lock);
        fn(&heads[i], arg);
        spin_unlock(&heads[i].lock);
    }
}

unsigned
seg_index_power(void)
{
    return (unsigned)__builtin_popcountll(mask);
}

const struct seg_bucket *
seg_index_head(uint64_t i)
{
    return &heads[i & mask];
}
