/*
 * slab.c - slab classes, pages, the item arena and the memory limit.
 *
 * Owns the class table (immutable after setup except what each class lock
 * guards, see slab.h), the arena and the page budget: `total_malloced` is
 * reserved with a compare-and-swap BEFORE a page is taken, so concurrent
 * classes can never take more than mem_limit together, no lock involved.
 * A page comes from the pool of pages given back (slab_page_release, rare)
 * or else is carved from the arena at `arena_next`, which only grows; a
 * page is carved only while the pool is empty and the budget allows one
 * more, so the arena never overflows. `pool_lock` is a leaf lock.
 *
 * Memory bound policy (strict): a page is taken only if the running total
 * plus one page stays <= mem_limit. There is no "first page per class"
 * allowance: with a limit smaller than one page nothing can be stored.
 *
 * mem_limit can change at run time (cache_memlimit): the arena reserves
 * the whole range the handles of this granularity reach (32 GB up to
 * -m 32768), PROT_NONE, so that a larger limit only carves further. Pages
 * given back to the OS (a smaller limit: slab_page_release) are emptied
 * with MADV_DONTNEED and made PROT_NONE again, then sit in `pool`, an
 * array of page pointers, until a class needs one: they are made writable
 * again then.
 *
 * The global page pool (`gpool`, memcached's slab_global_page_pool) holds
 * pages that belong to no class but still count in total_malloced: the
 * page mover puts pages there (slabs reassign N 0, the automover's free
 * memory), and a class that needs a page takes one from there first.
 *
 * large_pages (-L): the arena starts on a 2 MB boundary, the whole
 * reservation is advised MADV_HUGEPAGE (store/largepage.h), and the first
 * mem_limit bytes are made writable at setup in one mprotect (`arena_rw`),
 * so that the kernel can back each aligned 2 MB with one huge page when it
 * is first written; page_get() then skips the mprotect below arena_rw.
 * Pages given back and reused, and pages past arena_rw (a raised limit),
 * change protection one page at a time as without the option.
 */
#include "config.h"

#include "store/largepage.h"
#include "store/slab.h"
#include "store/tcache.h"

#include <errno.h>
#include <pthread.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <string.h>

_Atomic unsigned slab_fail_next_mallocs;

static struct slab_class classes[STORE_CLASSES_MAX];
static unsigned nclasses;
static size_t page_size;
static _Atomic uint64_t mem_limit;
static size_t item_max;           /* item_size_max: the largest item */
static _Atomic uint64_t total_malloced;
static _Atomic uint64_t malloc_fails;

char *slab_arena;
unsigned slab_shift = SLAB_SHIFT_MIN;
uintptr_t slab_arena_bias;
static size_t arena_size;
static _Atomic uint64_t arena_next;
static size_t arena_rw;           /* bytes from the base made writable at setup (-L) */
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static void **pool;               /* released pages (PROT_NONE), pool_n of them */
static size_t pool_n;
static void **gpool;              /* the global page pool, gpool_n pages */
static _Atomic size_t gpool_n;
#if STORE_DEBUG
/* Debug builds: the class of each page of the arena (0: none), written by
 * whoever hands the page to a class or takes it away. */
static _Atomic uint8_t *page_class;

void
slab_page_owner_set(const void *page, unsigned id)
{
    size_t off = (size_t)((const char *)page - slab_arena);
    STORE_ASSERT((const char *)page >= slab_arena && off < arena_size && off % page_size == 0);
    atomic_store_explicit(&page_class[off / page_size], (uint8_t)id, memory_order_relaxed);
}

bool
slab_chunk_of_class(const void *chunk, unsigned id)
{
    const char *p = chunk;
    if (id < 1 || id > nclasses || p < slab_arena || p >= slab_arena + arena_size)
        return false;
    size_t off = (size_t)(p - slab_arena);
    if (atomic_load_explicit(&page_class[off / page_size], memory_order_relaxed) != id)
        return false;
    return (off % page_size) % classes[id].size == 0 && (off % page_size) / classes[id].size < classes[id].perslab;
}
#endif

static uint32_t
align_up(double v)
{
    uint64_t s = (uint64_t)v;
    if ((double)s < v)
        s++;
    uint64_t g = (uint64_t)1 << slab_shift;
    return (uint32_t)((s + g - 1) & ~(g - 1));
}

