/*
 * seg_pool.c - the segment store prototype's segments: the free list, the
 * TTL buckets' chains, opening a bucket's next active segment, and taking
 * memory back by whole segments: expiry, FIFO eviction, merge eviction.
 * Everything here runs under the pool lock (seg_internal.h).
 *
 * Reclaiming a segment walks its items from offset 0 and, for each, drops
 * the index slot that still points at it (an item no slot points at is
 * dead already). Once no slot points into the segment no reader can pin
 * it again; if one still holds a pin, the segment waits in DRAINING and is
 * freed by the next sweep that finds it unpinned. Nothing here ever waits
 * for a reader.
 *
 * Merge (Segcache's merge-based eviction): the oldest up to merge_n idle
 * segments (sealed, no setter linking) of the TTL bucket whose oldest is the oldest of
 * all are copied into the spare segment, each source contributing at most
 * its share of the room left, by keeping its items of the highest access
 * frequency (a byte histogram of the frequencies picks the cut-off). Kept
 * items have their frequency halved. The result takes the sources' place
 * in the chain; the sources are freed, one becoming the spare. The next
 * merge of that bucket starts after the result, and goes back to the head
 * when it reaches the active segment: the merges sweep the chain like a
 * clock hand, so a merged segment is merged again only a lap later (always
 * starting at the head re-merged the result at once, halving its items'
 * frequencies merge after merge: a lower hit ratio than FIFO's).
 */
#include "config.h"

#include "store/seg/seg_internal.h"

static void
free_put(struct segment *s)
{
    s->state = SEG_FREE;
    atomic_store_explicit(&s->owner, 0, memory_order_relaxed);
    atomic_store_explicit(&s->write_off, 0, memory_order_relaxed);
    atomic_store_explicit(&s->live_items, 0, memory_order_relaxed);
    atomic_store_explicit(&s->live_bytes, 0, memory_order_relaxed);
    atomic_store_explicit(&s->exp_max, 0, memory_order_relaxed);
    s->prev = -1;
    if (seg_g.evict == SEG_EVICT_MERGE && seg_g.spare < 0) {
        seg_g.spare = (int32_t)s->id;
        return;
    }
    s->next = seg_g.free_head;
    seg_g.free_head = (int32_t)s->id;
    seg_g.nfree++;
}

static struct segment *
free_take(void)
{
    if (seg_g.nfree == 0)
        return NULL;
    struct segment *s = &seg_g.segs[seg_g.free_head];
    seg_g.free_head = s->next;
    seg_g.nfree--;
    s->next = s->prev = -1;
    return s;
}

int
seg_pool_setup(void)
{
    seg_g.free_head = -1;
    seg_g.spare = -1;
    for (uint32_t i = seg_g.nseg; i-- > 0;) {
        seg_g.segs[i].id = i;
        free_put(&seg_g.segs[i]);
    }
    return 0;
}

static void
chain_remove(struct segment *s)
{
    struct ttl_bucket *tb = &seg_g.ttl[s->ttl_bucket];
    if (s->prev >= 0)
        seg_g.segs[s->prev].next = s->next;
    else
        tb->head = s->next;
    if (s->next >= 0)
        seg_g.segs[s->next].prev = s->prev;
    else
        tb->tail = s->prev;
    s->prev = s->next = -1;
    tb->nseg--;
}

static void
chain_push_tail(unsigned b, struct segment *s)
{
    struct ttl_bucket *tb = &seg_g.ttl[b];
    s->ttl_bucket = (uint16_t)b;
    s->next = -1;
    s->prev = tb->tail;
    if (tb->tail >= 0)
        seg_g.segs[tb->tail].next = (int32_t)s->id;
    else
        tb->head = (int32_t)s->id;
    tb->tail = (int32_t)s->id;
    tb->nseg++;
}

/* Puts s into b's chain before segment `before` (-1: at the end). */
static void
chain_insert_before(unsigned b, struct segment *s, int32_t before)
{
    struct ttl_bucket *tb = &seg_g.ttl[b];
    if (before < 0) {
        chain_push_tail(b, s);
        return;
    }
    struct segment *n = &seg_g.segs[before];
    s->ttl_bucket = (uint16_t)b;
    s->next = before;
    s->prev = n->prev;
    if (n->prev >= 0)
        seg_g.segs[n->prev].next = (int32_t)s->id;
    else
        tb->head = (int32_t)s->id;
    n->prev = (int32_t)s->id;
    tb->nseg++;
}

