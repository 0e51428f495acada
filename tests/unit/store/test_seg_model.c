/* test_seg_model.c - the segment store prototype (store/seg/) against a
 * plain reference map: seeded random operations, without eviction (every
 * answer exact) and under eviction and TTLs (a hit is always the latest
 * value, never a deleted or expired one); and two threads at once. */
#include "config.h"

#include "store/seg/seg_store.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define NKEYS 1500
#define VMAX 300

struct model_entry {
    bool live;
    uint32_t flags;
    uint64_t cas;
    uint32_t exptime;  /* 0: never */
    size_t len;
    char val[VMAX];
};

static struct model_entry model[NKEYS];
static uint64_t rng_state;

static uint64_t
rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static size_t
key_of(unsigned i, char *k)
{
    return (size_t)snprintf(k, 32, "model:%u", i);
}

static void
fini(void)
{
    seg_teardown();
}

static void
start(size_t mem, size_t seg_size, enum seg_evict ev, uint64_t seed)
{
    struct seg_options o = {.mem_limit = mem, .seg_size = seg_size, .hashpower = 8, .evict = ev};
    cr_assert_eq(seg_setup(&o), 0);
    seg_clock_set(1000);
    memset(model, 0, sizeof(model));
    rng_state = seed;
}

/* Checks key i against the model. exact: a live entry must be found. */
static bool
check(unsigned i, bool exact, uint32_t now)
{
    char k[32];
    size_t nk = key_of(i, k);
    const struct model_entry *m = &model[i];
    bool alive = m->live && (m->exptime == 0 || now < m->exptime);
    const struct seg_item *it = seg_get(k, nk);
    if (it == NULL) {
        if (exact)
            cr_assert_not(alive, "%s: missing", k);
        return false;
    }
    cr_assert(alive, "%s: found, but deleted or expired in the model", k);
    cr_assert_eq(seg_item_nbytes(it), m->len, "%s: length", k);
    cr_assert_eq(memcmp(seg_item_data(it), m->val, m->len), 0, "%s: value", k);
    cr_assert_eq(seg_item_flags(it), m->flags, "%s: flags", k);
    cr_assert_eq(seg_item_cas(it), m->cas, "%s: cas", k);
    cr_assert_eq(seg_item_nkey(it), nk);
    cr_assert_eq(memcmp(seg_item_key(it), k, nk), 0);
    seg_item_release(it);
    return true;
}

