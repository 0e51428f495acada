/*
 * latency.c - per-command latency histograms (see latency.h): one block of
 * histograms per recording thread, registered once, summed on read.
 *
 * Locks: registry_lock guards the list of blocks; it is taken when a
 * thread makes its block (once in its life) and by readers, never on a
 * record. A block's cells have one writer, its thread (relaxed load and
 * store); readers load them relaxed. A reset bumps `generation`; the owner
 * zeroes its block when it sees the change (at its next record) and then
 * publishes the generation with release, and a reader skips any block
 * whose generation is not the current one.
 */
#include "config.h"

#include "server/latency.h"

#include "proto/meta.h"
#include "proto/proto.h"
#include "server/process.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct lat_cell {
    _Atomic uint64_t sum_ns;
    _Atomic uint64_t max_ns;
    _Atomic uint64_t buckets[LATENCY_BUCKETS];
};

struct latency_hist {
    struct latency_hist *next;     /* registry_lock */
    _Atomic uint64_t gen;          /* the generation the cells count since */
    struct lat_cell cmd[LAT__COUNT];
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct latency_hist *registry;
static _Atomic uint64_t generation = 1;
static _Thread_local struct latency_hist *self;

bool latency_enabled = true;

static const char *const cmd_names[] = {
#define X(id, name) name,
    LATENCY_COMMANDS(X)
#undef X
};

const char *latency_cmd_name(enum latency_cmd c)
{
    return (unsigned)c < LAT__COUNT ? cmd_names[c] : NULL;
}

void latency_set_enabled(bool on)
{
    latency_enabled = on;
}

size_t latency_bucket_count(void)
{
    return LATENCY_BUCKETS;
}

uint64_t latency_bucket_lower_ns(size_t i)
{
    if (i < (1u << LATENCY_SUB_BITS))
        return i;
    unsigned shift = (unsigned)(i >> LATENCY_SUB_BITS) - 1;
    uint64_t sub = i & ((1u << LATENCY_SUB_BITS) - 1);
    return ((1ull << LATENCY_SUB_BITS) + sub) << shift;
}

uint64_t latency_bucket_upper_ns(size_t i)
{
    if (i + 1 >= LATENCY_BUCKETS)
        return UINT64_MAX;
    return latency_bucket_lower_ns(i + 1) - 1;
}

uint64_t latency_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    return ns != 0 ? ns : 1;
}

enum latency_cmd latency_cmd_of(const struct request *req)
{
    if (req->kind == REQUEST_META) {
        switch (req->meta.cmd) {
        case META_CMD_MG: return LAT_MG;
        case META_CMD_MS: return LAT_MS;
        case META_CMD_MD: return LAT_MD;
        case META_CMD_MA: return LAT_MA;
        case META_CMD_MN: return LAT_MN;
        case META_CMD_ME: return LAT_ME;
        default: return LAT_NONE;
        }
    }
    switch (req->mc.cmd) {
    case MC_CMD_GET: return LAT_GET;
    case MC_CMD_GETS: return LAT_GETS;
    case MC_CMD_GAT: return LAT_GAT;
    case MC_CMD_GATS: return LAT_GATS;
    case MC_CMD_SET: return LAT_SET;
    case MC_CMD_ADD: return LAT_ADD;
    case MC_CMD_REPLACE: return LAT_REPLACE;
    case MC_CMD_APPEND: return LAT_APPEND;
    case MC_CMD_PREPEND: return LAT_PREPEND;
    case MC_CMD_CAS: return LAT_CAS;
    case MC_CMD_DELETE: return LAT_DELETE;
    case MC_CMD_INCR: return LAT_INCR;
    case MC_CMD_DECR: return LAT_DECR;
    case MC_CMD_TOUCH: return LAT_TOUCH;
    default: return LAT_NONE;
    }
}

static inline void bump(_Atomic uint64_t *c, uint64_t v)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v, memory_order_relaxed);
}

/* This thread's block, made and registered on first use; zeroed when a
 * reset happened since it last counted. NULL when out of memory. */
static struct latency_hist *own_block(uint64_t gen)
{
    struct latency_hist *h = self;
    if (h == NULL) {
        h = calloc(1, sizeof(*h));
        if (h == NULL)
            return NULL;
        pthread_mutex_lock(&registry_lock);
        h->next = registry;
        registry = h;
        pthread_mutex_unlock(&registry_lock);
        self = h;
    } else {
        for (unsigned c = 0; c < LAT__COUNT; c++) {
            struct lat_cell *x = &h->cmd[c];
            atomic_store_explicit(&x->sum_ns, 0, memory_order_relaxed);
            atomic_store_explicit(&x->max_ns, 0, memory_order_relaxed);
            for (size_t b = 0; b < LATENCY_BUCKETS; b++)
                atomic_store_explicit(&x->buckets[b], 0, memory_order_relaxed);
        }
    }
    atomic_store_explicit(&h->gen, gen, memory_order_release);
    return h;
}