/* May s be reclaimed or merged now? Sealed, and no setter between
 * append and link (acquire: the last one's item bytes are seen). Readers'
 * pins do not hold eviction back: the segment drains. */
static bool
seg_idle(const struct segment *s)
{
    /* seq_cst: against an owner that counts itself a writer and then
     * reads `owner` (seg_store.c's seg_reserve), after steal_one() cleared it */
    return s->state == SEG_SEALED && atomic_load_explicit(&s->writers, memory_order_seq_cst) == 0;
}

static void
sweep_draining(void)
{
    for (uint32_t i = 0; i < seg_g.nseg && seg_g.ndraining > 0; i++) {
        struct segment *s = &seg_g.segs[i];
        if (s->state == SEG_DRAINING && atomic_load_explicit(&s->refcount, memory_order_acquire) == 0) {
            seg_g.ndraining--;
            free_put(s);
        }
    }
}

/* The slot still pointing at the item at (s, off), locked; NULL (and
 * nothing locked) when the item is dead. */
static uint64_t *
slot_of(struct segment *s, uint32_t off, struct seg_bucket **hb_out)
{
    const struct seg_item *it = seg_item_at(s->id, off);
    uint64_t h = seg_hash(seg_item_key(it), seg_item_nkey(it));
    struct seg_bucket *hb = seg_index_lock(h);
    uint64_t *slot = seg_index_find_loc(hb, seg_hash_tag(h), s->id, off);
    if (slot == NULL) {
        seg_index_unlock(hb);
        return NULL;
    }
    *hb_out = hb;
    return slot;
}

/* Drops every live item of s, takes s out of its chain and frees it (or
 * leaves it DRAINING). Returns the live items dropped. */
static uint64_t
reclaim(struct segment *s, bool expired)
{
    uint64_t dropped = 0;
    uint32_t end = seg_write_off(s);
    /* acquire: pairs with seg_item_dead()'s release (seg_internal.h) */
    for (uint32_t off = 0; off < end && atomic_load_explicit(&s->live_items, memory_order_acquire) > 0;) {
        size_t size = seg_item_size_of(seg_item_at(s->id, off));
        struct seg_bucket *hb;
        uint64_t *slot = slot_of(s, off, &hb);
        if (slot != NULL) {
            if (seg_g.on_drop != NULL)
                seg_g.on_drop(seg_item_at(s->id, off), expired);
            *slot = 0;
            seg_item_dead(s, size);
            seg_index_unlock(hb);
            dropped++;
        }
        off += (uint32_t)size;
    }
    chain_remove(s);
    if (atomic_load_explicit(&s->refcount, memory_order_acquire) == 0) {
        free_put(s);
    } else {
        s->state = SEG_DRAINING;
        seg_g.ndraining++;
    }
    return dropped;
}

/* Reclaims every sealed idle segment whose items have all passed their
 * exptime (exp_max), or are all dead (overwritten, deleted, appended and
 * never linked): a look at every segment, once a second. */
static unsigned
expire_locked(uint32_t now)
{
    unsigned n = 0;
    for (uint32_t i = 0; i < seg_g.nseg; i++) {
        struct segment *s = &seg_g.segs[i];
        if (!seg_idle(s) ||
            (!seg_expired(s, now) && atomic_load_explicit(&s->live_items, memory_order_acquire) != 0))
            continue;
        SEG_STAT_INC(expired_items, reclaim(s, true));
        SEG_STAT_INC(expired_segs, 1);
        n++;
    }
    return n;
}

unsigned
seg_pool_expire(void)
{
    uint32_t now = seg_now();
    pthread_mutex_lock(&seg_g.pool_lock);
    unsigned n = expire_locked(now);
    sweep_draining();
    pthread_mutex_unlock(&seg_g.pool_lock);
    return n;
}

/* The first idle segment of b's chain, or NULL (the chain's segments are
 * passed over only while a setter is linking into them). */
