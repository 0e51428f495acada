/* test_seg.c - the segment store prototype (store/seg/): item layout, TTL
 * buckets, index, get/set/delete/touch, CAS, wraparound, eviction (FIFO and
 * merge), pinned segments, TTL-bucket expiry. */
#include "config.h"

#include "store/seg/seg_index.h"
#include "store/seg/seg_internal.h"
#include "store/seg/seg_store.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define SEG 4096u

static void
start(size_t nseg, enum seg_evict ev, unsigned hashpower)
{
    struct seg_options o = {.mem_limit = nseg * SEG, .seg_size = SEG, .hashpower = hashpower, .evict = ev};
    cr_assert_eq(seg_setup(&o), 0);
    seg_clock_set(100);
}

static void
fini(void)
{
    seg_teardown();
}

static void
init_fifo(void)
{
    start(8, SEG_EVICT_FIFO, 8);
}

static enum seg_status
put(const char *key, const char *val, uint32_t ttl)
{
    return seg_set(key, strlen(key), 0, ttl, val, strlen(val), 0, NULL);
}

/* Value of key as a string in a static buffer, NULL when missing. */
static const char *
get(const char *key)
{
    static char buf[1024];
    const struct seg_item *it = seg_get(key, strlen(key));
    if (it == NULL)
        return NULL;
    cr_assert_lt(seg_item_nbytes(it), sizeof(buf));
    memcpy(buf, seg_item_data(it), seg_item_nbytes(it));
    buf[seg_item_nbytes(it)] = '\0';
    seg_item_release(it);
    return buf;
}

static struct seg_stats
stats(void)
{
    struct seg_stats s;
    seg_stats(&s);
    return s;
}

Test(seg_layout, item_sizes_and_header)
{
    cr_expect_eq(seg_item_size(16, 100, false), 128); /* 12 + 16 + 100 = 128 */
    cr_expect_eq(seg_item_size(16, 100, true), 136);  /* + 4 of flags, aligned */
    cr_expect_eq(seg_item_size_x(SEG_H_EXP, 16, 100), 136);             /* + 4 of exptime */
    cr_expect_eq(seg_item_size_x(SEG_H_EXP | SEG_H_FLAGS, 16, 100), 136); /* + 8 */
    cr_expect_eq(seg_item_size_x(SEG_H_WIDE, 16, 100), 144);            /* + 16 of wide CAS */
    cr_expect_eq(seg_item_size(16, 104, true), 136);
    cr_expect_eq(seg_item_size(1, 0, false), 16);
    uint64_t h = seg_hdr_make(250, SEG_NBYTES_MAX, true, -12345);
    cr_expect_eq(seg_hdr_nkey(h), 250);
    cr_expect_eq(seg_hdr_nbytes(h), SEG_NBYTES_MAX);
    cr_expect(seg_hdr_has_flags(h));
    cr_expect_eq(seg_hdr_cas_delta(h), -12345);
    h = seg_hdr_make(1, 0, false, SEG_CAS_DELTA_MAX);
    cr_expect_eq(seg_hdr_cas_delta(h), SEG_CAS_DELTA_MAX);
    cr_expect_not(seg_hdr_has_flags(h));
    cr_expect_eq(seg_hdr_cas_delta(seg_hdr_make(1, 0, false, SEG_CAS_DELTA_MIN)), SEG_CAS_DELTA_MIN);
    /* the mutable bits leave the lengths and the delta alone */
    h = seg_hdr_make(250, SEG_NBYTES_MAX, true, SEG_CAS_DELTA_MIN) | SEG_H_MUTABLE;
    cr_expect_eq(seg_hdr_nkey(h), 250);
    cr_expect_eq(seg_hdr_nbytes(h), SEG_NBYTES_MAX);
    cr_expect_eq(seg_hdr_cas_delta(h), SEG_CAS_DELTA_MIN);
    cr_expect_eq(seg_hdr_cas_delta(seg_hdr_with_delta(h, 77)), 77);
    cr_expect_eq(seg_hdr_with_delta(h, 77) & SEG_H_MUTABLE, SEG_H_MUTABLE);
}

/* Every field of layout v2 written and read back, with and without the
 * optional words. */
