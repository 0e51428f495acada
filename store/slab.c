/*
 * slab.c - slab classes, pages and the memory limit.
 *
 * Owns the class table (immutable after setup except what each class lock
 * guards, see slab.h) and the page budget: `total_malloced` is reserved
 * with a compare-and-swap BEFORE malloc, so concurrent classes can never
 * take more than mem_limit together, no lock involved.
 *
 * Memory bound policy (strict): a page is taken only if the running total
 * plus one page stays <= mem_limit. There is no "first page per class"
 * allowance: with a limit smaller than one page nothing can be stored, and
 * a class that finds the budget spent by other classes while it owns no
 * page returns STORE_NO_MEMORY (there is no page rebalancing).
 */
#include "config.h"

#include "store/slab.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

_Atomic unsigned slab_fail_next_mallocs;

static struct slab_class classes[STORE_CLASSES_MAX];
static unsigned nclasses;
static size_t page_size;
static uint64_t mem_limit;
static _Atomic uint64_t total_malloced;
static _Atomic uint64_t malloc_fails;

static uint32_t
align_up(double v)
{
    uint64_t s = (uint64_t)v;
    if ((double)s < v)
        s++;
    return (uint32_t)((s + SLAB_ALIGN - 1) & ~(uint64_t)(SLAB_ALIGN - 1));
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
    c->marker.iflags = ITEM_MARKER;
    c->marker.clsid = (uint8_t)id;
}

int
slab_setup(const struct store_options *opts)
{
    if (opts->factor <= 1.0 || opts->item_size_max < 1024 ||
        opts->item_size_max > (size_t)1024 * 1024 * 1024) {
        errno = EINVAL;
        return -1;
    }
    page_size = opts->item_size_max > SLAB_PAGE_MIN ? opts->item_size_max : SLAB_PAGE_MIN;
    mem_limit = opts->mem_limit;
    atomic_store(&total_malloced, 0);
    atomic_store(&malloc_fails, 0);
    atomic_store(&slab_fail_next_mallocs, 0);

    double limit = (double)opts->item_size_max / opts->factor;
    uint32_t size = align_up((double)(sizeof(struct item) + opts->chunk_size));
    unsigned id = 1;
    while (id < STORE_CLASSES_MAX - 1 && size <= limit) {
        class_init(id++, size);
        uint32_t next = align_up((double)size * opts->factor);
        size = next > size ? next : size + SLAB_ALIGN;
    }
    class_init(id, (uint32_t)opts->item_size_max);
    nclasses = id;
    return 0;
}

void
slab_teardown(void)
{
    for (unsigned i = 1; i <= nclasses; i++) {
        struct slab_class *c = &classes[i];
        for (size_t p = 0; p < c->npages; p++)
            free(c->pages[p]);
        free(c->pages);
        pthread_mutex_destroy(&c->lock);
        memset(c, 0, sizeof(*c));
    }
    nclasses = 0;
    atomic_store(&total_malloced, 0);
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
    if (nclasses == 0 || size > classes[nclasses].size)
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
        if (cur + page_size > mem_limit)
            return false;
    } while (!atomic_compare_exchange_weak_explicit(&total_malloced, &cur, cur + page_size,
                                                    memory_order_relaxed, memory_order_relaxed));
    return true;
}

static bool
page_new_locked(struct slab_class *c)
{
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
    if (!budget_take())
        return false;
    char *page = NULL;
    unsigned inject = atomic_load_explicit(&slab_fail_next_mallocs, memory_order_relaxed);
    if (inject > 0)
        atomic_fetch_sub_explicit(&slab_fail_next_mallocs, 1, memory_order_relaxed);
    else
        page = malloc(page_size);
    if (page == NULL) {
        atomic_fetch_sub_explicit(&total_malloced, page_size, memory_order_relaxed);
        atomic_fetch_add_explicit(&malloc_fails, 1, memory_order_relaxed);
        return false;
    }
    c->pages[c->npages] = page;
    __atomic_store_n(&c->npages, c->npages + 1, __ATOMIC_RELAXED); /* read unlocked by the page mover */
    c->end_ptr = page;
    c->end_left = c->perslab;
    return true;
}

void *
slab_alloc_locked(struct slab_class *c)
{
    struct item *it = c->free_list;
    if (it != NULL) {
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
    atomic_store_explicit(&it->iflags, 0, memory_order_relaxed);
    STAT_INC(c->used_chunks);
    return it;
}

void
slab_free_locked(struct slab_class *c, void *chunk)
{
    struct item *it = chunk;
    atomic_store_explicit(&it->iflags, ITEM_FREE, memory_order_relaxed);
    it->h_next = c->free_list;
    c->free_list = it;
    STAT_INC(c->free_count);
    STAT_SUB(c->used_chunks, 1);
}

void
slab_page_release(void *page)
{
    free(page);
    atomic_fetch_sub_explicit(&total_malloced, page_size, memory_order_relaxed);
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
    return mem_limit;
}