static void
class_init(unsigned id, uint32_t size)
{
    struct slab_class *c = &classes[id];
    memset(c, 0, sizeof(*c));
    pthread_mutex_init(&c->lock, NULL);
    c->id = id;
    c->size = size;
    c->perslab = (uint32_t)(page_size / size);
    c->cache_max = tcache_class_max(c->perslab);
    c->cache_batch = tcache_class_batch(c->cache_max);
}

int
slab_setup(const struct store_options *opts)
{
    if (opts->factor <= 1.0 || opts->item_size_max < 1024 ||
        opts->item_size_max > (size_t)1024 * 1024 * 1024 || opts->mem_limit > SLAB_LIMIT_MAX) {
        errno = EINVAL;
        return -1;
    }
    /* the finest granularity whose handles reach mem_limit (at 2^(32+s)
     * exactly, the last page is left out rather than coarsen every chunk) */
    slab_shift = SLAB_SHIFT_MIN;
    while (opts->mem_limit > (uint64_t)1 << (32 + slab_shift))
        slab_shift++;
    uint64_t granule = (uint64_t)1 << slab_shift;
    uint64_t arena_max = (uint64_t)UINT32_MAX << slab_shift; /* the last handle's granule */
    page_size = opts->item_size_max > SLAB_PAGE_MIN ? opts->item_size_max : SLAB_PAGE_MIN;
    page_size = (page_size + granule - 1) & ~(size_t)(granule - 1);
    atomic_store(&mem_limit, opts->mem_limit);
    item_max = opts->item_size_max;
    /* room to grow: every page the handles reach (cache_memlimit), else
     * (the address space refused) just -m */
    uint64_t npages = arena_max / page_size;
    if (npages * page_size > (uint64_t)(SIZE_MAX / 2)) /* a 32-bit address space */
        npages = (uint64_t)(SIZE_MAX / 2) / page_size;
    uint64_t need = opts->mem_limit / page_size;
    if (need * page_size > arena_max)
        need = arena_max / page_size;
    if (npages < need)
        npages = need;
    slab_arena = NULL;
    slab_arena_bias = 0;
    for (int attempt = 0; attempt < 2 && npages > 0; attempt++) {
        /* address space only: page_get() makes each page writable */
        arena_size = (size_t)(npages * page_size);
        void *m = largepage_map(arena_size, PROT_NONE, opts->large_pages, NULL);
        if (m != NULL) {
            slab_arena = m;
            slab_arena_bias = (uintptr_t)m - granule;
            break;
        }
        if (npages == need)
            return -1;
        npages = need;
    }
    if (slab_arena == NULL)
        npages = 0;
    arena_size = (size_t)(npages * page_size);
    pool = calloc(npages > 0 ? (size_t)npages : 1, sizeof(*pool));
    gpool = calloc(npages > 0 ? (size_t)npages : 1, sizeof(*gpool));
    if (pool == NULL || gpool == NULL) {
        free(pool);
        free(gpool);
        pool = gpool = NULL;
        if (slab_arena != NULL)
            munmap(slab_arena, arena_size);
        slab_arena = NULL;
        errno = ENOMEM;
        return -1;
    }
#if STORE_DEBUG
    page_class = calloc(npages > 0 ? (size_t)npages : 1, sizeof(*page_class));
    if (page_class == NULL) {
        free(pool);
        free(gpool);
        pool = gpool = NULL;
        if (slab_arena != NULL)
            munmap(slab_arena, arena_size);
        slab_arena = NULL;
        errno = ENOMEM;
        return -1;
    }
#endif
    atomic_store(&arena_next, 0);
    /* -L: mem_limit's pages writable in one call (memcached preallocates
     * them). Refused (vm.overcommit_memory=2 short of commit charge): the
     * pages are made writable one by one, as without the option */
    arena_rw = 0;
    size_t rw = (size_t)(need < npages ? need : npages) * page_size;
    if (opts->large_pages && slab_arena != NULL && rw > 0 &&
        mprotect(slab_arena, rw, PROT_READ | PROT_WRITE) == 0)
        arena_rw = rw;
    pool_n = 0;
    atomic_store(&gpool_n, 0);
    atomic_store(&total_malloced, 0);
    atomic_store(&malloc_fails, 0);
    atomic_store(&slab_fail_next_mallocs, 0);

    double limit = (double)opts->item_size_max / opts->factor;
    uint32_t size = align_up((double)(SLAB_CLASS1_HDR + opts->chunk_size));
    unsigned id = 1;
    while (id < STORE_CLASSES_MAX - 1 && size <= limit) {
        class_init(id++, size);
        uint32_t next = align_up((double)size * opts->factor);
        size = next > size ? next : size + (uint32_t)granule;
    }
    class_init(id, align_up((double)opts->item_size_max));
    nclasses = id;
    return 0;
}