Test(seg_layout, item_write_and_read)
{
    _Alignas(8) char buf[512];
    for (int mask = 0; mask < 8; mask++) {
        uint32_t flags = (mask & 1) ? 0xdeadbeef : 0, exp = (mask & 2) ? 12345 : 0;
        bool wide = (mask & 4) != 0;
        memset(buf, 0x55, sizeof(buf));
        char *v = seg_item_write(buf, "thekey", 6, 5, flags, exp, wide, UINT64_C(0x1122334455667788), 99,
                                 SEG_H_KEYBIN, wide ? 0 : -5, 777);
        memcpy(v, "value", 5);
        const struct seg_item *it = (const struct seg_item *)buf;
        cr_expect_eq(seg_item_nkey(it), 6);
        cr_expect_eq(seg_item_nbytes(it), 5);
        cr_expect_eq(memcmp(seg_item_key(it), "thekey", 6), 0);
        cr_expect_eq(memcmp(seg_item_data(it), "value", 5), 0);
        cr_expect_eq(seg_item_flags(it), flags);
        cr_expect_eq(seg_item_exptime(it), exp);
        cr_expect_eq(seg_item_atime(it), 777);
        cr_expect_eq(seg_hdr_load(it) & SEG_H_MUTABLE, SEG_H_KEYBIN);
        if (wide) {
            cr_expect_eq(seg_item_wide_cas(it), UINT64_C(0x1122334455667788));
            cr_expect_eq(seg_item_wide_gen(it), 99);
        } else {
            cr_expect_eq(seg_hdr_cas_delta(seg_hdr_load(it)), -5);
        }
        cr_expect_eq(seg_item_size_of(it), seg_item_size_x(seg_hdr_load(it), 6, 5));
        seg_hdr_set_bits(it, SEG_H_FETCHED | SEG_H_STALE);
        seg_hdr_clear_bits(it, SEG_H_KEYBIN);
        seg_item_set_atime(it, 778);
        cr_expect_eq(seg_hdr_load(it) & SEG_H_MUTABLE, SEG_H_FETCHED | SEG_H_STALE);
        cr_expect_eq(seg_item_atime(it), 778);
        cr_expect_eq(seg_item_nbytes(it), 5);
        cr_expect_eq(seg_item_flags(it), flags);
    }
}

Test(seg_layout, slot_fields)
{
    uint64_t s = seg_slot_make(SEG_COUNT_MAX - 1, SEG_SIZE_MAX - 8, 0xfff, 200);
    cr_expect_eq(seg_slot_seg(s), SEG_COUNT_MAX - 1);
    cr_expect_eq(seg_slot_off(s), SEG_SIZE_MAX - 8);
    cr_expect_eq(seg_slot_tag(s), 0xfff);
    cr_expect_eq(seg_slot_freq(s), 200);
    s = seg_slot_with_freq(s, 3);
    cr_expect_eq(seg_slot_freq(s), 3);
    cr_expect_eq(seg_slot_seg(s), SEG_COUNT_MAX - 1);
    cr_expect_eq(sizeof(struct seg_bucket), 64);
    cr_expect_neq(seg_hash_tag(0), 0);
}

Test(seg_layout, ttl_buckets)
{
    cr_expect_eq(seg_ttl_bucket_of(0), 0);
    cr_expect_eq(seg_ttl_bucket_ttl(0), 0);
    /* every TTL falls in a bucket whose lower bound is <= it, and within
     * its width; buckets are in TTL order */
    unsigned prev = 0;
    for (uint32_t ttl = 1; ttl < 20000000; ttl += 1 + ttl / 64) {
        unsigned b = seg_ttl_bucket_of(ttl);
        cr_assert_lt(b, SEG_TTL_BUCKETS);
        cr_assert_geq(b, prev);
        prev = b;
        if (b < SEG_TTL_BUCKETS - 1) {
            cr_assert_leq(seg_ttl_bucket_ttl(b), ttl, "ttl %u bucket %u", ttl, b);
            cr_assert_lt(ttl - seg_ttl_bucket_ttl(b), seg_ttl_bucket_width(b));
        }
    }
    cr_expect_eq(seg_ttl_bucket_of(1), 1);
    cr_expect_eq(seg_ttl_bucket_ttl(1), 1);
    cr_expect_eq(seg_ttl_bucket_of(255), 255);
    cr_expect_eq(seg_ttl_bucket_ttl(256), 256);
    cr_expect_eq(seg_ttl_bucket_width(256), 16);
    /* beyond the first range a bucket is at most 1/16 of its TTL wide */
    for (unsigned b = 256; b < SEG_TTL_BUCKETS; b++)
        cr_assert_leq(seg_ttl_bucket_width(b) * 16, seg_ttl_bucket_ttl(b));
}

TestSuite(seg, .init = init_fifo, .fini = fini);

Test(seg, set_get_overwrite_delete)
{
    cr_expect_null(get("k"));
    cr_expect_eq(put("k", "one", 0), SEG_OK);
    cr_expect_str_eq(get("k"), "one");
    cr_expect_eq(put("k", "two!", 0), SEG_OK);
    cr_expect_str_eq(get("k"), "two!");
    struct seg_stats s = stats();
    cr_expect_eq(s.items, 1);
    cr_expect_eq(s.live_bytes, seg_item_size(1, 4, false));
    cr_expect_eq(s.dead_bytes, seg_item_size(1, 3, false)); /* the overwritten one */
    cr_expect_eq(seg_delete("k", 1), SEG_OK);
    cr_expect_null(get("k"));
    cr_expect_eq(seg_delete("k", 1), SEG_NOT_FOUND);
    s = stats();
    cr_expect_eq(s.items, 0);
    cr_expect_eq(s.dead_bytes, seg_item_size(1, 3, false) + seg_item_size(1, 4, false));
    cr_expect_eq(put("k", "three", 0), SEG_OK);
    cr_expect_str_eq(get("k"), "three");
}