static struct segment *
first_idle(unsigned b)
{
    for (int32_t i = seg_g.ttl[b].head; i >= 0; i = seg_g.segs[i].next) {
        if (seg_idle(&seg_g.segs[i]))
            return &seg_g.segs[i];
    }
    return NULL;
}

/* The oldest idle segment of all (FIFO order: opening sequence), and its
 * bucket. */
static struct segment *
oldest_idle(unsigned *bucket)
{
    struct segment *best = NULL;
    for (unsigned b = 0; b < SEG_TTL_BUCKETS; b++) {
        if (seg_g.ttl[b].head < 0)
            continue;
        struct segment *s = first_idle(b);
        if (s != NULL && (best == NULL || s->seq < best->seq)) {
            best = s;
            *bucket = b;
        }
    }
    return best;
}

/* Copies the items of src worth keeping into d: at most `room` bytes, the
 * most frequently read first (by a cut-off frequency). Returns the items
 * kept (the dropped ones are counted as evicted). */
static uint64_t
merge_one(struct segment *d, struct segment *src, uint32_t room)
{
    static _Thread_local uint64_t hist[256];
    memset(hist, 0, sizeof(hist));
    uint32_t end = seg_write_off(src);
    uint64_t total = 0;
    for (uint32_t off = 0; off < end;) {
        size_t size = seg_item_size_of(seg_item_at(src->id, off));
        struct seg_bucket *hb;
        uint64_t *slot = slot_of(src, off, &hb);
        if (slot != NULL) {
            hist[seg_slot_freq(*slot)] += size;
            total += size;
            seg_index_unlock(hb);
        }
        off += (uint32_t)size;
    }
    unsigned cut = 0; /* keep items of frequency >= cut */
    while (cut < 256 && total > room)
        total -= hist[cut++];

    uint64_t kept = 0, dropped = 0;
    for (uint32_t off = 0; off < end;) {
        const struct seg_item *it = seg_item_at(src->id, off);
        size_t size = seg_item_size_of(it);
        struct seg_bucket *hb;
        uint64_t *slot = slot_of(src, off, &hb);
        if (slot != NULL) {
            uint64_t v = *slot;
            uint32_t doff = seg_write_off(d);
            uint64_t hdr = seg_hdr_load(it);
            int64_t delta = 0;
            bool fits = (hdr & SEG_H_WIDE) || seg_delta_fits(d, seg_item_seq(it), &delta);
            if (seg_slot_freq(v) >= cut && doff + size <= seg_g.seg_size && fits) {
                /* under the item's bucket lock: its mutable words are still */
                char *p = (char *)seg_item_at(d->id, doff);
                memcpy(p, it, size);
                if (!(hdr & SEG_H_WIDE))
                    hdr = seg_hdr_with_delta(hdr, delta);
                atomic_store_explicit((_Atomic uint64_t *)(void *)p, hdr, memory_order_relaxed);
                atomic_store_explicit(&d->write_off, doff + (uint32_t)size, memory_order_relaxed);
                atomic_fetch_add_explicit(&d->live_items, 1, memory_order_relaxed);
                atomic_fetch_add_explicit(&d->live_bytes, (uint32_t)size, memory_order_relaxed);
                *slot = seg_slot_make(d->id, doff, seg_slot_tag(v), seg_slot_freq(v) / 2);
                kept++;
            } else {
                if (seg_g.on_drop != NULL)
                    seg_g.on_drop(it, false);
                *slot = 0;
                dropped++;
            }
            seg_item_dead(src, size);
            seg_index_unlock(hb);
        }
        off += (uint32_t)size;
    }
    SEG_STAT_INC(evicted_items, dropped);
    return kept;
}

/* Copies the n sources' items worth keeping into the spare, oldest source
 * first (merge_one(); with `share`, each source at most its share of the
 * room left, else all that fits), puts the result into bucket b's chain
 * before `after` (a segment that is not a source, or -1) with the first
 * source's age, and frees the sources. The spare must be there. Returns
 * the items kept. */
