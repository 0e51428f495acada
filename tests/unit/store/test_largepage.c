/*
 * test_largepage.c - store_options.large_pages (-L, store/largepage.h) on
 * both engines: the item arena starts on a 2 MB boundary, its mapping
 * carries the MADV_HUGEPAGE advice ("hg" in /proc/self/smaps' VmFlags) and,
 * unless THP is [never], is backed by huge pages once written; every item
 * reads back (the slab store's handles are offsets from the moved base);
 * cache_memlimit's lowering and raising still give pages back and take
 * them again. Without the option no mapping of the arena has the advice.
 */
#include "config.h"

#include "store/store.h"
#include "store/largepage.h"
#include "store/slab.h"
#include "store/seg/seg_internal.h"

#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/unit/store/fixture.h"

static struct store_tstats ts;

/* ---- /proc and /sys ---- */

/* The THP mode in force ("always", "madvise", "never"), or "" when the
 * kernel has no THP. */
static const char *
thp_mode(void)
{
    static char mode[16];
    mode[0] = '\0';
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (f == NULL)
        return mode;
    char line[128];
    if (fgets(line, sizeof(line), f) != NULL) {
        const char *l = strchr(line, '['), *r = l != NULL ? strchr(l, ']') : NULL;
        if (r != NULL && (size_t)(r - l - 1) < sizeof(mode)) {
            memcpy(mode, l + 1, (size_t)(r - l - 1));
            mode[r - l - 1] = '\0';
        }
    }
    fclose(f);
    return mode;
}

static bool
thp_usable(void)
{
    const char *m = thp_mode();
    return m[0] != '\0' && strcmp(m, "never") != 0;
}

/* One mapping of /proc/self/smaps. */
struct vma {
    uintptr_t start, end;
    uint64_t rss_kb, anon_huge_kb;
    bool hg;                      /* VmFlags has "hg": MADV_HUGEPAGE */
};

/* Calls fn on each mapping that overlaps [lo, hi). Returns how many. */
static unsigned
vma_walk(uintptr_t lo, uintptr_t hi, void (*fn)(const struct vma *, void *), void *arg)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    cr_assert_not_null(f);
    char line[512];
    struct vma v = {0};
    bool in = false;
    unsigned n = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        uintptr_t s, e;
        char perms[8];
        if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " %7s ", &s, &e, perms) == 3) {
            in = s < hi && e > lo;
            memset(&v, 0, sizeof(v));
            v.start = s;
            v.end = e;
            continue;
        }
        if (!in)
            continue;
        unsigned long long kb;
        if (sscanf(line, "Rss: %llu kB", &kb) == 1)
            v.rss_kb = kb;
        else if (sscanf(line, "AnonHugePages: %llu kB", &kb) == 1)
            v.anon_huge_kb = kb;
        else if (strncmp(line, "VmFlags:", 8) == 0) {
            /* the last field of a mapping */
            v.hg = strstr(line + 8, " hg") != NULL;
            fn(&v, arg);
            n++;
            in = false;
        }
    }
    fclose(f);
    return n;
}

struct vma_sum {
    uintptr_t first_start;        /* the lowest mapping's start */
    uint64_t rss_kb, anon_huge_kb;
    unsigned hg, plain;           /* mappings with and without the advice */
};

static void
vma_add(const struct vma *v, void *arg)
{
    struct vma_sum *s = arg;
    if (s->hg + s->plain == 0 || v->start < s->first_start)
        s->first_start = v->start;
    s->rss_kb += v->rss_kb;
    s->anon_huge_kb += v->anon_huge_kb;
    if (v->hg)
        s->hg++;
    else
        s->plain++;
}

static struct vma_sum
vma_sum(const void *base, size_t len)
{
    struct vma_sum s = {0};
    cr_assert_gt(vma_walk((uintptr_t)base, (uintptr_t)base + len, vma_add, &s), 0);
    return s;
}

/* /proc/vmstat's thp_fault_fallback: huge page faults the kernel served
 * with small pages, having none free; -1 when unread. */
