/*
 * seg_store.c - the segment store's steps (seg_internal.h: find, reserve,
 * kill, pin) and the prototype's operations on them (seg_store.h: setup,
 * get, set, delete, touch, stats). Segments themselves (taking, eviction,
 * merge, expiry) are seg_pool.c's; the store.h-shaped engine is
 * seg_engine.c.
 *
 * A set is three steps. With no lock, it reserves the item's bytes at the
 * write cursor of its thread's own ACTIVE segment for the TTL bucket (the
 * pool lock only to open a new one, once a segment fills), counts itself
 * a writer of the segment and writes the item; then, under the index
 * bucket's lock, it draws the CAS (written into the header, which no one
 * else reads yet), links the item (the old one, if any, becomes dead) and
 * drops its writer count. That count keeps a sealed segment from being
 * evicted before its last item is linked: eviction only picks SEALED
 * segments with no writer, and only the owning thread seals its segment,
 * after its own count was taken.
 * Readers pin a segment (refcount) under the index bucket's lock; an
 * evicted segment still pinned is freed once unpinned (seg_pool.c).
 */
#include "config.h"

#include "store/largepage.h"
#include "store/seg/seg_internal.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mman.h>

struct seg_global seg_g;

/* Each thread's append segments, one per TTL bucket; valid for the store
 * set up as generation `gen` (a new seg_setup() starts them afresh). */
struct seg_thread {
    uint64_t gen;
    uint64_t token;            /* marks the segments it appends to (segment.owner) */
    int32_t active[SEG_TTL_BUCKETS];
};

static _Atomic uint64_t token_next;

static _Thread_local struct seg_thread thread_state;
static _Atomic uint64_t generation;
static pthread_key_t exit_key;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;

/* A thread that exits seals its segments (they could never be evicted
 * otherwise), had it not called seg_thread_release() itself. */
static void
thread_exit(void *arg)
{
    (void)arg;
    struct seg_thread *t = &thread_state;
    if (seg_g.arena != NULL && t->gen == atomic_load_explicit(&generation, memory_order_relaxed))
        seg_thread_release();
}

static void
exit_key_make(void)
{
    (void)pthread_key_create(&exit_key, thread_exit);
}

static struct seg_thread *
my_thread(void)
{
    struct seg_thread *t = &thread_state;
    uint64_t g = atomic_load_explicit(&generation, memory_order_relaxed);
    if (t->gen != g) {
        t->gen = g;
        t->token = atomic_fetch_add_explicit(&token_next, 1, memory_order_relaxed) + 1;
        for (unsigned b = 0; b < SEG_TTL_BUCKETS; b++)
            t->active[b] = -1;
        (void)pthread_once(&exit_once, exit_key_make);
        (void)pthread_setspecific(exit_key, t);
    }
    return t;
}

void
seg_clock_set(uint32_t now)
{
    atomic_store_explicit(&seg_g.now, now, memory_order_relaxed);
}

uint32_t
seg_now(void)
{
    if (seg_g.now_fn != NULL)
        return seg_g.now_fn();
    return atomic_load_explicit(&seg_g.now, memory_order_relaxed);
}

static uint64_t
proto_cas_now(void)
{
    return atomic_load_explicit(&seg_g.cas_next, memory_order_relaxed);
}

void
seg_cas_set_next(uint64_t next)
{
    atomic_store(&seg_g.cas_next, next);
}

/* The index grower's: the hash of the key a slot points at (the item is
 * alive while its slot is there; the grower holds its bucket lock). */
static uint64_t
slot_hash(uint64_t slot)
{
    const struct seg_item *it = seg_item_at(seg_slot_seg(slot), seg_slot_off(slot));
    return seg_hash(seg_item_key(it), seg_item_nkey(it));
}

unsigned
seg_grow(unsigned max_splits)
{
    uint64_t items = 0;
    for (uint32_t i = 0; i < seg_g.nseg; i++)
        items += atomic_load_explicit(&seg_g.segs[i].live_items, memory_order_relaxed);
    return seg_index_grow(items, max_splits);
}

