/*
 * latency.h - per-command latency histograms: recorded per thread with no
 * lock, summed on read (`stats latency`, the Prometheus endpoint).
 *
 * What is measured: from the moment the worker starts on a request (just
 * after its parse; for a storage command, its header's) to the moment its
 * reply is queued on the connection. The request path reads the clock
 * (latency_now(): the time-stamp counter or CLOCK_MONOTONIC) once per request, plus once per batch of pipelined
 * requests: a request's start is the previous request's end in the same
 * batch (see session.c). A storage command whose value arrives in a later
 * read, and a multi-key get resumed once its output drained, are timed
 * from the start of the batch that finishes them.
 *
 * Buckets are log-linear, as HdrHistogram's: values below
 * 2^(LATENCY_SUB_BITS+1) ns each have a bucket; above, every power of two is cut into
 * 2^LATENCY_SUB_BITS equal buckets, so a bucket is at most 1/32 of its
 * values wide and its midpoint is within 1.6% of any value in it. Values
 * from 2^LATENCY_MAX_LOG2 ns (about 137 s) up share the last bucket.
 *
 * Threads: each thread that records owns one histogram block (made on its
 * first record and kept to the end of the process) and is its only writer
 * (relaxed atomic load and store, no read-modify-write). Readers load each
 * cell relaxed and add up the blocks; a snapshot is as consistent as the
 * `stats` counters are. `stats reset` bumps a generation: a reader skips a
 * block of an older generation, and its owner zeroes it at its next record.
 */
#ifndef MCD_LATENCY_H
#define MCD_LATENCY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "server/stats.h"

struct request;

/* One label per command; binary opcodes count under their text command's
 * label (GetQ, GetK, GetKQ: get; SetQ: set; Increment: incr; ...). */
#define LATENCY_COMMANDS(X) \
    X(GET, "get") X(GETS, "gets") X(GAT, "gat") X(GATS, "gats") \
    X(SET, "set") X(ADD, "add") X(REPLACE, "replace") X(APPEND, "append") X(PREPEND, "prepend") \
    X(CAS, "cas") X(DELETE, "delete") X(INCR, "incr") X(DECR, "decr") X(TOUCH, "touch") \
    X(MG, "mg") X(MS, "ms") X(MD, "md") X(MA, "ma") X(MN, "mn") X(ME, "me")

enum latency_cmd {
#define X(id, name) LAT_##id,
    LATENCY_COMMANDS(X)
#undef X
    LAT__COUNT,
    LAT_NONE = LAT__COUNT, /* a command with no histogram (stats, version, ...) */
};

/* The label of a command, e.g. "get"; NULL for LAT_NONE. */
const char *latency_cmd_name(enum latency_cmd c);

#define LATENCY_SUB_BITS 5
#define LATENCY_MAX_LOG2 37
#define LATENCY_BUCKETS ((LATENCY_MAX_LOG2 - LATENCY_SUB_BITS + 1) << LATENCY_SUB_BITS)

/* The bucket of a value in ns (0 .. LATENCY_BUCKETS-1; monotone in ns). */
static inline size_t latency_bucket_of(uint64_t ns)
{
    /* with e = floor(log2(v | 2^S)) and shift = e - S, the bucket is
     * (shift << S) + (v >> shift): v itself below 2^(S+1) (shift 0), then
     * 2^S buckets per power of two; v is clamped below 2^MAX_LOG2 */
    const uint64_t lim = (1ull << LATENCY_MAX_LOG2) - 1;
    uint64_t v = ns < lim ? ns : lim;
    unsigned shift = (63u ^ (unsigned)__builtin_clzll(v | (1u << LATENCY_SUB_BITS))) - LATENCY_SUB_BITS;
    return ((size_t)shift << LATENCY_SUB_BITS) + (size_t)(v >> shift);
}

/* The number of buckets, and the lowest and highest value in ns that
 * bucket i holds (latency_bucket_upper_ns(i) < latency_bucket_lower_ns(i+1);
 * the last bucket's upper bound is UINT64_MAX). Prometheus `le` bounds: a
 * bucket counts under `le` when its upper bound is at most `le`. */
size_t latency_bucket_count(void);
uint64_t latency_bucket_lower_ns(size_t i);
uint64_t latency_bucket_upper_ns(size_t i);

/* One command's figures, summed over the threads. count is the sum of
 * buckets[]; sum_ns is the sum of every value (Prometheus `_sum`). */
struct latency_cmd_snap {
    uint64_t count;
    uint64_t sum_ns;
    uint64_t max_ns;
    uint64_t buckets[LATENCY_BUCKETS];
};

/* Every command's (about 170 KB: allocate it, not on a worker's stack). */
struct latency_snapshot {
    struct latency_cmd_snap cmd[LAT__COUNT];
};

/* Fills *out with the figures since start or the last reset, summed over
 * every thread's block. No lock on any writer; takes the registry lock
 * (setup and `stats` only). */