Test(seg, flags_stored_only_when_nonzero)
{
    cr_expect_eq(seg_set("a", 1, 0, 0, "x", 1, 0, NULL), SEG_OK);
    cr_expect_eq(seg_set("b", 1, 0xdeadbeef, 0, "y", 1, 0, NULL), SEG_OK);
    const struct seg_item *a = seg_get("a", 1), *b = seg_get("b", 1);
    cr_assert(a != NULL && b != NULL);
    cr_expect_eq(seg_item_flags(a), 0);
    cr_expect_eq(seg_item_flags(b), 0xdeadbeef);
    cr_expect_eq(seg_item_nkey(b), 1);
    cr_expect_eq(memcmp(seg_item_key(b), "b", 1), 0);
    cr_expect_eq(*seg_item_data(b), 'y');
    /* b's item is 8 + 4 + 1 + 1 = 14 -> 16, right after a's 16 */
    cr_expect_eq((const char *)b - (const char *)a, 16);
    seg_item_release(a);
    seg_item_release(b);
}

Test(seg, bad_sizes)
{
    char big[SEG];
    memset(big, 'v', sizeof(big));
    cr_expect_eq(seg_set("k", 1, 0, 0, big, SEG - 8, 0, NULL), SEG_TOO_LARGE);
    cr_expect_eq(seg_set("k", 1, 0, 0, big, SEG - 16, 0, NULL), SEG_OK); /* 8 + 1 + 4080 = 4089 -> 4096: exactly a segment */
    cr_expect_eq(seg_set("", 0, 0, 0, "x", 1, 0, NULL), SEG_TOO_LARGE);
    char key[251];
    memset(key, 'k', sizeof(key));
    cr_expect_eq(seg_set(key, 251, 0, 0, "x", 1, 0, NULL), SEG_TOO_LARGE);
    cr_expect_eq(seg_set(key, 250, 0, 0, "x", 1, 0, NULL), SEG_OK);
}

Test(seg, cas_unique_increasing_and_checked)
{
    uint64_t c1, c2, c3;
    cr_assert_eq(seg_set("a", 1, 0, 0, "1", 1, 0, &c1), SEG_OK);
    cr_assert_eq(seg_set("b", 1, 0, 0, "1", 1, 0, &c2), SEG_OK);
    cr_assert_eq(seg_set("a", 1, 0, 0, "2", 1, 0, &c3), SEG_OK);
    cr_expect(c1 < c2 && c2 < c3);
    const struct seg_item *it = seg_get("a", 1);
    cr_assert_not_null(it);
    cr_expect_eq(seg_item_cas(it), c3);
    seg_item_release(it);
    cr_expect_eq(seg_set("a", 1, 0, 0, "3", 1, c1, NULL), SEG_EXISTS);
    cr_expect_str_eq(get("a"), "2");
    cr_expect_eq(seg_set("zz", 2, 0, 0, "3", 1, c1, NULL), SEG_NOT_FOUND);
    cr_expect_null(get("zz"));
    uint64_t c4;
    cr_expect_eq(seg_set("a", 1, 0, 0, "3", 1, c3, &c4), SEG_OK);
    cr_expect_gt(c4, c3);
    cr_expect_str_eq(get("a"), "3");
    /* the failed ones were appended, never linked: dead bytes */
    cr_expect_eq(stats().items, 2);
}

Test(seg, cas_delta_out_of_range_seals_the_segment)
{
    uint64_t c1, c2;
    cr_assert_eq(put("a", "1", 0), SEG_OK);
    cr_assert_eq(seg_set("b", 1, 0, 0, "1", 1, 0, &c1), SEG_OK);
    /* as if 2^31 sets had gone to other TTL buckets meanwhile */
    seg_cas_set_next(c1 + ((uint64_t)1 << 31));
    cr_assert_eq(seg_set("c", 1, 0, 0, "1", 1, 0, &c2), SEG_OK);
    cr_expect_eq(c2, c1 + ((uint64_t)1 << 31));
    struct seg_stats s = stats();
    cr_expect_eq(s.cas_seals, 1);
    cr_expect_eq(s.segs_used, 2);
    const struct seg_item *it = seg_get("c", 1);
    cr_assert_not_null(it);
    cr_expect_eq(seg_item_cas(it), c2);
    seg_item_release(it);
    it = seg_get("b", 1);
    cr_assert_not_null(it);
    cr_expect_eq(seg_item_cas(it), c1);
    seg_item_release(it);
}