int
seg_setup(const struct seg_options *o)
{
    size_t seg_size = o->seg_size != 0 ? o->seg_size : (size_t)1 << 20;
    if (seg_size % 8 != 0 || seg_size < 64 || seg_size > SEG_SIZE_MAX) {
        errno = EINVAL;
        return -1;
    }
    size_t nseg = o->mem_limit / seg_size;
    if (nseg < 2 || nseg > SEG_COUNT_MAX) {
        errno = EINVAL;
        return -1;
    }
    memset(&seg_g, 0, sizeof(seg_g));
    seg_g.seg_size = (uint32_t)seg_size;
    seg_g.nseg = (uint32_t)nseg;
    seg_g.evict = o->evict;
    seg_g.merge_n = o->merge_n != 0 ? o->merge_n : 4;
    /* writable at once (MAP_NORESERVE: memory appears as segments fill);
     * -L: 2 MB aligned and advised MADV_HUGEPAGE, a hint the kernel may refuse */
    seg_g.arena = largepage_map(nseg * seg_size, PROT_READ | PROT_WRITE, o->large_pages, NULL);
    if (seg_g.arena == NULL)
        return -1;
    seg_g.segs = calloc(nseg, sizeof(*seg_g.segs));
    /* overflow buckets: enough for every item of 16 bytes to have a slot */
    uint64_t ovf = (uint64_t)nseg * seg_size / 16 / SEG_BUCKET_SLOTS + 1024;
    if (seg_g.segs == NULL || seg_index_setup(o->hashpower, o->hashpower_max, ovf > UINT32_MAX ? UINT32_MAX : (uint32_t)ovf,
                                              slot_hash, o->large_pages) != 0) {
        free(seg_g.segs);
        munmap(seg_g.arena, nseg * seg_size);
        seg_g.arena = NULL;
        errno = ENOMEM;
        return -1;
    }
    atomic_fetch_add(&generation, 1);
    for (unsigned b = 0; b < SEG_TTL_BUCKETS; b++) {
        struct ttl_bucket *tb = &seg_g.ttl[b];
        tb->head = tb->tail = tb->merge_next = -1;
        tb->ttl = seg_ttl_bucket_ttl(b);
        uint32_t w = seg_ttl_bucket_width(b);
        tb->max_age = b == 0 ? 0 : (tb->ttl / 16 > w ? tb->ttl / 16 : w);
    }
    pthread_mutex_init(&seg_g.pool_lock, NULL);
    atomic_store(&seg_g.cas_next, 1);
    seg_g.cas_now = proto_cas_now;
    return seg_pool_setup();
}

void
seg_teardown(void)
{
    if (seg_g.arena == NULL)
        return;
    seg_index_teardown();
    pthread_mutex_destroy(&seg_g.pool_lock);
    munmap(seg_g.arena, (size_t)seg_g.nseg * seg_g.seg_size);
    free(seg_g.segs);
    seg_g.arena = NULL;
    seg_g.segs = NULL;
}

void
seg_slot_kill(uint64_t *slot)
{
    uint64_t v = *slot;
    seg_item_dead(&seg_g.segs[seg_slot_seg(v)], seg_item_size_of(seg_item_at(seg_slot_seg(v), seg_slot_off(v))));
    *slot = 0;
}

static uint32_t
xorshift(void)
{
    static _Thread_local uint32_t x = 2463534242u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return x;
}

/* +1 up to 16, then with probability 1/f, saturating at 255. */
uint8_t
seg_freq_bump(uint8_t f)
{
    if (f == 255 || (f >= 16 && xorshift() % f != 0))
        return f;
    return (uint8_t)(f + 1);
}

/* A TTL's bucket, its TTL rounded down to a power of two: items expire at
 * their own exptime (a segment once its last item has), so buckets only
 * group items that expire about together, and few of them keep few
 * segments open (a thread appends to one per bucket it uses): 1, 2, 4 ...
 * 2^24 s, and above. */
unsigned
seg_bucket_for(uint32_t exptime, uint32_t now)
{
    if (exptime == 0)
        return 0;
    uint32_t ttl = exptime > now ? exptime - now : 1;
    return seg_ttl_bucket_of((uint32_t)1 << (31 - __builtin_clz(ttl)));
}

/* Seconds since s opened; 0 for one opened at a later `now` than the
 * caller's (the clock ticked in between, or a test set it back). */