void
slab_teardown(void)
{
    for (unsigned i = 1; i <= nclasses; i++) {
        struct slab_class *c = &classes[i];
        free(c->pages);
        pthread_mutex_destroy(&c->lock);
        memset(c, 0, sizeof(*c));
    }
    nclasses = 0;
    atomic_store(&total_malloced, 0);
    if (slab_arena != NULL)
        munmap(slab_arena, arena_size);
    slab_arena = NULL;
    arena_size = 0;
    arena_rw = 0;
#if STORE_DEBUG
    free(page_class);
    page_class = NULL;
#endif
    free(pool);
    free(gpool);
    pool = gpool = NULL;
    pool_n = 0;
    atomic_store(&gpool_n, 0);
}

unsigned
slab_nclasses(void)
{
    return nclasses;
}

size_t
slab_page_size(void)
{
    return page_size;
}

struct slab_class *
slab_class_get(unsigned id)
{
    return id >= 1 && id <= nclasses ? &classes[id] : NULL;
}

unsigned
slab_clsid(size_t size)
{
    if (nclasses == 0 || size > item_max)
        return 0;
    unsigned lo = 1, hi = nclasses;
    while (lo < hi) {  /* first class with size >= `size` */
        unsigned mid = (lo + hi) / 2;
        if (classes[mid].size >= size)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* Reserves one page of budget; false if it would pass mem_limit. */
static bool
budget_take(void)
{
    uint64_t cur = atomic_load_explicit(&total_malloced, memory_order_relaxed);
    do {
        if (cur + page_size > atomic_load_explicit(&mem_limit, memory_order_relaxed))
            return false;
    } while (!atomic_compare_exchange_weak_explicit(&total_malloced, &cur, cur + page_size,
                                                    memory_order_relaxed, memory_order_relaxed));
    return true;
}

/* A page from the pool, else a never-used one from the arena. The caller
 * holds one page of budget. */
static char *
page_get(void)
{
    pthread_mutex_lock(&pool_lock);
    char *page = pool_n > 0 ? pool[--pool_n] : NULL;
    pthread_mutex_unlock(&pool_lock);
    if (page != NULL) {
        if (mprotect(page, page_size, PROT_READ | PROT_WRITE) == 0)
            return page;
        /* not committed: back to the pool, the caller counts a failure */
        pthread_mutex_lock(&pool_lock);
        pool[pool_n++] = page;
        pthread_mutex_unlock(&pool_lock);
        return NULL;
    }
    uint64_t off = atomic_fetch_add_explicit(&arena_next, page_size, memory_order_relaxed);
    if (off + page_size > arena_size) {
        atomic_fetch_sub_explicit(&arena_next, page_size, memory_order_relaxed);
        return NULL;
    }
    /* Commits the page (this is where vm.overcommit_memory=2 may say no),
     * unless setup did (-L: below arena_rw). A page that fails stays
     * PROT_NONE, and its address range is not used again: with no memory
     * to commit, the store lives on with what it has. */
    if (off + page_size > arena_rw && mprotect(slab_arena + off, page_size, PROT_READ | PROT_WRITE) != 0)
        return NULL;
    return slab_arena + off;
}

static bool
page_new_locked(struct slab_class *c)
{
    slab_assert_locked(c);
    if (c->npages == c->pages_cap) {
        size_t cap = c->pages_cap ? c->pages_cap * 2 : 16;
        void **p = realloc(c->pages, cap * sizeof(*p));
        if (p == NULL) {
            atomic_fetch_add_explicit(&malloc_fails, 1, memory_order_relaxed);
            return false;
        }
        c->pages = p;
        c->pages_cap = cap;
    }
    /* the global pool first (its pages are counted already), unless the
     * limit was lowered below what is taken: then they go to the OS */
    char *page = slab_total_malloced() <= slab_mem_limit() ? slab_gpool_take() : NULL;
    if (page == NULL) {
        if (!budget_take())
            return false;
        unsigned inject = atomic_load_explicit(&slab_fail_next_mallocs, memory_order_relaxed);
        if (inject > 0)
            atomic_fetch_sub_explicit(&slab_fail_next_mallocs, 1, memory_order_relaxed);
        else
            page = page_get();
        if (page == NULL) {
            atomic_fetch_sub_explicit(&total_malloced, page_size, memory_order_relaxed);
            atomic_fetch_add_explicit(&malloc_fails, 1, memory_order_relaxed);
            return false;
        }
    }
    slab_page_owner(page, c->id);
    c->pages[c->npages] = page;
    __atomic_store_n(&c->npages, c->npages + 1, __ATOMIC_RELAXED); /* read unlocked by the page mover */
    c->end_ptr = page;
    c->end_left = c->perslab;
    return true;
}

void *
slab_alloc_locked(struct slab_class *c)
{
    slab_assert_locked(c);
    struct item *it = slab_item(c->free_list);
    if (it != NULL) {
        /* a chunk on the free list is FREE, and of this class's pages */
        STORE_ASSERT(item_state(it) == ITEM_FREE && slab_chunk_of_class(it, c->id));
        c->free_list = it->h_next;
        STAT_SUB(c->free_count, 1);
    } else {
        if (c->end_left == 0 && !page_new_locked(c))
            return NULL;
        it = (struct item *)c->end_ptr;
        c->end_ptr += c->size;
        c->end_left--;
    }
    /* in use from now on, before item_init() runs outside the lock: the
     * page mover must not take this chunk's page for a free one */
    atomic_store_explicit(&it->state, 0, memory_order_relaxed);
    STAT_INC(c->used_chunks);
    return it;
}

void
slab_free_locked(struct slab_class *c, void *chunk)
{
    struct item *it = chunk;
    slab_assert_locked(c);
    /* never freed twice, never while linked, only into its page's class */
    STORE_ASSERT(!(item_state(it) & (ITEM_FREE | ITEM_LINKED)) && slab_chunk_of_class(it, c->id));
    atomic_store_explicit(&it->state, ITEM_FREE, memory_order_relaxed);
    it->h_next = c->free_list;
    c->free_list = slab_handle(it);
    STAT_INC(c->free_count);
    STAT_SUB(c->used_chunks, 1);
}

uint32_t
slab_carved_locked(const struct slab_class *c, size_t idx)
{
    slab_assert_locked(c);
    const char *page = c->pages[idx];
    if (c->end_left > 0 && c->end_ptr >= page && c->end_ptr < page + page_size)
        return (uint32_t)((size_t)(c->end_ptr - page) / c->size);
    return c->perslab;
}

void
slab_page_release(void *page)
{
    /* into the pool first, then the budget: whoever takes the budget back
     * finds the page there rather than carving a new one */
    slab_page_owner(page, 0);
    /* the memory goes back to the OS; the address range stays reserved */
    (void)madvise(page, page_size, MADV_DONTNEED);
    (void)mprotect(page, page_size, PROT_NONE);
    pthread_mutex_lock(&pool_lock);
    pool[pool_n++] = page;
    pthread_mutex_unlock(&pool_lock);
    atomic_fetch_sub_explicit(&total_malloced, page_size, memory_order_relaxed);
}

void
slab_gpool_put(void *page)
{
    slab_page_owner(page, 0);
    pthread_mutex_lock(&pool_lock);
    gpool[atomic_load_explicit(&gpool_n, memory_order_relaxed)] = page;
    atomic_fetch_add_explicit(&gpool_n, 1, memory_order_relaxed);
    pthread_mutex_unlock(&pool_lock);
}

void *
slab_gpool_take(void)
{
    if (atomic_load_explicit(&gpool_n, memory_order_relaxed) == 0)
        return NULL;
    void *page = NULL;
    pthread_mutex_lock(&pool_lock);
    size_t n = atomic_load_explicit(&gpool_n, memory_order_relaxed);
    if (n > 0) {
        page = gpool[n - 1];
        atomic_store_explicit(&gpool_n, n - 1, memory_order_relaxed);
    }
    pthread_mutex_unlock(&pool_lock);
    return page;
}

size_t
slab_gpool_count(void)
{
    return atomic_load_explicit(&gpool_n, memory_order_relaxed);
}

bool
slab_mem_limit_set(uint64_t bytes)
{
    if (bytes > arena_size)
        return false;
    atomic_store_explicit(&mem_limit, bytes, memory_order_relaxed);
    return true;
}

uint64_t
slab_mem_limit_max(void)
{
    return arena_size;
}

uint64_t
slab_total_malloced(void)
{
    return atomic_load_explicit(&total_malloced, memory_order_relaxed);
}

uint64_t
slab_malloc_fails(void)
{
    return atomic_load_explicit(&malloc_fails, memory_order_relaxed);
}

uint64_t
slab_mem_limit(void)
{
    return atomic_load_explicit(&mem_limit, memory_order_relaxed);
}