/* Many keys in one index bucket: the chain of overflow buckets. */
Test(seg_index_chain, overflow_chain, .fini = fini)
{
    start(8, SEG_EVICT_NONE, 0); /* one head bucket */
    char k[16];
    for (int i = 0; i < 50; i++) {
        snprintf(k, sizeof(k), "key%d", i);
        cr_assert_eq(put(k, k, 0), SEG_OK);
    }
    cr_expect_eq(stats().overflow_buckets, 7); /* 50 items: 7 + 7 x 7 slots */
    for (int i = 0; i < 50; i++) {
        snprintf(k, sizeof(k), "key%d", i);
        cr_assert_str_eq(get(k), k);
    }
    for (int i = 0; i < 50; i += 2) {
        snprintf(k, sizeof(k), "key%d", i);
        cr_assert_eq(seg_delete(k, strlen(k)), SEG_OK);
    }
    for (int i = 0; i < 50; i++) {
        snprintf(k, sizeof(k), "key%d", i);
        if (i % 2 == 0)
            cr_assert_null(get(k));
        else
            cr_assert_str_eq(get(k), k);
    }
    /* emptied slots are reused before the chain grows */
    for (int i = 0; i < 50; i += 2) {
        snprintf(k, sizeof(k), "new%d", i);
        cr_assert_eq(put(k, k, 0), SEG_OK);
    }
    cr_expect_eq(stats().overflow_buckets, 7);
}

/* Out of segments with eviction off: SEG_NO_MEMORY, and what is stored stays. */
Test(seg_index_chain, no_eviction_out_of_memory, .fini = fini)
{
    start(2, SEG_EVICT_NONE, 4);
    char k[16], v[500];
    memset(v, 'v', sizeof(v) - 1);
    v[sizeof(v) - 1] = '\0';
    int stored = 0;
    for (int i = 0; i < 40; i++) {
        snprintf(k, sizeof(k), "k%d", i);
        if (put(k, v, 0) == SEG_OK)
            stored++;
        else
            break;
    }
    cr_expect_eq(stored, 2 * (SEG / 520)); /* 12 + 3 + 499 = 514 -> 520 */
    cr_expect_eq(put("more", v, 0), SEG_NO_MEMORY);
    cr_expect_str_eq(get("k0"), v);
}

/* Writes 500 items of ~500 bytes through 8 segments of 4 KB: the pool
 * wraps around many times; the newest items are all there, and whatever
 * is found holds its own value. */
Test(seg, wraparound_fifo)
{
    char k[16], v[480];
    for (int i = 0; i < 500; i++) {
        snprintf(k, sizeof(k), "k%d", i);
        memset(v, 'a' + i % 26, sizeof(v) - 1);
        snprintf(v, 16, "%d:", i);
        v[strlen(v)] = '-';
        v[sizeof(v) - 1] = '\0';
        cr_assert_eq(put(k, v, 0), SEG_OK, "set %d", i);
    }
    struct seg_stats s = stats();
    cr_expect_eq(s.segs_used, 8);
    cr_expect_gt(s.evicted_segs, 50);
    int found = 0;
    for (int i = 0; i < 500; i++) {
        snprintf(k, sizeof(k), "k%d", i);
        const char *got = get(k);
        if (got == NULL) {
            cr_assert_lt(i, 500 - 7 * 8, "recent k%d gone", i); /* 8 items a segment, 7 full ones kept */
            continue;
        }
        found++;
        char want[16];
        snprintf(want, sizeof(want), "%d:-", i);
        cr_assert_eq(strncmp(got, want, strlen(want)), 0, "k%d holds %.16s", i, got);
    }
    cr_expect_eq((uint64_t)found, stats().items);
    cr_expect_geq(found, 7 * 8);
}

/* FIFO evicts the oldest segment whatever was read in it; merge keeps the
 * items read often. */
static int
hot_survivors(enum seg_evict ev)
{
    start(16, ev, 8);
    char k[16], v[100];
    memset(v, 'v', sizeof(v) - 1);
    v[sizeof(v) - 1] = '\0';
    /* 8 hot keys first (in the oldest segment), read 20 times each */
    for (int i = 0; i < 8; i++) {
        snprintf(k, sizeof(k), "hot%d", i);
        cr_assert_eq(put(k, v, 0), SEG_OK);
    }
    for (int r = 0; r < 20; r++) {
        for (int i = 0; i < 8; i++) {
            snprintf(k, sizeof(k), "hot%d", i);
            cr_assert_not_null(get(k));
        }
    }
    /* then enough cold keys to fill the memory twice over */
    for (int i = 0; i < 1000; i++) {
        snprintf(k, sizeof(k), "cold%d", i);
        cr_assert_eq(put(k, v, 0), SEG_OK);
    }
    int n = 0;
    for (int i = 0; i < 8; i++) {
        snprintf(k, sizeof(k), "hot%d", i);
        n += get(k) != NULL;
    }
    struct seg_stats s = stats();
    cr_expect_gt(s.evicted_segs, 0);
    if (ev == SEG_EVICT_MERGE) {
        cr_expect_gt(s.merges, 0);
        cr_expect_gt(s.merge_kept, 0);
    }
    seg_teardown();
    return n;
}

Test(seg_evict, fifo_forgets_hot_items)
{
    cr_expect_eq(hot_survivors(SEG_EVICT_FIFO), 0);
}

Test(seg_evict, merge_keeps_hot_items)
{
    cr_expect_eq(hot_survivors(SEG_EVICT_MERGE), 8);
}