/* Runs `ops` random operations; exact: no eviction, no TTL. */
static void
run(unsigned ops, bool exact, bool ttls)
{
    char k[32];
    uint32_t now = 1000;
    for (unsigned n = 0; n < ops; n++) {
        unsigned i = (unsigned)(rnd() % NKEYS);
        size_t nk = key_of(i, k);
        struct model_entry *m = &model[i];
        unsigned op = (unsigned)(rnd() % 100);
        if (op < 40) {
            check(i, exact, now);
        } else if (op < 80) { /* set, sometimes with a CAS */
            struct model_entry e = {.live = true};
            e.len = (size_t)(rnd() % VMAX);
            for (size_t j = 0; j < e.len; j++)
                e.val[j] = (char)('a' + (n + j) % 26);
            e.flags = rnd() % 3 == 0 ? (uint32_t)rnd() : 0;
            uint32_t ttl = ttls && rnd() % 2 ? 1 + (uint32_t)(rnd() % 400) : 0;
            e.exptime = ttl != 0 ? now + ttl : 0;
            uint64_t expect = 0;
            if (op >= 75)
                expect = rnd() % 2 && m->live ? m->cas : 12345678;
            uint64_t cas = 0;
            enum seg_status st = seg_set(k, nk, e.flags, ttl, e.val, e.len, expect, &cas);
            if (expect != 0 && exact) {
                enum seg_status want = !m->live ? SEG_NOT_FOUND : expect == m->cas ? SEG_OK : SEG_EXISTS;
                cr_assert_eq(st, want, "%s: cas set", k);
            }
            if (st == SEG_OK) {
                e.cas = cas;
                *m = e;
            } else if (st == SEG_NOT_FOUND) {
                m->live = false; /* evicted or expired in the store */
            } else {
                cr_assert(st == SEG_EXISTS || !exact, "%s: set %d", k, st);
            }
        } else if (op < 90) {
            enum seg_status st = seg_delete(k, nk);
            if (exact)
                cr_assert_eq(st, m->live ? SEG_OK : SEG_NOT_FOUND, "%s: delete", k);
            m->live = false;
        } else if (op < 95) {
            uint32_t ttl = ttls && rnd() % 2 ? 1 + (uint32_t)(rnd() % 400) : 0;
            enum seg_status st = seg_touch(k, nk, ttl);
            if (exact)
                cr_assert_eq(st, m->live ? SEG_OK : SEG_NOT_FOUND, "%s: touch", k);
            if (st == SEG_OK)
                m->exptime = ttl != 0 ? now + ttl : 0;
            else
                m->live = false;
        } else if (ttls) {
            now += (uint32_t)(rnd() % 20);
            seg_clock_set(now);
            if (rnd() % 4 == 0)
                (void)seg_expire();
        }
    }
    unsigned found = 0;
    for (unsigned i = 0; i < NKEYS; i++)
        found += check(i, exact, now);
    struct seg_stats s;
    seg_stats(&s);
    if (!ttls)
        cr_expect_eq(s.items, found);
    cr_expect_leq(s.segs_used, s.segs_total);
    if (!exact)
        cr_expect_gt(found, 0);
}

Test(seg_model, exact_without_eviction, .fini = fini)
{
    start(64u << 20, 1u << 20, SEG_EVICT_NONE, 0x1234567);
    run(60000, true, false);
}

Test(seg_model, exact_small_segments, .fini = fini)
{
    start(16u << 20, 8192, SEG_EVICT_NONE, 0xfeedbeef);
    run(60000, true, false);
}

Test(seg_model, fifo_eviction, .fini = fini)
{
    start(48 * 8192, 8192, SEG_EVICT_FIFO, 42);
    run(100000, false, false);
    struct seg_stats s;
    seg_stats(&s);
    cr_expect_gt(s.evicted_segs, 100);
}

/* 1500 keys over 16 segments of 8 KB: more than fit, so merges evict
 * (and compactions take back what overwrites and deletes left) */
Test(seg_model, merge_eviction, .fini = fini)
{
    start(16 * 8192, 8192, SEG_EVICT_MERGE, 43);
    run(100000, false, false);
    struct seg_stats s;
    seg_stats(&s);
    cr_expect_gt(s.merges, 20);
    cr_expect_gt(s.compactions, 20);
}

/* Over 48 segments the live keys fit: what sets, deletes and touches
 * leave dead is taken back by compaction alone, so the model holds
 * exactly, as with no eviction at all (before compaction, merges evicted
 * live keys here) */
Test(seg_model, exact_with_merge_eviction_when_the_keys_fit, .fini = fini)
{
    start(48 * 8192, 8192, SEG_EVICT_MERGE, 43);
    run(100000, true, false);
    struct seg_stats s;
    seg_stats(&s);
    cr_expect_eq(s.merges, 0);
    cr_expect_gt(s.compactions, 100);
}

Test(seg_model, merge_eviction_with_ttls, .fini = fini)
{
    start(64 * 8192, 8192, SEG_EVICT_MERGE, 44);
    run(100000, false, true);
    struct seg_stats s;
    seg_stats(&s);
    cr_expect_gt(s.expired_segs, 0);
}

Test(seg_model, fifo_eviction_with_ttls, .fini = fini)
{
    start(64 * 8192, 8192, SEG_EVICT_FIFO, 45);
    run(100000, false, true);
}

/* ---- two threads ---- */

struct worker_arg {
    unsigned id;
    unsigned ops;
    unsigned bad;
};

