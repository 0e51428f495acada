/* test_slab.c - slab classes, page accounting, the memory bound. */
#include "config.h"

#include "store/slab.h"
#include "store/store.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tests/unit/store/fixture.h"

static struct store_tstats ts;

static struct store_options
opts_default(void)
{
    return store_test_opts(64u << 20, 16);
}

static void
start(struct store_options o)
{
    store_test_start(o, &ts, 100);
}

static uint32_t
class_size(unsigned id)
{
    struct store_class_info ci;
    cr_assert(store_class_info(id, &ci));
    return ci.chunk_size;
}

Test(slab, default_classes, .fini = fini)
{
    start(opts_default());
    const uint32_t want[] = {96, 120, 152, 192, 240, 304, 384, 480, 600, 752, 944, 1184};
    for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        cr_expect_eq(class_size(i + 1), want[i], "class %u: %u", i + 1, class_size(i + 1));
    unsigned n = store_class_count();
    cr_assert_leq(n, 63);
    cr_assert_gt(n, 30);
    cr_expect_eq(class_size(n), 1u << 20);
    cr_expect_leq(class_size(n - 1), (uint32_t)((1u << 20) / 1.25));
    for (unsigned i = 2; i <= n; i++) {
        cr_expect_gt(class_size(i), class_size(i - 1));
        cr_expect_eq(class_size(i) % 8, 0);
    }
    struct store_class_info ci;
    cr_assert(store_class_info(1, &ci));
    cr_expect_eq(ci.chunks_per_page, (1u << 20) / 96);
    cr_assert(store_class_info(n, &ci));
    cr_expect_eq(ci.chunks_per_page, 1);
    cr_expect_not(store_class_info(n + 1, &ci));
    cr_expect_not(store_class_info(0, &ci));
}

Test(slab, factor_two, .fini = fini)
{
    struct store_options o = opts_default();
    o.factor = 2.0;
    start(o);
    unsigned n = store_class_count();
    cr_assert_eq(n, 14, "got %u classes", n);
    for (unsigned i = 1; i < n; i++)
        cr_expect_eq(class_size(i), 96u << (i - 1));
    cr_expect_eq(class_size(n), 1u << 20);
}

Test(slab, item_size_max_2m, .fini = fini)
{
    struct store_options o = opts_default();
    o.item_size_max = 2u << 20;
    start(o);
    unsigned n = store_class_count();
    cr_expect_eq(class_size(n), 2u << 20);
    cr_expect_leq(class_size(n - 1), (uint32_t)((2u << 20) / 1.25));
    cr_expect_eq(slab_page_size(), 2u << 20);
    struct store_class_info ci;
    cr_assert(store_class_info(1, &ci));
    cr_expect_eq(ci.chunks_per_page, (2u << 20) / 96);
    /* a 1.5 MB value now fits */
    enum store_status st;
    struct item *it = store_alloc("big", 3, 0, 0, 1500000, &ts, &st);
    cr_assert_not_null(it);
    item_release(it);
}

Test(slab, many_classes_capped, .fini = fini)
{
    struct store_options o = opts_default();
    o.factor = 1.01;
    start(o);
    cr_expect_eq(store_class_count(), 63);
    cr_expect_eq(class_size(63), 1u << 20);
}

Test(slab, too_large, .fini = fini)
{
    start(opts_default());
    /* memcached 1.6.45 -I 1m accepts at most 1048516 bytes under a 1-byte key */
    size_t max = store_max_value_len(1);
    cr_expect_eq(max, 1048516);
    cr_expect_eq(store_max_value_len(250), max - 249);
    enum store_status st = STORE_OK;
    struct item *it = store_alloc("k", 1, 0, 0, (uint32_t)max + 1, &ts, &st);
    cr_expect_null(it);
    cr_expect_eq(st, STORE_TOO_LARGE);
    it = store_alloc("k", 1, 0, 0, (uint32_t)max, &ts, &st);
    cr_assert_not_null(it);
    cr_expect_eq(st, STORE_OK);
    cr_expect_eq(item_class(it), store_class_count());
    cr_expect_eq(store_link(it, NULL, NULL, &ts), STORE_OK);
    item_release(it);
}

