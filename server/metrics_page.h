/*
 * metrics_page.h - the page GET /metrics answers: every metric of the
 * prometheus/memcached_exporter project that mcd can fill (metrics.def),
 * read through stats_group() (the per-thread counters summed the way
 * `stats` sums them, no lock on the request path), plus mcd's own request
 * latency histograms and hot keys. Plain memory in, plain memory out: the
 * HTTP side is metrics_http.c.
 */
#ifndef MCD_METRICS_PAGE_H
#define MCD_METRICS_PAGE_H

#include <stdbool.h>

struct expo_buf;

/* Appends the whole page to b. Returns false when memory ran out (b->oom:
 * the page is incomplete and must not be served). */
bool metrics_page_write(struct expo_buf *b);

#endif /* MCD_METRICS_PAGE_H */