/* Overwrites leave their old copies' bytes behind. 300 keys take about 9
 * of 16 segments; rounds overwriting a third of them at random fill the
 * pool with dead copies, and a segment is needed every ~34 sets. Two
 * mostly dead segments are compacted into one before anything is
 * evicted: every key stays, with its latest value. (Merge alone evicted
 * live keys here: 26 of 300 gone by the fourth round.) */
Test(seg_evict, overwrites_compact_instead_of_evicting, .fini = fini)
{
    start(16, SEG_EVICT_MERGE, 8);
    enum { N = 300 };
    static int version[N];
    char k[16], v[100];
    uint64_t rng = 42;
    for (int round = 0; round < 40; round++) {
        for (int i = 0; i < N; i++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            if (round > 0 && (rng >> 33) % 3 != 0)
                continue;
            version[i]++;
            snprintf(k, sizeof(k), "k%d", i);
            snprintf(v, sizeof(v), "%d.%d:%080d", i, version[i], 0);
            cr_assert_eq(put(k, v, 0), SEG_OK, "round %d: set k%d", round, i);
        }
        int lost = 0;
        for (int i = 0; i < N; i++) {
            snprintf(k, sizeof(k), "k%d", i);
            snprintf(v, sizeof(v), "%d.%d:%080d", i, version[i], 0);
            const char *got = get(k);
            if (got == NULL)
                lost++;
            else
                cr_assert_str_eq(got, v, "round %d: k%d", round, i);
        }
        cr_assert_eq(lost, 0, "round %d: %d of %d keys evicted", round, lost, N);
    }
    struct seg_stats st = stats();
    cr_expect_gt(st.compactions, 10);
    cr_expect_gt(st.compact_kept, 0);
    cr_expect_eq(st.evicted_items, 0);
}

/* Under pressure with merge: every item found holds its own latest
 * value, the used segments never exceed the pool, and dead items go. */
Test(seg_evict, merge_under_pressure_stays_consistent, .fini = fini)
{
    start(8, SEG_EVICT_MERGE, 6);
    char k[16], v[200];
    for (int i = 0; i < 3000; i++) {
        int key = (i * 7919) % 400;
        snprintf(k, sizeof(k), "k%d", key);
        int n = snprintf(v, sizeof(v), "%d/%d/", key, i);
        memset(v + n, 'x', (size_t)(i % 150));
        v[n + i % 150] = '\0';
        cr_assert_eq(put(k, v, 0), SEG_OK, "set %d", i);
        if (i % 3 == 0) {
            snprintf(k, sizeof(k), "k%d", (i * 31) % 400);
            (void)get(k);
        }
    }
    /* the latest value of each key is the one written last */
    int last[400];
    for (int i = 0; i < 3000; i++)
        last[(i * 7919) % 400] = i;
    int found = 0;
    for (int key = 0; key < 400; key++) {
        snprintf(k, sizeof(k), "k%d", key);
        const char *got = get(k);
        if (got == NULL)
            continue;
        found++;
        char want[32];
        snprintf(want, sizeof(want), "%d/%d/", key, last[key]);
        cr_assert_eq(strncmp(got, want, strlen(want)), 0, "k%d holds %s, want %s", key, got, want);
    }
    struct seg_stats s = stats();
    cr_expect_eq((uint64_t)found, s.items);
    cr_expect_leq(s.segs_used, 8);
    cr_expect_gt(s.merges, 0);
    cr_expect_gt(found, 40);
}

/* A reader's pin outlives the eviction of its segment: the bytes stay
 * until the release, and the segment is reused after. */
Test(seg_evict, pinned_segment_drains, .fini = fini)
{
    start(4, SEG_EVICT_FIFO, 6);
    char k[16], v[1000];
    memset(v, 'p', sizeof(v) - 1);
    v[sizeof(v) - 1] = '\0';
    cr_assert_eq(put("pinned", v, 0), SEG_OK);
    const struct seg_item *it = seg_get("pinned", 6);
    cr_assert_not_null(it);
    memset(v, 'q', sizeof(v) - 1);
    for (int i = 0; i < 40; i++) {
        snprintf(k, sizeof(k), "k%d", i);
        cr_assert_eq(put(k, v, 0), SEG_OK);
    }
    cr_expect_null(get("pinned")); /* evicted from the index */
    struct seg_stats s = stats();
    cr_expect_eq(s.segs_draining, 1);
    /* the pinned bytes are intact */
    cr_expect_eq(seg_item_nbytes(it), 999);
    for (unsigned i = 0; i < 999; i++)
        cr_assert_eq(seg_item_data(it)[i], 'p');
    seg_item_release(it);
    for (int i = 40; i < 60; i++) {
        snprintf(k, sizeof(k), "k%d", i);
        cr_assert_eq(put(k, v, 0), SEG_OK);
    }
    cr_expect_eq(stats().segs_draining, 0);
}