static long long
thp_fault_fallback(void)
{
    char line[128];
    long long v = -1;
    FILE *f = fopen("/proc/vmstat", "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, "thp_fault_fallback ", 19) == 0)
            v = atoll(line + 19);
    fclose(f);
    return v;
}

/* the count when the program started, before any test wrote */
static long long fallback_at_start;

__attribute__((constructor)) static void
read_fallback_at_start(void)
{
    fallback_at_start = thp_fault_fallback();
}

/* The mappings over [base, base + len): every one advised, the lowest
 * starting on a 2 MB boundary (at `base`, 2 MB aligned, or lower when an
 * advised neighbour merged with it); then, with THP in force, some
 * of it in huge pages (a fault that found no free huge page leaves small
 * ones for khugepaged to collapse: polled a few seconds). */
static void
check_hugepage_range(const char *what, const void *base, size_t len)
{
    cr_assert_eq((uintptr_t)base % LARGEPAGE_SIZE, 0, "%s: %p not 2 MB aligned", what, base);
    struct vma_sum s = vma_sum(base, len);
    cr_assert_eq(s.first_start % LARGEPAGE_SIZE, 0, "%s: its mapping starts at %#" PRIxPTR, what, s.first_start);
    cr_assert_gt(s.hg, 0, "%s: no MADV_HUGEPAGE advice", what);
    cr_assert_eq(s.plain, 0, "%s: %u mappings without the advice", what, s.plain);
    if (!thp_usable()) {
        cr_log_warn("THP is [%s]: AnonHugePages not checked", thp_mode());
        return;
    }
    for (int i = 0; i < 60 && s.anon_huge_kb == 0; i++) {
        nanosleep(&(struct timespec){.tv_nsec = 50 * 1000 * 1000}, NULL);
        s = vma_sum(base, len);
    }
    if (s.anon_huge_kb == 0 && thp_fault_fallback() > fallback_at_start) {
        /* the kernel tried huge pages and had none free (a fragmented
         * machine): the advice is in place, checked above */
        cr_log_warn("%s: huge page faults fell back to small pages; AnonHugePages not checked", what);
        return;
    }
    cr_assert_gt(s.anon_huge_kb, 0, "%s: no huge page after %" PRIu64 " kB written", what, s.rss_kb);
}

static void
check_no_advice(const char *what, const void *base, size_t len)
{
    struct vma_sum s = vma_sum(base, len);
    cr_assert_eq(s.hg, 0, "%s: MADV_HUGEPAGE without large_pages", what);
}

/* ---- items ---- */

static char
fill_of(const char *prefix, int i)
{
    return (char)('a' + (prefix[0] + i) % 26);
}

static enum store_status
put(const char *prefix, int i, uint32_t vlen)
{
    char key[32];
    int n = snprintf(key, sizeof(key), "%s%d", prefix, i);
    enum store_status st;
    struct item *it = store_alloc(key, (size_t)n, (uint32_t)i, 0, vlen, &ts, &st);
    if (it == NULL)
        return st;
    memset(item_data(it), fill_of(prefix, i), vlen);
    st = store_link(it, NULL, NULL, &ts);
    item_release(it);
    return st;
}

/* Whether prefix<i> is present; if so it must read back as written. */
static bool
present(const char *prefix, int i, uint32_t vlen)
{
    char key[32];
    int n = snprintf(key, sizeof(key), "%s%d", prefix, i);
    struct item *it = store_get(key, (size_t)n, &store_test_peek, NULL, &ts);
    if (it == NULL)
        return false;
    cr_assert_eq(item_nbytes(it), vlen, "%s", key);
    cr_assert_eq(item_flags(it), (uint32_t)i, "%s", key);
    const char *d = item_data(it);
    for (uint32_t b = 0; b < vlen; b++)
        cr_assert_eq(d[b], fill_of(prefix, i), "%s byte %u", key, b);
    item_release(it);
    return true;
}

static struct store_info
info(void)
{
    struct store_info si;
    store_info(&si);
    return si;
}

#define VLEN 1000u
#define MB ((size_t)1 << 20)

/* ---- the slab store ---- */

Test(largepage, slab_arena_aligned_advised_and_readable, .fini = fini)
{
    struct store_options o = store_test_opts(64 * MB, 16);
    o.large_pages = true;
    store_test_start(o, &ts, 100);
    /* ~24 MB of 1 KB items: pages of one class, 24 of the 64 */
    int n = 24 * 1000;
    for (int i = 0; i < n; i++)
        cr_assert_eq(put("s", i, VLEN), STORE_OK);
    cr_assert_geq(info().total_malloced, 20 * MB);
    check_hugepage_range("slab arena", slab_arena, 64 * MB);
    for (int i = 0; i < n; i++)
        cr_assert(present("s", i, VLEN), "s%d lost", i);
    /* a handle names its chunk from the moved base */
    char key[32];
    int kl = snprintf(key, sizeof(key), "s%d", n - 1);
    struct item *it = store_get(key, (size_t)kl, &store_test_peek, NULL, &ts);
    cr_assert_not_null(it);
    cr_assert_eq(slab_item(slab_handle(it)), it);
    cr_assert_eq(slab_handle((struct item *)slab_arena), 1);
    item_release(it);
}

/* cache_memlimit: a lower limit gives pages back (MADV_DONTNEED, PROT_NONE:
 * the arena's memory falls with total_malloced); a higher one, past the
 * -m bytes made writable at setup, carves on, and reuses the pages given
 * back; the items kept read back throughout. */
Test(largepage, slab_mem_limit_lower_and_raise, .fini = fini)
{
    struct store_options o = store_test_opts(32 * MB, 16);
    o.large_pages = true;
    store_test_start(o, &ts, 100);
    int n = 0;
    while (info().total_malloced < 32 * MB)
        cr_assert_eq(put("s", n++, VLEN), STORE_OK);
    size_t span = (size_t)slab_mem_limit_max();
    uint64_t rss_full = vma_sum(slab_arena, span).rss_kb;
    cr_assert_geq(rss_full, 30 * 1024);

    cr_assert(store_mem_limit_set(8 * MB));
    struct store_info si = info();
    cr_assert_leq(si.total_malloced, 8 * MB);
    struct vma_sum s = vma_sum(slab_arena, span);
    cr_assert_leq(s.rss_kb, 8 * 1024 + 2048, "%" PRIu64 " kB still resident", s.rss_kb);
    cr_assert_eq(s.plain, 0, "a split-off piece lost the advice");
    int kept = 0;
    for (int i = 0; i < n; i++)
        kept += present("s", i, VLEN);
    cr_assert_gt(kept, 0);
    cr_assert_eq((uint64_t)kept, si.curr_items);

    cr_assert(store_mem_limit_set(48 * MB));
    int m = 0;
    while (info().total_malloced < 48 * MB)
        cr_assert_eq(put("t", m++, VLEN), STORE_OK);
    si = info();
    cr_assert_eq(si.total_malloced, 48 * MB);
    cr_assert_eq(si.curr_items, (uint64_t)kept + (uint64_t)m);
    for (int i = 0; i < m; i++)
        cr_assert(present("t", i, VLEN), "t%d lost", i);
    kept = 0;
    for (int i = 0; i < n; i++)
        kept += present("s", i, VLEN);
    cr_assert_eq((uint64_t)kept + (uint64_t)m, si.curr_items);
    s = vma_sum(slab_arena, span);
    cr_assert_eq(s.plain, 0);
    cr_assert_geq(s.rss_kb, 46 * 1024);
}

Test(largepage, slab_default_has_no_advice, .fini = fini)
{
    struct store_options o = store_test_opts(64 * MB, 16);
    store_test_start(o, &ts, 100);
    for (int i = 0; i < 4000; i++)
        cr_assert_eq(put("s", i, VLEN), STORE_OK);
    check_no_advice("slab arena", slab_arena, 64 * MB);
}

/* ---- the segment engine ---- */

Test(largepage, seg_arena_aligned_advised_and_readable, .fini = fini)
{
    struct store_options o = store_test_opts(64 * MB, 16);
    o.segments = true;
    o.large_pages = true;
    store_test_start(o, &ts, 100);
    int n = 24 * 1000;
    for (int i = 0; i < n; i++)
        cr_assert_eq(put("s", i, VLEN), STORE_OK);
    check_hugepage_range("segment arena", seg_g.arena, (size_t)seg_g.nseg * seg_g.seg_size);
    cr_assert_eq((uintptr_t)seg_index_g.heads % LARGEPAGE_SIZE, 0);
    cr_assert_eq(vma_sum(seg_index_g.heads, 4096).plain, 0, "index heads not advised");
    for (int i = 0; i < n; i++)
        cr_assert(present("s", i, VLEN), "s%d lost", i);
}

Test(largepage, seg_default_has_no_advice, .fini = fini)
{
    struct store_options o = store_test_opts(64 * MB, 16);
    o.segments = true;
    store_test_start(o, &ts, 100);
    for (int i = 0; i < 4000; i++)
        cr_assert_eq(put("s", i, VLEN), STORE_OK);
    check_no_advice("segment arena", seg_g.arena, (size_t)seg_g.nseg * seg_g.seg_size);
    check_no_advice("index heads", seg_index_g.heads, 4096);
}
