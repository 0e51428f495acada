/* test_tcache.c - per-thread chunk caches: the request path (overwrite,
 * new key, delete, eviction) takes a class lock only once per batch,
 * counts stay exact across threads and thread exits, and cached chunks
 * neither leak nor outlive a store teardown. */
#include "config.h"

#include "store/store.h"
#include "store/tcache.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "tests/unit/store/fixture.h"

#define VLEN 100  /* 16-byte keys + 100 bytes + CAS: the 152-byte class */

static struct store_tstats ts;

static void
start(uint64_t mem_limit)
{
    store_test_start(store_test_opts(mem_limit, 16), &ts, 100);
}

static enum store_status
put(struct store_tstats *t, unsigned tag, unsigned i)
{
    char key[17];
    snprintf(key, sizeof(key), "key:%03u:%08u", tag, i);
    enum store_status st;
    struct item *it = store_alloc(key, 16, 0, 0, VLEN, t, &st);
    if (it == NULL)
        return st;
    memset(item_data(it), 'a' + (int)(i % 26), VLEN);
    st = store_link(it, NULL, NULL, t);
    item_release(it);
    return st;
}

static unsigned
cls(void)
{
    enum store_status st;
    struct item *it = store_alloc("key:probe:000000", 16, 0, 0, VLEN, &ts, &st);
    cr_assert_not_null(it);
    unsigned id = item_class(it);
    item_release(it);
    return id;
}

static struct store_class_info
info(unsigned id)
{
    struct store_class_info ci;
    cr_assert(store_class_info(id, &ci));
    return ci;
}

/* Overwriting keys pops a chunk and pushes the old one: no class lock. */
Test(tcache, overwrites_take_no_class_lock, .fini = fini)
{
    start(64u << 20);
    unsigned id = cls();
    for (unsigned i = 0; i < 1000; i++)
        cr_assert_eq(put(&ts, 0, i), STORE_OK);
    uint64_t before = info(id).lock_taken;
    for (unsigned round = 0; round < 10; round++)
        for (unsigned i = 0; i < 1000; i++)
            cr_assert_eq(put(&ts, 0, i), STORE_OK);
    struct store_class_info ci = info(id);
    /* at most one refill, if the fill left the cache exactly empty */
    cr_expect_leq(ci.lock_taken - before, 1, "class lock taken %llu times in 10000 overwrites",
                  (unsigned long long)(ci.lock_taken - before));
    cr_expect_eq(ci.curr_items, 1000);
    cr_expect_eq(ci.used_chunks, 1000);
}

/* New keys: one refill (class lock) per half cache of chunks. */
Test(tcache, new_keys_take_the_lock_once_per_batch, .fini = fini)
{
    start(64u << 20);
    unsigned id = cls();
    uint64_t before = info(id).lock_taken;
    for (unsigned i = 0; i < 16000; i++)
        cr_assert_eq(put(&ts, 1, i), STORE_OK);
    struct store_class_info ci = info(id);
    /* a refill stops short at the end of a page: one more per page */
    cr_expect_leq(ci.lock_taken - before, 16000 / (TCACHE_MAX / 2) + ci.total_pages, "%llu",
                  (unsigned long long)(ci.lock_taken - before));
    cr_expect_eq(ci.curr_items, 16000);
}

/* A full store evicts a batch per refill, not one item per set. */
Test(tcache, eviction_takes_the_lock_once_per_batch, .fini = fini)
{
    start(4u << 20);
    unsigned id = cls();
    unsigned i = 0;
    while (atomic_load(&ts.evictions) == 0)
        cr_assert_eq(put(&ts, 2, i++), STORE_OK);
    uint64_t before = info(id).lock_taken;
    uint64_t ev0 = atomic_load(&ts.evictions);
    for (unsigned n = 0; n < 8000; n++)
        cr_assert_eq(put(&ts, 2, i++), STORE_OK);
    struct store_class_info ci = info(id);
    uint64_t evicted = atomic_load(&ts.evictions) - ev0;
    cr_expect_geq(evicted, 8000 - TCACHE_MAX);
    cr_expect_leq(ci.lock_taken - before, 8000 / (TCACHE_MAX / 2) + 1, "%llu",
                  (unsigned long long)(ci.lock_taken - before));
    /* cached chunks are not items: resident + cached + free = carved */
    cr_expect_eq(ci.used_chunks, ci.curr_items);
    cr_expect_eq(ci.used_chunks + ci.free_chunks + ci.free_chunks_end, ci.total_chunks);
}

/* Deletes fill the cache, then flush half of it at a time. */
Test(tcache, deletes_flush_in_batches, .fini = fini)
{
    start(64u << 20);
    unsigned id = cls();
    for (unsigned i = 0; i < 4000; i++)
        cr_assert_eq(put(&ts, 3, i), STORE_OK);
    uint64_t before = info(id).lock_taken;
    for (unsigned i = 0; i < 4000; i++) {
        char key[17];
        snprintf(key, sizeof(key), "key:%03u:%08u", 3u, i);
        cr_assert_eq(store_delete(key, 16, NULL, &ts), STORE_OK);
    }
    struct store_class_info ci = info(id);
    cr_expect_leq(ci.lock_taken - before, 4000 / (TCACHE_MAX / 2) + 1);
    cr_expect_eq(ci.curr_items, 0);
    cr_expect_eq(ci.used_chunks, 0);
    cr_expect_eq(ci.mem_requested, 0);
    cr_expect_eq(ci.free_chunks + ci.free_chunks_end, ci.total_chunks);
}