static uint64_t
combine(struct segment *const *src, unsigned n, unsigned b, int32_t after, bool share)
{
    struct segment *d = &seg_g.segs[seg_g.spare];
    seg_g.spare = -1;
    uint64_t base = src[0]->cas_base;
    uint32_t exp_max = 0;
    for (unsigned i = 0; i < n; i++) {
        base = src[i]->cas_base < base ? src[i]->cas_base : base;
        uint32_t e = atomic_load_explicit(&src[i]->exp_max, memory_order_relaxed);
        exp_max = e > exp_max ? e : exp_max;
    }
    d->state = SEG_SEALED;
    d->cas_base = base;
    d->create_at = src[0]->create_at;
    atomic_store_explicit(&d->exp_max, exp_max, memory_order_relaxed); /* every kept item's */
    d->seq = src[0]->seq;
    uint64_t kept = 0;
    for (unsigned i = 0; i < n; i++)
        kept += merge_one(d, src[i], (uint32_t)((seg_g.seg_size - seg_write_off(d)) / (share ? n - i : 1)));
    for (unsigned i = 0; i < n; i++)
        reclaim(src[i], false); /* all dead by now: unlinks and frees */
    if (atomic_load_explicit(&d->live_items, memory_order_acquire) > 0)
        chain_insert_before(b, d, after);
    else
        free_put(d); /* nothing was worth keeping (items never read) */
    return kept;
}

static bool
merge(void)
{
    if (seg_g.spare < 0)
        return false;
    unsigned b = 0;
    if (oldest_idle(&b) == NULL)
        return false;
    struct ttl_bucket *tb = &seg_g.ttl[b];
    struct segment *src[16];
    unsigned n = 0, max = seg_g.merge_n < 16 ? seg_g.merge_n : 16;
    int32_t start = tb->merge_next;
    if (start < 0 || seg_g.segs[start].state != SEG_SEALED || seg_g.segs[start].ttl_bucket != b)
        start = tb->head;
    for (int lap = 0; lap < 2 && n < 2; lap++) {
        n = 0;
        for (int32_t i = lap == 0 ? start : tb->head; i >= 0 && n < max && seg_idle(&seg_g.segs[i]);
             i = seg_g.segs[i].next)
            src[n++] = &seg_g.segs[i];
    }
    if (n < 2)
        return false;
    int32_t after = src[n - 1]->next;
    SEG_STAT_INC(merge_kept, combine(src, n, b, after, true));
    tb->merge_next = after;
    SEG_STAT_INC(merges, 1);
    SEG_STAT_INC(evicted_segs, n);
    return true;
}

/* The idle segment of the fewest live bytes, in bucket b (b < 0: any), other
 * than `not`; NULL if none. */
static struct segment *
least_live(int b, const struct segment *not)
{
    struct segment *best = NULL;
    uint32_t best_live = UINT32_MAX;
    for (uint32_t i = 0; i < seg_g.nseg; i++) {
        struct segment *s = &seg_g.segs[i];
        if (s == not || !seg_idle(s) || (b >= 0 && s->ttl_bucket != (unsigned)b))
            continue;
        uint32_t live = atomic_load_explicit(&s->live_bytes, memory_order_relaxed);
        if (live < best_live) {
            best = s;
            best_live = live;
        }
    }
    return best;
}

/* Compaction, before any eviction: the two idle segments of one TTL bucket
 * with the fewest live bytes, when those fit in one segment, are copied
 * into the spare and both freed. Overwritten and deleted items leave their
 * bytes in their segments until the segment goes; under a write-heavy
 * load they took the room of live items, and merges evicted those (10 s
 * of 50% sets over 400,000 keys at -m 64 left 290,942 of them resident,
 * where memcached keeps 349,503; with this, 353,694; with pairs that fit
 * in 3/4 of a segment only, 326,345). It costs copies: at worst a segment
 * copied for each one freed.
 * Every live item is kept: merge_one() keeps all when they fit its room,
 * halving their frequencies as a merge does (a CAS too far from the
 * result's base, which the 2^20 bound below makes rare, would drop one). */