void latency_snapshot(struct latency_snapshot *out);

/* The value in ns at quantile q (0 < q <= 1) of one command: the midpoint
 * of the bucket where the rank ceil(q*count) falls, but never above
 * max_ns (and max_ns itself for the last rank). 0 when count is 0. */
uint64_t latency_quantile_ns(const struct latency_cmd_snap *s, double q);

/* How many of one command's values fall in buckets whose upper bound is at
 * most le_ns (a Prometheus cumulative bucket, `le` in ns). */
uint64_t latency_count_le(const struct latency_cmd_snap *s, uint64_t le_ns);

/* `stats reset`: every thread's histograms start again from zero. */
void latency_reset(void);

/* On (the default) unless `-o no_latency`; set before the workers start. */
void latency_set_enabled(bool on);
extern bool latency_enabled;

/* `stats latency`: per command with a count above 0, in LATENCY_COMMANDS
 * order, "<cmd>:count", ":p50_us", ":p90_us", ":p99_us", ":p999_us",
 * ":max_us" (microseconds with three decimals). */
void latency_stats(stats_emit_fn emit, void *ctx);

/* ---- the request path ---- */

/*
 * The request path's clock (latency_clock.c). Where the kernel itself keeps
 * time with the CPU's time-stamp counter (clocksource "tsc": it checked that
 * the counter ticks at one rate in every power state and agrees between
 * CPUs), latency_now() is that counter: one instruction, where
 * clock_gettime()'s vDSO path runs about 60 and takes about 23 ns here, on
 * every request. Elsewhere it is CLOCK_MONOTONIC in ns. latency_clock_setup()
 * chooses and calibrates, before the workers start; until then the clock
 * is CLOCK_MONOTONIC.
 */
extern bool latency_clock_tsc;
extern uint64_t latency_clock_mult; /* ns per tick, as a 32.32 fixed-point number */

/* Chooses the clock (above); returns whether it is the time-stamp counter. */
bool latency_clock_setup(void);

/* A reading of the clock, in its own units; never 0 (0 means "not started"). */
static inline uint64_t latency_now(void)
{
#if defined(__x86_64__) || defined(__i386__)
    if (latency_clock_tsc)
        return __builtin_ia32_rdtsc() | 1;
#endif
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec + 1;
}

/* The ns between two readings, later - earlier (0 if the counters of two
 * CPUs disagreed by more than the time between). */
static inline uint64_t latency_elapsed_ns(uint64_t earlier, uint64_t later)
{
    if (later <= earlier)
        return 0;
    uint64_t d = later - earlier;
    if (latency_clock_tsc)
        return (uint64_t)(((unsigned __int128)d * latency_clock_mult) >> 32);
    return d;
}

/* The label of a parsed request (LAT_NONE: not measured). */
enum latency_cmd latency_cmd_of(const struct request *req);

/* A thread's histograms (latency.c makes them; the fields are here only
 * so that latency_record() can be inline). */
struct latency_cell {
    _Atomic uint64_t sum_ns;
    _Atomic uint64_t max_ns;
    _Atomic uint64_t buckets[LATENCY_BUCKETS];
};
struct latency_hist {
    struct latency_hist *next;     /* latency.c's registry_lock */
    _Atomic uint64_t gen;          /* the reset generation the cells count since */
    struct latency_cell cmd[LAT__COUNT];
};
extern _Thread_local struct latency_hist *latency_self; /* NULL until the first record */
extern _Atomic uint64_t latency_generation;

/* latency_record() when this thread has no block yet, a reset happened, or
 * c is LAT_NONE. */
void latency_record_slow(enum latency_cmd c, uint64_t ns);

static inline void latency_add(_Atomic uint64_t *cell, uint64_t v)
{
    atomic_store_explicit(cell, atomic_load_explicit(cell, memory_order_relaxed) + v, memory_order_relaxed);
}

/* Adds one value to this thread's histogram of command c (LAT_NONE is
 * ignored). No lock; makes the thread's block on first use. */
static inline void latency_record(enum latency_cmd c, uint64_t ns)
{
    struct latency_hist *h = latency_self;
    if (__builtin_expect(h == NULL || (unsigned)c >= LAT__COUNT ||
                             atomic_load_explicit(&h->gen, memory_order_relaxed) !=
                                 atomic_load_explicit(&latency_generation, memory_order_relaxed),
                         0)) {
        latency_record_slow(c, ns);
        return;
    }
    struct latency_cell *x = &h->cmd[c];
    latency_add(&x->buckets[latency_bucket_of(ns)], 1);
    latency_add(&x->sum_ns, ns);
    if (ns > atomic_load_explicit(&x->max_ns, memory_order_relaxed))
        atomic_store_explicit(&x->max_ns, ns, memory_order_relaxed);
}

#endif /* MCD_LATENCY_H */