static inline uint32_t
seg_age(const struct segment *s, uint32_t now)
{
    return now > s->create_at ? now - s->create_at : 0;
}

/* TTL buckets (besides "no TTL") a thread appends to at once: opening
 * another seals its oldest. Each holds a partly filled segment that
 * cannot be evicted until sealed. */
#define THREAD_ACTIVE_MAX 4
/* buckets a setting thread splits when the index is behind (~6 items
 * each: a segment of 1 MB holds ~8000 items of 128 bytes) */
#define SEG_GROW_HELP 2048u

/* Seals the calling thread's active segments of buckets other than b:
 * the oldest only when it has `keep` or more, else (keep 0) all. Returns
 * how many it sealed. */
static unsigned
seal_others(struct seg_thread *t, unsigned b, unsigned keep)
{
    unsigned n = 0, sealed = 0;
    int oldest = -1;
    for (unsigned i = 1; i < SEG_TTL_BUCKETS; i++) {
        if (i == b || t->active[i] < 0)
            continue;
        n++;
        if (keep == 0) { /* all: no oldest to find (a sealed bucket's slot reads -1) */
            seg_pool_seal(&t->active[i], t->token);
            sealed++;
            continue;
        }
        if (oldest < 0 || seg_g.segs[t->active[i]].create_at < seg_g.segs[t->active[oldest]].create_at)
            oldest = (int)i;
    }
    if (keep != 0 && n >= keep && oldest >= 0) {
        seg_pool_seal(&t->active[oldest], t->token);
        sealed++;
    }
    return sealed;
}

char *
seg_reserve(unsigned b, size_t size, uint32_t exptime, struct segment **s_out, uint32_t *off_out)
{
    struct ttl_bucket *tb = &seg_g.ttl[b];
    struct seg_thread *t = my_thread();
    int32_t *active = &t->active[b];
    uint32_t now = seg_now();
    struct segment *s;
    for (;;) {
        /* now again each time: a segment opened below takes its create_at
         * from the clock then, and an older `now` made it look too old
         * (now - create_at wrapped): the thread opened segments forever */
        now = seg_now();
        s = *active >= 0 ? &seg_g.segs[*active] : NULL;
        if (s != NULL) {
            /* a writer first, then still ours? (seq_cst both: a thread out
             * of memory seals it by clearing `owner`, then evicts it only
             * with no writer: seg_pool.c) */
            atomic_fetch_add_explicit(&s->writers, 1, memory_order_seq_cst);
            if (atomic_load_explicit(&s->owner, memory_order_seq_cst) != t->token) {
                atomic_fetch_sub_explicit(&s->writers, 1, memory_order_release);
                *active = -1; /* sealed by another thread: not ours to seal */
            } else if (seg_write_off(s) + size <= seg_g.seg_size &&
                       (tb->max_age == 0 || seg_age(s, now) < tb->max_age)) {
                int64_t d = (int64_t)(seg_g.cas_now() - s->cas_base);
                if (d <= SEG_CAS_DELTA_MAX - SEG_CAS_LINK_MARGIN && d >= SEG_CAS_DELTA_MIN + SEG_CAS_LINK_MARGIN)
                    break; /* counted as a writer */
                SEG_STAT_INC(cas_seals, 1);
                atomic_fetch_sub_explicit(&s->writers, 1, memory_order_release);
            } else {
                atomic_fetch_sub_explicit(&s->writers, 1, memory_order_release);
            }
        }
        /* a new segment: a point with no lock held, where a thread helps
         * the index grow when chains have been lengthening (at most
         * SEG_GROW_HELP buckets; the maintainer does the rest) */
        if (seg_index_grow_hint())
            (void)seg_grow(SEG_GROW_HELP);
        if (b != 0 && *active < 0)
            (void)seal_others(t, b, THREAD_ACTIVE_MAX);
        s = seg_pool_open(b, active, t->token);
        /* nothing to evict: this thread's own other segments may be */
        if (s == NULL && seal_others(t, b, 0) > 0)
            s = seg_pool_open(b, active, t->token);
        if (s == NULL && b != 0 && t->active[0] >= 0) {
            seg_pool_seal(&t->active[0], t->token);
            s = seg_pool_open(b, active, t->token);
        }
        /* the segments it could take were all being written (an item
         * between its reservation and its link): they soon are not */
        for (unsigned tries = 0; s == NULL && seg_g.evict != SEG_EVICT_NONE && tries < 64; tries++) {
            sched_yield();
            s = seg_pool_open(b, active, t->token);
        }
        if (s == NULL)
            return NULL;
    }
    uint32_t off = seg_write_off(s);
    atomic_store_explicit(&s->write_off, off + (uint32_t)size, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->live_items, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->live_bytes, (uint32_t)size, memory_order_relaxed);
    seg_exp_raise(s, exptime);
    *s_out = s;
    *off_out = off;
    return (char *)seg_item_at(s->id, off);
}