Test(slab, accounting_never_above_limit, .fini = fini)
{
    struct store_options o = opts_default();
    o.mem_limit = 4u << 20;
    start(o);
    char key[32], val[1000];
    memset(val, 'v', sizeof(val));
    for (int i = 0; i < 20000; i++) {
        int n = snprintf(key, sizeof(key), "key%d", i);
        enum store_status st;
        struct item *it = store_alloc(key, (size_t)n, 0, 0, sizeof(val), &ts, &st);
        cr_assert_not_null(it, "alloc %d failed: %d", i, st);
        memcpy(item_data(it), val, sizeof(val));
        cr_assert_eq(store_link(it, NULL, NULL, &ts), STORE_OK);
        item_release(it);
        struct store_info si;
        store_info(&si);
        cr_assert_leq(si.total_malloced, o.mem_limit);
    }
    struct store_info si;
    store_info(&si);
    cr_expect_eq(si.total_malloced, 4u << 20);
    cr_expect_eq(si.limit_maxbytes, 4u << 20);
    cr_expect_gt(atomic_load(&ts.evictions), 0);
    cr_expect_eq(si.active_classes, 1);
    cr_expect_gt(si.curr_items, 3000);
    cr_expect_lt(si.curr_items, 20000);
    cr_expect_leq(si.bytes, si.total_malloced);
}

Test(slab, strict_limit_starves_second_class, .fini = fini)
{
    struct store_options o = opts_default();
    o.mem_limit = 1u << 20; /* one page in total */
    start(o);
    enum store_status st;
    struct item *a = store_alloc("a", 1, 0, 0, 10, &ts, &st);
    cr_assert_not_null(a);
    struct item *b = store_alloc("b", 1, 0, 0, 5000, &ts, &st);
    cr_expect_null(b);
    cr_expect_eq(st, STORE_NO_MEMORY);
    struct store_class_info ci;
    cr_assert(store_class_info(slab_clsid(28 + 8 + 1 + 5000), &ci));
    cr_expect_eq(ci.outofmemory, 1);
    item_release(a);
}

Test(slab, malloc_failure_injected, .fini = fini)
{
    start(opts_default());
    atomic_store(&slab_fail_next_mallocs, 1);
    enum store_status st;
    struct item *it = store_alloc("k", 1, 0, 0, 10, &ts, &st);
    cr_expect_null(it);
    cr_expect_eq(st, STORE_NO_MEMORY);
    struct store_info si;
    store_info(&si);
    cr_expect_eq(si.malloc_fails, 1);
    cr_expect_eq(si.total_malloced, 0);
    it = store_alloc("k", 1, 0, 0, 10, &ts, &st);
    cr_expect_not_null(it);
    item_release(it);
}

Test(slab, chunk_reuse_after_free, .fini = fini)
{
    start(opts_default());
    enum store_status st;
    struct item *it = store_alloc("k", 1, 0, 0, 10, &ts, &st);
    cr_assert_not_null(it);
    unsigned id = item_class(it);
    struct store_class_info ci;
    store_class_info(id, &ci);
    cr_expect_eq(ci.used_chunks, 1);
    /* the rest of the thread's refill batch is cached: free, not used */
    cr_expect_eq(ci.free_chunks, 15);
    cr_expect_eq(ci.free_chunks_end, ci.chunks_per_page - 16);
    cr_expect_eq(ci.mem_requested, 28 + 8 + 1 + 10);
    item_release(it);
    store_class_info(id, &ci);
    cr_expect_eq(ci.used_chunks, 0);
    cr_expect_eq(ci.free_chunks, 16);
    cr_expect_eq(ci.mem_requested, 0);
    struct item *again = store_alloc("j", 1, 0, 0, 10, &ts, &st);
    cr_expect_eq((void *)again, (void *)it);
    item_release(again);
}