struct worker {
    unsigned tag;
    struct store_tstats ts;
};

static void *
run(void *arg)
{
    struct worker *w = arg;
    for (unsigned round = 0; round < 5; round++)
        for (unsigned i = 0; i < 2000; i++)
            if (put(&w->ts, w->tag, i) != STORE_OK)
                return "put failed";
    for (unsigned i = 0; i < 500; i++) { /* a quarter deleted: chunks cached here */
        char key[17];
        snprintf(key, sizeof(key), "key:%03u:%08u", w->tag, i);
        if (store_delete(key, 16, NULL, &w->ts) != STORE_OK)
            return "delete failed";
    }
    return NULL;
}

/* Threads that exit leave their counts behind and give their chunks back. */
Test(tcache, counts_survive_thread_exit, .fini = fini)
{
    start(64u << 20);
    unsigned id = cls();
    struct worker w[4];
    pthread_t th[4];
    for (unsigned t = 0; t < 4; t++) {
        memset(&w[t], 0, sizeof(w[t]));
        w[t].tag = 10 + t;
        cr_assert_eq(pthread_create(&th[t], NULL, run, &w[t]), 0);
    }
    for (unsigned t = 0; t < 4; t++) {
        void *err;
        pthread_join(th[t], &err);
        cr_expect_null(err, "%s", (char *)err);
    }
    struct store_class_info ci = info(id);
    cr_expect_eq(ci.curr_items, 4 * 1500);
    cr_expect_eq(ci.used_chunks, 4 * 1500);
    cr_expect_eq(ci.mem_requested, 4 * 1500 * (28 + 8 + 16 + VLEN));
    cr_expect_eq(ci.used_chunks + ci.free_chunks + ci.free_chunks_end, ci.total_chunks);
    struct store_info si;
    store_info(&si);
    cr_expect_eq(si.curr_items, 4 * 1500);
    cr_expect_eq(si.bytes, 4 * 1500 * (28 + 8 + 16 + VLEN));
}

/* Chunks cached before a teardown are not handed out by the next store. */
Test(tcache, teardown_forgets_cached_chunks, .fini = fini)
{
    start(64u << 20);
    unsigned id = cls(); /* this thread now caches a batch less one */
    cr_expect_gt(info(id).free_chunks, 0);
    store_teardown();
    start(64u << 20);
    struct store_class_info ci = info(id);
    cr_expect_eq(ci.total_chunks, 0);
    cr_expect_eq(ci.free_chunks, 0);
    cr_assert_eq(put(&ts, 4, 1), STORE_OK);
    ci = info(id);
    cr_expect_eq(ci.total_pages, 1);
    cr_expect_eq(ci.curr_items, 1);
    cr_expect_eq(ci.used_chunks + ci.free_chunks + ci.free_chunks_end, ci.total_chunks);
}

/* Large items are not cached at all: a thread hoards no 100 KB chunk. */
Test(tcache, large_classes_are_not_cached, .fini = fini)
{
    start(64u << 20);
    enum store_status st;
    struct item *it = store_alloc("big", 3, 0, 0, 100000, &ts, &st);
    cr_assert_not_null(it);
    unsigned id = item_class(it);
    item_release(it);
    struct store_class_info ci = info(id);
    cr_expect_eq(ci.used_chunks, 0);
    cr_expect_eq(ci.free_chunks, 1);
    cr_expect_eq(ci.free_chunks_end, ci.chunks_per_page - 1);
}

/* 16-64 KB values (classes of 12 to 63 chunks a page) are cached two at a
 * time: overwriting them takes no class lock either. */
Test(tcache, mid_size_overwrites_take_no_class_lock, .fini = fini)
{
    start(64u << 20);
    enum { NKEYS = 20, SIZES = 4 };
    static const uint32_t size[SIZES] = {16000, 24000, 40000, 65536};
    for (unsigned s = 0; s < SIZES; s++) {
        char key[17];
        enum store_status st;
        struct item *it = store_alloc("key:probe:000000", 16, 0, 0, size[s], &ts, &st);
        cr_assert_not_null(it);
        unsigned id = item_class(it);
        item_release(it);
        cr_assert(info(id).chunks_per_page >= 12 && info(id).chunks_per_page < 64);
        for (unsigned round = 0; round < 11; round++) {
            uint64_t before = info(id).lock_taken;
            for (unsigned i = 0; i < NKEYS; i++) {
                snprintf(key, sizeof(key), "mid:%u:%08u", s, i);
                it = store_alloc(key, 16, 0, 0, size[s], &ts, &st);
                cr_assert_not_null(it, "%u bytes: %d", size[s], (int)st);
                memset(item_data(it), 'x', size[s]);
                cr_assert_eq(store_link(it, NULL, NULL, &ts), STORE_OK);
                item_release(it);
            }
            /* round 0 placed the keys, round 1 filled the cache; reading
             * lock_taken takes the lock once */
            uint64_t taken = info(id).lock_taken - before;
            if (round >= 2)
                cr_expect_leq(taken, 1, "%u-byte class: lock taken %llu times in %d overwrites", size[s],
                              (unsigned long long)taken, NKEYS);
        }
        cr_expect_eq(info(id).curr_items, NKEYS);
    }
}
