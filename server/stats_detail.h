/*
 * stats_detail.h - per-prefix request counts (`stats detail on|off|dump`,
 * -D): the part of a key before the delimiter is its prefix; keys without
 * one are not counted. Each thread counts into its own table, under a lock
 * of its own that only a dump or a reset also takes, so the request path
 * shares no lock; while detail is off the hooks are one relaxed load.
 */
#ifndef MCD_STATS_DETAIL_H
#define MCD_STATS_DETAIL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

enum detail_op { DETAIL_GET, DETAIL_SET, DETAIL_DEL };

extern _Atomic bool stats_detail_on;

void stats_detail_record(const char *key, size_t nkey, enum detail_op op, bool hit);

static inline void stats_detail(const char *key, size_t nkey, enum detail_op op, bool hit)
{
    if (atomic_load_explicit(&stats_detail_on, memory_order_relaxed))
        stats_detail_record(key, nkey, op, hit);
}

/* `stats detail on|off`. */
void stats_detail_enable(bool on);
/* The dump, memcached's "PREFIX <p> get N hit N set N del N\r\n" lines and
 * "END\r\n", in a malloc'd buffer (*len bytes), or NULL when out of memory. */
char *stats_detail_dump(size_t *len);
/* `stats reset`: forgets every prefix. */
void stats_detail_clear(void);

#endif /* MCD_STATS_DETAIL_H */