/* Items of one TTL share segments that expire whole; no-TTL items stay. */
Test(seg, ttl_bucket_expiry)
{
    char k[16];
    for (int i = 0; i < 20; i++) {
        snprintf(k, sizeof(k), "t%d", i);
        cr_assert_eq(put(k, "short", 10), SEG_OK);
        snprintf(k, sizeof(k), "n%d", i);
        cr_assert_eq(put(k, "never", 0), SEG_OK);
        snprintf(k, sizeof(k), "l%d", i);
        cr_assert_eq(put(k, "long", 1000), SEG_OK);
    }
    cr_expect_eq(stats().segs_used, 3); /* one segment per TTL bucket */
    seg_clock_set(109);
    cr_expect_str_eq(get("t0"), "short");
    cr_expect_eq(seg_expire(), 0);
    seg_clock_set(110);
    cr_expect_null(get("t0")); /* a look-up sees the segment expired */
    cr_expect_str_eq(get("n0"), "never");
    cr_expect_str_eq(get("l0"), "long");
    cr_expect_eq(seg_expire(), 1);
    struct seg_stats s = stats();
    cr_expect_eq(s.expired_segs, 1);
    cr_expect_eq(s.expired_items, 19); /* t0 went at its look-up */
    cr_expect_eq(s.items, 40);
    cr_expect_eq(s.segs_used, 2);
    for (int i = 0; i < 20; i++) {
        snprintf(k, sizeof(k), "t%d", i);
        cr_assert_null(get(k));
    }
    seg_clock_set(100 + 1000);
    cr_expect_eq(seg_expire(), 1);
    cr_expect_eq(stats().items, 20);
}

/* Layout v2: an item expires at its own exptime, never early (v1 expired
 * whole segments at their opening time + the bucket's lower bound: a and
 * b went 8 and 44 s early), and its segment goes once all its items have
 * passed theirs. */
Test(seg, expiry_exact)
{
    cr_assert_eq(put("a", "1", 600), SEG_OK); /* exptime 700; bucket of TTL 512, max age 32 */
    seg_clock_set(130);
    cr_assert_eq(put("b", "1", 600), SEG_OK); /* same segment: exptime 730 */
    seg_clock_set(132);
    cr_assert_eq(put("c", "1", 600), SEG_OK); /* a new segment: 732 */
    cr_expect_eq(stats().segs_used, 2);
    seg_clock_set(699);
    cr_expect_not_null(get("a"));
    cr_expect_eq(seg_expire(), 0);
    seg_clock_set(700);
    cr_expect_null(get("a"));
    cr_expect_not_null(get("b"));
    cr_expect_eq(seg_expire(), 0); /* b is still live in it */
    seg_clock_set(729);
    cr_expect_not_null(get("b"));
    seg_clock_set(730);
    cr_expect_null(get("b"));
    cr_expect_not_null(get("c"));
    cr_expect_eq(seg_expire(), 1);
    seg_clock_set(732);
    cr_expect_null(get("c"));
    cr_expect_eq(seg_expire(), 1);
    cr_expect_eq(stats().segs_used, 0);
}

/* touch in place: the exptime word is there and the segment expires no
 * earlier than the new time: no copy. */
Test(seg, touch_in_place_within_the_segment)
{
    cr_assert_eq(put("a", "1", 600), SEG_OK); /* 700 */
    cr_assert_eq(put("b", "1", 600), SEG_OK);
    cr_expect_eq(seg_touch("a", 1, 300), SEG_OK); /* 400 <= 700 */
    cr_expect_eq(stats().touch_copies, 0);
    seg_clock_set(399);
    cr_expect_not_null(get("a"));
    seg_clock_set(400);
    cr_expect_null(get("a"));
    cr_expect_eq(seg_touch("b", 1, 1000), SEG_OK); /* beyond: a copy */
    cr_expect_eq(stats().touch_copies, 1);
    seg_clock_set(1399);
    cr_expect_eq(seg_expire(), 1); /* a and b's first copy */
    cr_expect_not_null(get("b"));
    seg_clock_set(1400);
    cr_expect_null(get("b"));
}

/* touch copies the item into a segment of its new TTL bucket, CAS kept. */
Test(seg, touch_copies_into_the_new_bucket)
{
    uint64_t cas;
    cr_assert_eq(seg_set("k", 1, 7, 10, "val", 3, 0, &cas), SEG_OK);
    cr_assert_eq(put("other", "x", 10), SEG_OK);
    cr_expect_eq(seg_touch("k", 1, 0), SEG_OK);
    cr_expect_eq(seg_touch("nope", 4, 0), SEG_NOT_FOUND);
    struct seg_stats s = stats();
    cr_expect_eq(s.touch_copies, 1);
    cr_expect_eq(s.items, 2);
    cr_expect_eq(s.segs_used, 2);
    seg_clock_set(200);
    cr_expect_eq(seg_expire(), 1);
    cr_expect_null(get("other"));
    const struct seg_item *it = seg_get("k", 1);
    cr_assert_not_null(it);
    cr_expect_eq(seg_item_cas(it), cas);
    cr_expect_eq(seg_item_flags(it), 7);
    cr_expect_eq(seg_item_nbytes(it), 3);
    cr_expect_eq(memcmp(seg_item_data(it), "val", 3), 0);
    seg_item_release(it);
    /* and back to a short TTL */
    cr_expect_eq(seg_touch("k", 1, 5), SEG_OK);
    seg_clock_set(205);
    cr_expect_null(get("k"));
}