/* The prototype's append: an item of TTL `exptime` (0 never) with a CAS
 * delta of 0 (link_cas() fills it in) or, keep_cas non-zero, that CAS
 * (wide when too far from the segment's base). NULL: no memory. */
static struct segment *
append(uint32_t exptime, const char *key, size_t nkey, uint32_t flags, const void *value, size_t nbytes,
       uint64_t keep_cas, uint64_t mut, uint32_t atime, uint32_t *off_out)
{
    uint32_t now = seg_now();
    bool wide = false;
    struct segment *s;
    uint32_t off;
    for (;;) {
        size_t size = seg_item_size_x((flags != 0 ? SEG_H_FLAGS : 0) | (exptime != 0 ? SEG_H_EXP : 0) |
                                          (wide ? SEG_H_WIDE : 0),
                                      nkey, nbytes);
        char *p = seg_reserve(seg_bucket_for(exptime, now), size, exptime, &s, &off);
        if (p == NULL)
            return NULL;
        int64_t delta = 0;
        if (keep_cas != 0 && !wide && !seg_delta_fits(s, keep_cas, &delta)) {
            seg_item_dead(s, size); /* written as nothing: redo it wide */
            seg_writer_done(s);
            wide = true;
            continue;
        }
        char *v = seg_item_write(p, key, nkey, (uint32_t)nbytes, flags, exptime, wide, keep_cas, 0, mut,
                                 wide ? 0 : delta, atime);
        if (nbytes > 0)
            memcpy(v, value, nbytes);
        break;
    }
    *off_out = off;
    return s;
}

/* Draws the CAS of a new item about to be linked, and writes it into
 * its header (not published yet: only its setter reads it). Under the
 * index bucket's lock. False if the delta would not fit (2^20 sets drawn
 * between its reservation and now). */
static bool
link_cas(struct segment *s, uint32_t off, uint64_t *cas_out)
{
    uint64_t cas = atomic_fetch_add_explicit(&seg_g.cas_next, 1, memory_order_relaxed);
    int64_t delta;
    if (!seg_delta_fits(s, cas, &delta))
        return false;
    struct seg_item *it = seg_item_at(s->id, off);
    uint64_t h = seg_hdr_with_delta(seg_hdr_load(it), delta) | SEG_H_LINKED;
    atomic_store_explicit(seg_hdr_word(it), h, memory_order_relaxed);
    *cas_out = cas;
    return true;
}

void
seg_writer_done(struct segment *s)
{
    atomic_fetch_sub_explicit(&s->writers, 1, memory_order_release);
}

void
seg_pin(struct segment *s)
{
    atomic_fetch_add_explicit(&s->refcount, 1, memory_order_relaxed);
}

void
seg_unpin(struct segment *s)
{
    atomic_fetch_sub_explicit(&s->refcount, 1, memory_order_release);
}

