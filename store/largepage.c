/*
 * largepage.c - 2 MB aligned, MADV_HUGEPAGE-advised anonymous mappings for
 * the item arenas of both engines (largepage.h).
 */
#include "config.h"

#include "store/largepage.h"

#include <stdint.h>
#include <sys/mman.h>

#define MAP_FLAGS (MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE)

/* Reserves len + LARGEPAGE_SIZE and unmaps what lies before the first
 * boundary and after start + len. NULL if the larger range is refused. */
static char *
map_aligned(size_t len, int prot)
{
    if (len > SIZE_MAX - LARGEPAGE_SIZE)
        return NULL;
    size_t span = len + LARGEPAGE_SIZE;
    void *m = mmap(NULL, span, prot, MAP_FLAGS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    uintptr_t base = (uintptr_t)m;
    uintptr_t start = (base + LARGEPAGE_SIZE - 1) & ~(uintptr_t)(LARGEPAGE_SIZE - 1);
    size_t head = (size_t)(start - base);
    size_t tail = span - head - len;
    if (head > 0)
        (void)munmap(m, head);
    if (tail > 0)
        (void)munmap((char *)start + len, tail);
    return (char *)start;
}

void *
largepage_map(size_t len, int prot, bool large, bool *advised)
{
    if (advised != NULL)
        *advised = false;
    char *p = large ? map_aligned(len, prot) : NULL;
    if (p == NULL) {
        /* no option, or no room for the margin: the plain mapping */
        void *m = mmap(NULL, len, prot, MAP_FLAGS, -1, 0);
        if (m == MAP_FAILED)
            return NULL;
        p = m;
    }
#ifdef MADV_HUGEPAGE
    if (large) {
        /* a PROT_NONE range takes the advice too: it is a flag of the
         * mapping, kept by the pieces that mprotect() later splits off */
        bool ok = madvise(p, len, MADV_HUGEPAGE) == 0;
        if (advised != NULL)
            *advised = ok;
    }
#endif
    return p;
}