/* The CAS is drawn at the link: a set that fails draws none (memcached's
 * values run on across failed cas commands), and the values one client
 * sees are consecutive. */
Test(seg, failed_set_draws_no_cas)
{
    uint64_t c1, c2, c3;
    cr_assert_eq(seg_set("a", 1, 0, 0, "1", 1, 0, &c1), SEG_OK);
    cr_expect_eq(seg_set("a", 1, 0, 0, "2", 1, c1 + 100, NULL), SEG_EXISTS);
    cr_expect_eq(seg_set("b", 1, 0, 0, "2", 1, 7, NULL), SEG_NOT_FOUND);
    cr_assert_eq(seg_set("b", 1, 0, 0, "3", 1, 0, &c2), SEG_OK);
    cr_expect_eq(c2, c1 + 1);
    cr_assert_eq(seg_set("a", 1, 0, 0, "4", 1, c1, &c3), SEG_OK);
    cr_expect_eq(c3, c2 + 1);
}

/* A touch whose copy needs a segment can set off a merge that moves the
 * item being touched: the touch still applies (found again by key and
 * CAS, not by its old place). */
Test(seg_evict, touch_survives_a_merge_of_its_item, .fini = fini)
{
    start(8, SEG_EVICT_MERGE, 8);
    char k[16], v[100];
    memset(v, 'v', sizeof(v) - 1);
    v[sizeof(v) - 1] = '\0';
    cr_assert_eq(put("hot", v, 0), SEG_OK);
    for (int r = 0; r < 20; r++)
        cr_assert_not_null(get("hot"));
    for (int i = 0; stats().segs_used < 7; i++) { /* 7 + the spare: no segment free */
        snprintf(k, sizeof(k), "cold%d", i);
        cr_assert_eq(put(k, v, 0), SEG_OK);
    }
    cr_assert_eq(stats().merges, 0);
    cr_expect_eq(seg_touch("hot", 3, 5), SEG_OK);
    cr_expect_eq(stats().merges, 1); /* the copy's segment came from a merge */
    cr_expect_not_null(get("hot"));
    seg_clock_set(105);
    cr_expect_null(get("hot")); /* the new TTL holds */
}

/* Each thread appends to segments of its own, which no one else may
 * evict until the thread seals them (seg_thread_release, its next set
 * finding one full or old, or its exit). */
static atomic_int kept_stored, kept_may_exit;

static void *
set_one(void *release)
{
    cr_assert_eq(put(release != NULL ? "released" : "kept", "v", 0), SEG_OK);
    if (release != NULL) {
        seg_thread_release();
        return NULL;
    }
    atomic_store(&kept_stored, 1);
    while (!atomic_load(&kept_may_exit))
        sched_yield();
    return NULL; /* its exit seals its segment */
}

Test(seg_evict, a_threads_append_segment_is_its_own, .fini = fini)
{
    start(6, SEG_EVICT_FIFO, 8);
    pthread_t t, kt;
    int yes = 1;
    cr_assert_eq(pthread_create(&t, NULL, set_one, &yes), 0);
    pthread_join(t, NULL);
    atomic_store(&kept_stored, 0);
    atomic_store(&kept_may_exit, 0);
    cr_assert_eq(pthread_create(&kt, NULL, set_one, NULL), 0);
    while (!atomic_load(&kept_stored))
        sched_yield();
    cr_expect_eq(stats().segs_used, 2);
    char k[16], v[500];
    memset(v, 'v', sizeof(v) - 1);
    v[sizeof(v) - 1] = '\0';
    for (int i = 0; i < 100; i++) { /* 12 segments' worth through the 4 left */
        snprintf(k, sizeof(k), "k%d", i);
        cr_assert_eq(put(k, v, 0), SEG_OK);
    }
    cr_expect_null(get("released")); /* sealed: evicted first, as the oldest */
    cr_expect_str_eq(get("kept"), "v"); /* still its thread's: never evicted */
    cr_expect_gt(stats().evicted_segs, 5);
    atomic_store(&kept_may_exit, 1);
    pthread_join(kt, NULL);
    for (int i = 100; i < 200; i++) {
        snprintf(k, sizeof(k), "k%d", i);
        cr_assert_eq(put(k, v, 0), SEG_OK);
    }
    cr_expect_null(get("kept")); /* sealed at its thread's exit, then evicted */
}

/* ---- the index grows (linear hashing) ---- */

static void
grow_key(char *k, size_t n, unsigned i)
{
    snprintf(k, n, "grow:%u", i);
}

static void
grow_check_all(unsigned n, const char *when)
{
    char k[32];
    for (unsigned i = 0; i < n; i++) {
        grow_key(k, sizeof(k), i);
        const char *v = get(k);
        cr_assert(v != NULL && strcmp(v, k) == 0, "%s: key %u of %u lost (level %u, heads %llu)", when, i, n,
                  seg_index_power(), (unsigned long long)seg_index_heads());
    }
}