enum seg_status
seg_set(const char *key, size_t nkey, uint32_t flags, uint32_t ttl, const void *value, size_t nbytes,
        uint64_t expect_cas, uint64_t *cas_out)
{
    uint32_t now = seg_now();
    uint32_t exptime = ttl != 0 ? now + ttl : 0;
    size_t size = seg_item_size_x((flags != 0 ? SEG_H_FLAGS : 0) | (exptime != 0 ? SEG_H_EXP : 0), nkey, nbytes);
    if (nkey == 0 || nkey > 250 || nbytes > SEG_NBYTES_MAX || size > seg_g.seg_size)
        return SEG_TOO_LARGE;
    uint64_t h = seg_hash(key, nkey);
    uint16_t tag = seg_hash_tag(h);
    uint64_t cas = 0;
    uint32_t off;
    struct segment *s = append(exptime, key, nkey, flags, value, nbytes, 0, 0, now, &off);
    if (s == NULL)
        return SEG_NO_MEMORY;
    enum seg_status st = SEG_OK;
    struct seg_bucket *hb = seg_index_lock(h);
    uint64_t *slot = seg_find_key(hb, tag, key, nkey);
    if (slot != NULL && seg_item_expired(seg_item_at(seg_slot_seg(*slot), seg_slot_off(*slot)), now)) {
        seg_slot_kill(slot); /* an expired item is no item; its slot is free now */
        slot = NULL;
    }
    if (expect_cas != 0 && (slot == NULL || seg_item_cas(seg_item_at(seg_slot_seg(*slot), seg_slot_off(*slot))) !=
                                                expect_cas)) {
        st = slot == NULL ? SEG_NOT_FOUND : SEG_EXISTS;
    } else if (slot == NULL && (slot = seg_index_free_slot(hb)) == NULL) {
        st = SEG_NO_MEMORY;
    } else if (!link_cas(s, off, &cas)) {
        st = SEG_NO_MEMORY;
    } else {
        uint8_t freq = 0;
        if (*slot != 0) { /* the old item: dead from now on */
            freq = seg_slot_freq(*slot);
            seg_slot_kill(slot);
        }
        *slot = seg_slot_make(s->id, off, tag, freq);
    }
    if (st != SEG_OK)
        seg_item_dead(s, size); /* appended, never linked */
    seg_index_unlock(hb);
    seg_writer_done(s);
    if (st == SEG_OK && cas_out != NULL)
        *cas_out = cas;
    return st;
}

/* Under hb's lock: the live slot of key, or NULL (an expired one is
 * emptied on the way). */
static uint64_t *
find_live(struct seg_bucket *hb, uint16_t tag, const char *key, size_t nkey)
{
    uint64_t *slot = seg_find_key(hb, tag, key, nkey);
    if (slot != NULL && seg_item_expired(seg_item_at(seg_slot_seg(*slot), seg_slot_off(*slot)), seg_now())) {
        seg_slot_kill(slot);
        slot = NULL;
    }
    return slot;
}

const struct seg_item *
seg_get(const char *key, size_t nkey)
{
    uint64_t h = seg_hash(key, nkey);
    struct seg_bucket *hb = seg_index_lock(h);
    uint64_t *slot = find_live(hb, seg_hash_tag(h), key, nkey);
    if (slot == NULL) {
        seg_index_unlock(hb);
        return NULL;
    }
    uint64_t v = *slot;
    uint8_t f = seg_slot_freq(v), nf = seg_freq_bump(f);
    if (nf != f)
        *slot = seg_slot_with_freq(v, nf);
    seg_pin(&seg_g.segs[seg_slot_seg(v)]);
    seg_index_unlock(hb);
    return seg_item_at(seg_slot_seg(v), seg_slot_off(v));
}

void
seg_item_release(const struct seg_item *it)
{
    seg_unpin(seg_of_item(it));
}

uint64_t
seg_item_cas(const struct seg_item *it)
{
    return seg_item_seq(it);
}

enum seg_status
seg_delete(const char *key, size_t nkey)
{
    uint64_t h = seg_hash(key, nkey);
    struct seg_bucket *hb = seg_index_lock(h);
    uint64_t *slot = find_live(hb, seg_hash_tag(h), key, nkey);
    if (slot != NULL)
        seg_slot_kill(slot);
    seg_index_unlock(hb);
    return slot != NULL ? SEG_OK : SEG_NOT_FOUND;
}