/* Items are named by 32-bit handles into one arena of mem_limit bytes. */
Test(slab, handles_name_items, .fini = fini)
{
    start(opts_default());
    enum store_status st;
    struct item *a = store_alloc("a", 1, 0, 0, 10, &ts, &st);
    struct item *b = store_alloc("b", 1, 0, 0, 5000, &ts, &st);
    cr_assert_not_null(a);
    cr_assert_not_null(b);
    cr_expect_eq(slab_handle(NULL), 0);
    cr_expect_null(slab_item(0));
    cr_expect_neq(slab_handle(a), 0);
    cr_expect_neq(slab_handle(a), slab_handle(b));
    cr_expect_eq(slab_item(slab_handle(a)), a);
    cr_expect_eq(slab_item(slab_handle(b)), b);
    cr_expect_geq((const char *)a, slab_arena);
    cr_expect_lt((const char *)b, slab_arena + (64u << 20));
    item_release(a);
    item_release(b);
}

/* Up to 32 GB handles have 8-byte granularity; beyond, it doubles with
 * the limit, so chunk sizes become multiples of 16, 32, ... */
Test(slab, large_limits_coarsen_handles, .fini = fini)
{
    struct store_options o = opts_default();
    o.mem_limit = UINT64_C(32) << 30;
    start(o);
    cr_expect_eq(slab_shift, 3);
    cr_expect_eq(class_size(3), 152);
    store_teardown();

    o.mem_limit = (UINT64_C(48) << 30);
    start(o);
    cr_expect_eq(slab_shift, 4);
    for (unsigned id = 1; id <= store_class_count(); id++)
        cr_expect_eq(class_size(id) % 16, 0, "class %u: %u", id, class_size(id));
    cr_expect_eq(class_size(3), 160);
    /* the last granule of the arena has a handle, and it round-trips */
    struct item *last = (struct item *)(slab_arena + (o.mem_limit - 16));
    cr_expect_eq(slab_handle(last), (uint32_t)(o.mem_limit / 16));
    cr_expect_eq(slab_item(slab_handle(last)), last);
    enum store_status st;
    struct item *it = store_alloc("k", 1, 0, 0, 100, &ts, &st);
    cr_assert_not_null(it);
    cr_expect_eq(((uintptr_t)it - (uintptr_t)slab_arena) % 16, 0);
    cr_expect_eq(slab_item(slab_handle(it)), it);
    item_release(it);
}

/* 32-bit handles of at most 256 bytes reach 1 TB: a larger limit is refused. */
Test(slab, limit_above_1t_refused)
{
    struct store_options o = opts_default();
    o.mem_limit = STORE_MEM_LIMIT_MAX + (UINT64_C(1) << 20);
    errno = 0;
    cr_expect_eq(store_setup(&o), -1);
    cr_expect_eq(errno, EINVAL);
}

/* The permissions of the mapping that holds `addr`, from /proc/self/maps. */
static void
perms_at(const void *addr, char out[5])
{
    FILE *f = fopen("/proc/self/maps", "r");
    cr_assert_not_null(f);
    unsigned long lo, hi;
    char perms[5];
    strcpy(out, "none");
    while (fscanf(f, "%lx-%lx %4s%*[^\n]", &lo, &hi, perms) == 3)
        if ((uintptr_t)addr >= lo && (uintptr_t)addr < hi) {
            memcpy(out, perms, 5);
            break;
        }
    fclose(f);
}

/* The arena is address space only: a page becomes writable when it is
 * handed out, so memory is committed page by page (overcommit_memory=2). */
Test(slab, arena_is_committed_page_by_page, .fini = fini)
{
    start(opts_default());
    char p[5];
    perms_at(slab_arena, p);
    cr_expect_str_eq(p, "---p", "an untouched arena is PROT_NONE");
    enum store_status st;
    struct item *it = store_alloc("k", 1, 0, 0, 10, &ts, &st);
    cr_assert_not_null(it);
    perms_at(it, p);
    cr_expect_str_eq(p, "rw-p");
    perms_at(slab_arena + slab_page_size(), p);
    cr_expect_str_eq(p, "---p", "the next page is not committed yet");
    item_release(it);
}