/* From one head bucket, one split at a time: every key stored is read
 * back after each step; the chains stay short (a split compacts its old
 * chain and gives the empty overflow buckets back). */
Test(seg_index_grow, every_key_after_each_split, .fini = fini)
{
    struct seg_options o = {.mem_limit = 64u << 20, .seg_size = 1u << 20, .hashpower = 0, .hashpower_max = 20,
                            .evict = SEG_EVICT_NONE};
    cr_assert_eq(seg_setup(&o), 0);
    seg_clock_set(100);
    cr_assert_eq(seg_index_heads(), 1);
    char k[32];
    unsigned splits = 0;
    for (unsigned i = 0; i < 4000; i++) {
        grow_key(k, sizeof(k), i);
        cr_assert_eq(put(k, k, 0), SEG_OK);
        if (seg_index_grow(i + 1, 1) == 1) {
            splits++;
            grow_check_all(i + 1, "after a split");
        }
    }
    /* 4000 items: the fewest buckets of 7 slots that hold them at 85%,
     * 673 (672 x 5.95 < 4000 <= 673 x 5.95), not the next power of two */
    cr_expect_eq(seg_index_power(), 9);
    cr_expect_eq(seg_index_heads(), 673);
    cr_expect_eq(splits, 672);
    cr_expect(!seg_index_expanding());
    /* the buckets not split yet this round (161 .. 511) hold ~7.8 keys
     * each, half of them one overflow bucket: 209 here */
    cr_expect_lt(stats().overflow_buckets, 673 / 2);
    cr_expect_eq(seg_index_bytes(), (673 + stats().overflow_buckets) * 64);
    grow_check_all(4000, "at the end");
}

/* To millions of slots with no grow call of the test's own: a thread
 * opening a segment helps when chains lengthen; every key is read back
 * at each new level and half way through each round. */
Test(seg_index_grow, millions_of_slots_set_path_helps, .fini = fini, .timeout = 120)
{
    struct seg_options o = {.mem_limit = 192u << 20, .seg_size = 1u << 20, .hashpower = 2, .hashpower_max = 20,
                            .evict = SEG_EVICT_NONE};
    cr_assert_eq(seg_setup(&o), 0);
    seg_clock_set(100);
    const unsigned n = 1500000;
    char k[32];
    unsigned level = seg_index_power();
    bool half = false;
    for (unsigned i = 0; i < n; i++) {
        grow_key(k, sizeof(k), i);
        cr_assert_eq(put(k, k, 0), SEG_OK, "set %u", i);
        uint64_t heads = seg_index_heads();
        if (seg_index_power() != level) {
            level = seg_index_power();
            half = false;
            grow_check_all(i + 1, "new level");
        } else if (!half && heads >= ((uint64_t)3 << level) / 2) {
            half = true;
            grow_check_all(i + 1, "half way");
        }
    }
    cr_expect_gt(seg_index_power(), 12); /* grown on the set path alone */
    while (seg_grow(UINT_MAX) > 0)
        ;
    /* 1.5M items: 252,101 buckets (1.5M / 5.95 rounded up), level 17 */
    cr_expect_eq(seg_index_power(), 17);
    cr_expect_eq(seg_index_heads(), 252101);
    cr_expect(!seg_index_expanding());
    grow_check_all(n, "at the end");
    /* the index: 13.7 bytes an item (64-byte head buckets, ~6 items each,
     * and the overflow of the buckets not split yet this round); doubling
     * whole, 2^18 buckets took 11.2 bytes an item at 1.5M items but 22.4
     * right after the round started, at 750,000 */
    cr_expect_lt(seg_index_bytes(), (size_t)n * 14);
}

/* hashpower_max below hashpower (the prototype's default): no growth */
Test(seg_index_grow, fixed_without_max, .fini = fini)
{
    start(64, SEG_EVICT_NONE, 2);
    char k[32];
    for (unsigned i = 0; i < 500; i++) {
        grow_key(k, sizeof(k), i);
        cr_assert_eq(put(k, k, 0), SEG_OK);
    }
    cr_expect_eq(seg_grow(UINT_MAX), 0);
    cr_expect_eq(seg_index_heads(), 4);
    grow_check_all(500, "fixed");
}

/* The key compare reads words where they fit and the last word where it
 * ends (overlapping): every length up to 40, equal, and unequal at each
 * byte. */
Test(seg, key_compare_every_length_and_position)
{
    char a[48], b[48];
    for (size_t n = 0; n <= 40; n++) {
        for (size_t i = 0; i < n; i++)
            a[i] = b[i] = (char)('a' + (i * 7) % 26);
        a[n] = 'x'; /* past the key: never read as part of it */
        b[n] = 'y';
        cr_assert(seg_key_eq(a, b, n), "length %zu: equal keys differ", n);
        for (size_t i = 0; i < n; i++) {
            b[i] ^= 0x20;
            cr_assert(!seg_key_eq(a, b, n), "length %zu: a difference at %zu not seen", n, i);
            b[i] ^= 0x20;
        }
    }
}