enum seg_status
seg_touch(const char *key, size_t nkey, uint32_t ttl)
{
    uint64_t h = seg_hash(key, nkey);
    uint16_t tag = seg_hash_tag(h);
    uint32_t now = seg_now();
    uint32_t exptime = ttl != 0 ? now + ttl : 0;
    struct seg_bucket *hb = seg_index_lock(h);
    uint64_t *slot = find_live(hb, tag, key, nkey);
    if (slot == NULL) {
        seg_index_unlock(hb);
        return SEG_NOT_FOUND;
    }
    uint64_t old = *slot;
    const struct seg_item *it = seg_item_at(seg_slot_seg(old), seg_slot_off(old));
    struct segment *os = &seg_g.segs[seg_slot_seg(old)];
    /* in place when the item has an exptime word and its segment expires
     * no earlier than the new time */
    if ((seg_hdr_load(it) & SEG_H_EXP) && exptime != 0 &&
        exptime <= atomic_load_explicit(&os->exp_max, memory_order_relaxed)) {
        atomic_store_explicit(seg_exp_word(it), exptime, memory_order_relaxed);
        seg_index_unlock(hb);
        return SEG_OK;
    }
    seg_pin(os);
    seg_index_unlock(hb);

    uint64_t old_cas = seg_item_cas(it);
    uint32_t off;
    struct segment *s = append(exptime, key, nkey, seg_item_flags(it), seg_item_data(it), seg_item_nbytes(it),
                               old_cas, SEG_H_LINKED, seg_item_atime(it), &off);
    seg_unpin(os);
    if (s == NULL)
        return SEG_NO_MEMORY;
    /* the same item (its CAS), wherever a merge may have moved it meanwhile */
    hb = seg_index_lock(h);
    slot = find_live(hb, tag, key, nkey);
    if (slot != NULL && seg_item_cas(seg_item_at(seg_slot_seg(*slot), seg_slot_off(*slot))) == old_cas) {
        uint8_t f = seg_freq_bump(seg_slot_freq(*slot));
        seg_slot_kill(slot);
        *slot = seg_slot_make(s->id, off, tag, f);
    } else {
        /* overwritten, deleted, expired or evicted meanwhile: that change
         * came after the touch; the copy is dead */
        seg_item_dead(s, seg_item_size_of(seg_item_at(s->id, off)));
    }
    seg_index_unlock(hb);
    seg_writer_done(s);
    SEG_STAT_INC(touch_copies, 1);
    return SEG_OK;
}

void
seg_thread_tick(void)
{
    struct seg_thread *t = my_thread();
    uint32_t now = seg_now();
    for (unsigned b = 1; b < SEG_TTL_BUCKETS; b++) {
        if (t->active[b] < 0)
            continue;
        const struct segment *s = &seg_g.segs[t->active[b]];
        if (seg_age(s, now) >= seg_g.ttl[b].max_age)
            seg_pool_seal(&t->active[b], t->token);
    }
}

void
seg_thread_release(void)
{
    struct seg_thread *t = my_thread();
    for (unsigned b = 0; b < SEG_TTL_BUCKETS; b++)
        seg_pool_seal(&t->active[b], t->token);
}

unsigned
seg_expire(void)
{
    seg_thread_tick();
    unsigned n = seg_pool_expire();
    (void)seg_grow(UINT_MAX);
    return n;
}

void
seg_stats(struct seg_stats *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&seg_g.pool_lock);
    for (uint32_t i = 0; i < seg_g.nseg; i++) {
        struct segment *s = &seg_g.segs[i];
        if (s->state == SEG_FREE)
            continue;
        uint32_t live = atomic_load_explicit(&s->live_bytes, memory_order_relaxed);
        out->segs_used++;
        out->segs_draining += s->state == SEG_DRAINING;
        out->items += atomic_load_explicit(&s->live_items, memory_order_relaxed);
        out->live_bytes += live;
        out->dead_bytes += seg_write_off(s) - live;
    }
    pthread_mutex_unlock(&seg_g.pool_lock);
    out->segs_total = seg_g.nseg;
    out->seg_bytes = out->segs_used * seg_g.seg_size;
    out->index_bytes = seg_index_bytes();
    out->overflow_buckets = seg_index_overflow_used();
#define LOAD(f) out->f = atomic_load_explicit(&seg_g.f, memory_order_relaxed)
    LOAD(evicted_segs);
    LOAD(evicted_items);
    LOAD(merges);
    LOAD(merge_kept);
    LOAD(compactions);
    LOAD(compact_kept);
    LOAD(expired_segs);
    LOAD(expired_items);
    LOAD(touch_copies);
    LOAD(cas_seals);
    LOAD(steals);
#undef LOAD
}