void latency_record(enum latency_cmd c, uint64_t ns)
{
    if ((unsigned)c >= LAT__COUNT)
        return;
    uint64_t gen = atomic_load_explicit(&generation, memory_order_relaxed);
    struct latency_hist *h = self;
    if (__builtin_expect(h == NULL || atomic_load_explicit(&h->gen, memory_order_relaxed) != gen, 0)) {
        h = own_block(gen);
        if (h == NULL)
            return;
    }
    struct lat_cell *x = &h->cmd[c];
    bump(&x->buckets[latency_bucket_of(ns)], 1);
    bump(&x->sum_ns, ns);
    if (ns > atomic_load_explicit(&x->max_ns, memory_order_relaxed))
        atomic_store_explicit(&x->max_ns, ns, memory_order_relaxed);
}

void latency_reset(void)
{
    atomic_fetch_add(&generation, 1);
}

void latency_snapshot(struct latency_snapshot *out)
{
    memset(out, 0, sizeof(*out));
    uint64_t gen = atomic_load(&generation);
    pthread_mutex_lock(&registry_lock);
    for (struct latency_hist *h = registry; h != NULL; h = h->next) {
        if (atomic_load_explicit(&h->gen, memory_order_acquire) != gen)
            continue; /* reset since it last counted: zero */
        for (unsigned c = 0; c < LAT__COUNT; c++) {
            struct lat_cell *x = &h->cmd[c];
            struct latency_cmd_snap *s = &out->cmd[c];
            for (size_t b = 0; b < LATENCY_BUCKETS; b++) {
                uint64_t v = atomic_load_explicit(&x->buckets[b], memory_order_relaxed);
                s->buckets[b] += v;
                s->count += v;
            }
            s->sum_ns += atomic_load_explicit(&x->sum_ns, memory_order_relaxed);
            uint64_t m = atomic_load_explicit(&x->max_ns, memory_order_relaxed);
            if (m > s->max_ns)
                s->max_ns = m;
        }
    }
    pthread_mutex_unlock(&registry_lock);
}

uint64_t latency_quantile_ns(const struct latency_cmd_snap *s, double q)
{
    if (s->count == 0)
        return 0;
    if (q > 1)
        q = 1;
    double r = q * (double)s->count;
    uint64_t rank = (uint64_t)r;
    if ((double)rank < r)
        rank++;
    if (rank == 0)
        rank = 1;
    uint64_t seen = 0;
    for (size_t b = 0; b < LATENCY_BUCKETS; b++) {
        seen += s->buckets[b];
        if (seen >= rank) {
            uint64_t lo = latency_bucket_lower_ns(b);
            uint64_t hi = b + 1 < LATENCY_BUCKETS ? latency_bucket_upper_ns(b) : lo;
            uint64_t mid = lo + (hi - lo + 1) / 2;
            if (hi == lo)
                mid = lo;
            return mid < s->max_ns ? mid : s->max_ns;
        }
    }
    return s->max_ns;
}

uint64_t latency_count_le(const struct latency_cmd_snap *s, uint64_t le_ns)
{
    uint64_t n = 0;
    for (size_t b = 0; b < LATENCY_BUCKETS && latency_bucket_upper_ns(b) <= le_ns; b++)
        n += s->buckets[b];
    return n;
}

/* ns as microseconds with three decimals */
static void emit_us(stats_emit_fn emit, void *ctx, const char *cmd, const char *what, uint64_t ns)
{
    char name[64], val[32];
    snprintf(name, sizeof(name), "%s:%s", cmd, what);
    snprintf(val, sizeof(val), "%llu.%03llu", (unsigned long long)(ns / 1000), (unsigned long long)(ns % 1000));
    emit(ctx, name, val);
}

void latency_stats(stats_emit_fn emit, void *ctx)
{
    static const struct {
        const char *name;
        double q;
    } qs[] = {{"p50_us", 0.5}, {"p90_us", 0.9}, {"p99_us", 0.99}, {"p999_us", 0.999}};
    struct latency_snapshot *snap = malloc(sizeof(*snap));
    if (snap == NULL)
        return;
    latency_snapshot(snap);
    for (unsigned c = 0; c < LAT__COUNT; c++) {
        const struct latency_cmd_snap *s = &snap->cmd[c];
        if (s->count == 0)
            continue;
        char name[64], val[32];
        snprintf(name, sizeof(name), "%s:count", cmd_names[c]);
        snprintf(val, sizeof(val), "%llu", (unsigned long long)s->count);
        emit(ctx, name, val);
        for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++)
            emit_us(emit, ctx, cmd_names[c], qs[i].name, latency_quantile_ns(s, qs[i].q));
        emit_us(emit, ctx, cmd_names[c], "max_us", s->max_ns);
    }
    free(snap);
}