/* A value that says which key and which write it is: "key|n|" + filler. */
static size_t
make_value(char *v, const char *k, unsigned n)
{
    int len = snprintf(v, 64, "%s|%u|", k, n);
    size_t total = (size_t)len + n % 200;
    for (size_t j = (size_t)len; j < total; j++)
        v[j] = (char)('A' + (n + j) % 26);
    return total;
}

static void *
worker(void *p)
{
    struct worker_arg *a = p;
    uint64_t x = 0x9e3779b97f4a7c15ull * (a->id + 1);
    char k[32], v[300], want[300];
    for (unsigned n = 0; n < a->ops; n++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        size_t nk = (size_t)snprintf(k, sizeof(k), "c:%u", (unsigned)(x % 600));
        unsigned op = (unsigned)((x >> 32) % 10);
        if (op < 5) {
            const struct seg_item *it = seg_get(k, nk);
            if (it == NULL)
                continue;
            size_t len = seg_item_nbytes(it);
            unsigned wn = 0;
            char hk[32], got[300];
            /* the value names its key and its write; its filler follows
             * (copied first: an item's value is not NUL-terminated) */
            memcpy(got, seg_item_data(it), len < sizeof(got) ? len : sizeof(got) - 1);
            got[len < sizeof(got) ? len : sizeof(got) - 1] = '\0';
            if (len < 300 && sscanf(got, "%31[^|]|%u|", hk, &wn) == 2 && strcmp(hk, k) == 0 &&
                make_value(want, k, wn) == len && memcmp(want, seg_item_data(it), len) == 0 &&
                seg_item_nkey(it) == nk && memcmp(seg_item_key(it), k, nk) == 0)
                ;
            else
                a->bad++;
            seg_item_release(it);
        } else if (op < 9) {
            size_t len = make_value(v, k, n * 2 + a->id);
            enum seg_status st = seg_set(k, nk, 0, 0, v, len, 0, NULL);
            if (st != SEG_OK)
                a->bad++;
        } else {
            (void)seg_delete(k, nk);
        }
    }
    seg_thread_release();
    return NULL;
}

static void
two_threads(enum seg_evict ev)
{
    struct seg_options o = {.mem_limit = 32 * 16384, .seg_size = 16384, .hashpower = 6, .evict = ev};
    cr_assert_eq(seg_setup(&o), 0);
    pthread_t t[2];
    struct worker_arg a[2] = {{.id = 0, .ops = 200000}, {.id = 1, .ops = 200000}};
    for (int i = 0; i < 2; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, worker, &a[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    cr_expect_eq(a[0].bad + a[1].bad, 0);
    struct seg_stats s;
    seg_stats(&s);
    /* segments go by eviction, or freed once all their items are dead */
    cr_expect_gt(s.evicted_segs + s.expired_segs, 0);
    cr_expect_leq(s.segs_used, s.segs_total);
    /* both threads sealed their segments on the way out: under FIFO, twice
     * the memory of new items evicts every one of them (merge may keep the
     * ones read most); unsealed, each thread's last segment would stay */
    char k[32], v[200];
    memset(v, 'n', sizeof(v));
    for (unsigned i = 0; i < 5000; i++)
        cr_assert_eq(seg_set(k, (size_t)snprintf(k, sizeof(k), "n:%u", i), 0, 0, v, sizeof(v), 0, NULL), SEG_OK);
    unsigned left = 0;
    for (unsigned i = 0; i < 600; i++) {
        const struct seg_item *it = seg_get(k, (size_t)snprintf(k, sizeof(k), "c:%u", i));
        if (it != NULL) {
            left++;
            seg_item_release(it);
        }
    }
    if (ev == SEG_EVICT_FIFO)
        cr_expect_eq(left, 0);
}

Test(seg_threads, fifo, .fini = fini)
{
    two_threads(SEG_EVICT_FIFO);
}

Test(seg_threads, merge, .fini = fini)
{
    two_threads(SEG_EVICT_MERGE);
}
