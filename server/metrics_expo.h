/*
 * metrics_expo.h - the Prometheus text exposition format (version 0.0.4)
 * written into a growable plain buffer: metric families (# HELP, # TYPE),
 * samples with escaped label values, histograms. Knows nothing of mcd's
 * stats or of HTTP (metrics_page.c decides what to write, metrics_http.c
 * serves it), so it is unit-tested and fuzzed on its own.
 */
#ifndef MCD_METRICS_EXPO_H
#define MCD_METRICS_EXPO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EXPO_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct expo_buf {
    char *data;
    size_t len;
    size_t cap;
    bool oom;       /* an append failed: the page is incomplete */
};

/* One label: name (a valid label name, not escaped) and value (any bytes,
 * escaped when written). */
struct expo_label {
    const char *name;
    const char *value;
    size_t value_len;
};

void expo_init(struct expo_buf *b);
void expo_free(struct expo_buf *b);

/* Appends raw bytes (no escaping). */
void expo_put(struct expo_buf *b, const char *s, size_t n);

/*
 * "# HELP name help" and "# TYPE name type" (type: counter, gauge,
 * histogram, untyped). help is escaped (backslash, newline); its other
 * bytes that are not printable ASCII are written as '?'.
 */
void expo_family(struct expo_buf *b, const char *name, const char *type, const char *help);

/*
 * One sample line: name{labels} value. nlabels may be 0. Label values may
 * hold any bytes: once the format's escaping is undone, a value reads as
 * its bytes with a backslash doubled and every byte that is not printable
 * ASCII as the four characters \xHH. So the page stays valid UTF-8 and
 * two keys never give the same label value.
 */
void expo_sample_u64(struct expo_buf *b, const char *name, const struct expo_label *labels, size_t nlabels,
                     uint64_t v);
void expo_sample_f64(struct expo_buf *b, const char *name, const struct expo_label *labels, size_t nlabels,
                     double v);
/* num is written as it is: the caller has checked it is a number
 * ("123", "0.25"). */
void expo_sample_num(struct expo_buf *b, const char *name, const struct expo_label *labels, size_t nlabels,
                     const char *num);

/*
 * The samples of one histogram series (the family line is the caller's):
 * name_bucket{labels,le="bound"} for each of the n buckets, cumulative, then
 * le="+Inf", name_sum and name_count. bounds[i] is bucket i's upper bound
 * in the histogram's unit; counts[i] the observations in bucket i alone
 * (not cumulative); overflow counts those above the last bound. Bounds and
 * sum are divided by per_unit into the exported unit (1e6: microseconds to
 * seconds; a division, so 10 us is exactly "1e-05").
 */
void expo_histogram(struct expo_buf *b, const char *name, const struct expo_label *labels, size_t nlabels,
                    const uint64_t *bounds, const uint64_t *counts, size_t n, uint64_t overflow, double sum,
                    double per_unit);

#endif /* MCD_METRICS_EXPO_H */
