/*
 * process_slabs.c - `slabs automove`, `slabs reassign` and `cache_memlimit`
 * (see process_slabs.h). The replies and their order of checks are
 * memcached 1.6.45's, checked against it (tests/integration/test_slabs):
 *   slabs reassign: BUSY while a move runs, SAME (src == dst, checked
 *     before the ids), BADCLASS (not 0..classes, or -1 with no class to
 *     spare a page), NOSPARE (the source, 0 the global page pool too, has
 *     fewer than 2 pages), else OK and the move runs on the
 *     store's mover thread. 1.6.45 never answers NOTFULL nor UNSAFE,
 *     which protocol.txt still lists; neither does mcd.
 *   cache_memlimit M: M < 8 MEMLIMIT_TOO_SMALL, M > 10^9 (megabytes)
 *     MEMLIMIT_ADJUST_FAILED ... megabytes not bytes, beyond the arena
 *     reserved at start-up MEMLIMIT_ADJUST_FAILED out of bounds ..., else
 *     OK: -m is M megabytes from now on.
 */
#include "config.h"

#include "server/process_slabs.h"

#include "store/store.h"

#define MEMLIMIT_MIN_MB 8
#define MEMLIMIT_MAX_MB 1000000000u

static const char *reassign(int64_t src, int64_t dst)
{
    switch (store_slabs_reassign(src, dst)) {
    case STORE_REASSIGN_OK: return "OK";
    case STORE_REASSIGN_BUSY: return "BUSY currently processing reassign request";
    case STORE_REASSIGN_BADCLASS: return "BADCLASS invalid src or dst class id";
    case STORE_REASSIGN_NOSPARE: return "NOSPARE source class has no spare pages";
    case STORE_REASSIGN_SAME: return "SAME src and dst class are identical";
    }
    return "ERROR";
}

static const char *memlimit(int64_t megs)
{
    if (megs < MEMLIMIT_MIN_MB)
        return "MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m";
    if (megs > MEMLIMIT_MAX_MB)
        return "MEMLIMIT_ADJUST_FAILED input value is megabytes not bytes";
    if (!store_mem_limit_set((uint64_t)megs * 1024 * 1024))
        return "MEMLIMIT_ADJUST_FAILED out of bounds or unable to adjust";
    return "OK";
}

const char *process_slabs(const struct mc_request *req)
{
    if (req->cmd == MC_CMD_CACHE_MEMLIMIT)
        return memlimit(req->delay);
    if (req->reassign)
        return reassign(req->slab_src, req->slab_dst);
    store_slabs_automove_set((unsigned)req->delay);
    return "OK";
}