static bool
compact(void)
{
    if (seg_g.spare < 0)
        return false;
    struct segment *a = least_live(-1, NULL);
    if (a == NULL)
        return false;
    struct segment *b = least_live(a->ttl_bucket, a);
    if (b == NULL)
        return false;
    uint64_t live = (uint64_t)atomic_load_explicit(&a->live_bytes, memory_order_relaxed) +
                    atomic_load_explicit(&b->live_bytes, memory_order_relaxed);
    uint64_t gap = a->cas_base > b->cas_base ? a->cas_base - b->cas_base : b->cas_base - a->cas_base;
    if (live > seg_g.seg_size || gap > (uint64_t)SEG_CAS_LINK_MARGIN)
        return false;
    if (b->seq < a->seq) {
        struct segment *t = a;
        a = b;
        b = t;
    }
    /* every live item fits: nothing is dropped (the result takes a's age) */
    int32_t after = a->next == (int32_t)b->id ? b->next : a->next;
    struct segment *src[2] = {a, b};
    SEG_STAT_INC(compact_kept, combine(src, 2, a->ttl_bucket, after, false));
    SEG_STAT_INC(compactions, 1);
    return true;
}

/* Frees at least one segment, or moves one to DRAINING. False when there
 * is nothing to evict (or eviction is off). */
static bool
evict_one(void)
{
    if (seg_g.evict == SEG_EVICT_NONE)
        return false;
    if (seg_g.evict == SEG_EVICT_MERGE && (compact() || merge()))
        return true;
    unsigned b;
    struct segment *s = oldest_idle(&b);
    if (s == NULL)
        return false;
    SEG_STAT_INC(evicted_items, reclaim(s, false));
    SEG_STAT_INC(evicted_segs, 1);
    return true;
}

/* Seals *active if it is still the caller's. Pool lock held. */
static void
seal_own_locked(int32_t *active, uint64_t token)
{
    if (*active < 0)
        return;
    struct segment *s = &seg_g.segs[*active];
    if (s->state == SEG_ACTIVE && atomic_load_explicit(&s->owner, memory_order_relaxed) == token) {
        s->state = SEG_SEALED;
        atomic_store_explicit(&s->owner, 0, memory_order_seq_cst);
    }
    *active = -1;
}

void
seg_pool_seal(int32_t *active, uint64_t token)
{
    if (*active < 0)
        return;
    pthread_mutex_lock(&seg_g.pool_lock);
    seal_own_locked(active, token);
    pthread_mutex_unlock(&seg_g.pool_lock);
}

/* Nothing can be evicted: seals another thread's active segment (the
 * fullest), so that it can be. Its owner finds out at its next append
 * (the owner token is gone) and opens another; an item it is writing
 * keeps the segment's writer count up until linked. False when there is
 * none. Pool lock held. */
static bool
steal_one(uint64_t token)
{
    struct segment *best = NULL;
    for (uint32_t i = 0; i < seg_g.nseg; i++) {
        struct segment *s = &seg_g.segs[i];
        if (s->state != SEG_ACTIVE || atomic_load_explicit(&s->owner, memory_order_relaxed) == token)
            continue;
        if (best == NULL || seg_write_off(s) > seg_write_off(best))
            best = s;
    }
    if (best == NULL)
        return false;
    best->state = SEG_SEALED;
    atomic_store_explicit(&best->owner, 0, memory_order_seq_cst);
    SEG_STAT_INC(steals, 1);
    return true;
}

struct segment *
seg_pool_open(unsigned b, int32_t *active, uint64_t token)
{
    struct ttl_bucket *tb = &seg_g.ttl[b];
    pthread_mutex_lock(&seg_g.pool_lock);
    seal_own_locked(active, token);
    uint32_t now = seg_now();
    bool expired_tried = false;
    while (seg_g.nfree == 0) {
        if (seg_g.ndraining > 0)
            sweep_draining();
        if (seg_g.nfree > 0)
            break;
        if (!expired_tried) {
            expired_tried = true;
            if (expire_locked(now) > 0)
                continue;
        }
        if (evict_one())
            continue;
        if (!steal_one(token))
            break;
        expired_tried = false; /* the stolen segment may be all dead or expired */
    }
    struct segment *s = free_take();
    if (s != NULL) {
        s->state = SEG_ACTIVE;
        atomic_store_explicit(&s->owner, token, memory_order_seq_cst);
        s->create_at = now;
        atomic_store_explicit(&s->exp_max, tb->ttl != 0 ? 0 : SEG_EXP_NEVER, memory_order_relaxed);
        s->cas_base = seg_g.cas_now();
        s->seq = seg_g.next_seq++;
        chain_push_tail(b, s);
        *active = (int32_t)s->id;
    }
    pthread_mutex_unlock(&seg_g.pool_lock);
    return s;
}
