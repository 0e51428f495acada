/*
 * largepage.h - anonymous mappings for item memory that ask for
 * transparent huge pages (store_options.large_pages, memcached's -L).
 *
 * With `large`, the mapping starts on a LARGEPAGE_SIZE boundary (more is
 * reserved, then the ends are unmapped) and the whole range is advised
 * MADV_HUGEPAGE, so that the kernel (THP "madvise" or "always") backs each
 * aligned 2 MB of it with one huge page when it is first touched, or
 * khugepaged later collapses it. The advice is a hint: a kernel without
 * THP refuses it and the mapping stays an ordinary one, which works the
 * same. Without `large`, a plain mmap, as before the option existed.
 */
#ifndef MCD_STORE_LARGEPAGE_H
#define MCD_STORE_LARGEPAGE_H

#include <stdbool.h>
#include <stddef.h>

/* The huge page size of x86-64 and arm64 with 4 KB base pages: the
 * alignment asked for. (A kernel with another size still takes the advice;
 * it just finds fewer aligned ranges.) */
#define LARGEPAGE_SIZE ((size_t)2 << 20)

/* mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE);
 * with `large` as above. Returns the start, or NULL (errno set). Give it
 * back with munmap(start, len). *advised (may be NULL) says whether the
 * kernel took the MADV_HUGEPAGE advice. */
void *largepage_map(size_t len, int prot, bool large, bool *advised);

#endif /* MCD_STORE_LARGEPAGE_H */
