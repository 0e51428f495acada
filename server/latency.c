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

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct latency_hist *registry;
_Atomic uint64_t latency_generation = 1;
_Thread_local struct latency_hist *latency_self;

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
    if (on)
        latency_clock_setup();
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

/* Each command's label plus one (0: none), so the unnamed rest are 0. */
static const uint8_t classic_label[MC_CMD__COUNT] = {
    [MC_CMD_GET] = LAT_GET + 1, [MC_CMD_GETS] = LAT_GETS + 1, [MC_CMD_GAT] = LAT_GAT + 1,
    [MC_CMD_GATS] = LAT_GATS + 1, [MC_CMD_SET] = LAT_SET + 1, [MC_CMD_ADD] = LAT_ADD + 1,
    [MC_CMD_REPLACE] = LAT_REPLACE + 1, [MC_CMD_APPEND] = LAT_APPEND + 1, [MC_CMD_PREPEND] = LAT_PREPEND + 1,
    [MC_CMD_CAS] = LAT_CAS + 1, [MC_CMD_DELETE] = LAT_DELETE + 1, [MC_CMD_INCR] = LAT_INCR + 1,
    [MC_CMD_DECR] = LAT_DECR + 1, [MC_CMD_TOUCH] = LAT_TOUCH + 1,
};
static const uint8_t meta_label[] = {
    [META_CMD_MG] = LAT_MG + 1, [META_CMD_MS] = LAT_MS + 1, [META_CMD_MD] = LAT_MD + 1,
    [META_CMD_MA] = LAT_MA + 1, [META_CMD_MN] = LAT_MN + 1, [META_CMD_ME] = LAT_ME + 1,
};

enum latency_cmd latency_cmd_of(const struct request *req)
{
    unsigned l = 0;
    if (req->kind == REQUEST_META) {
        if ((unsigned)req->meta.cmd < sizeof(meta_label))
            l = meta_label[req->meta.cmd];
    } else if ((unsigned)req->mc.cmd < MC_CMD__COUNT) {
        l = classic_label[req->mc.cmd];
    }
    return l != 0 ? (enum latency_cmd)(l - 1) : LAT_NONE;
}

/* This thread's block, made and registered on first use; zeroed when a
 * reset happened since it last counted. NULL when out of memory. */
__attribute__((noinline, cold)) static struct latency_hist *own_block(uint64_t gen)
{
    struct latency_hist *h = latency_self;
    if (h == NULL) {
        h = calloc(1, sizeof(*h));
        if (h == NULL)
            return NULL;
        pthread_mutex_lock(&registry_lock);
        h->next = registry;
        registry = h;
        pthread_mutex_unlock(&registry_lock);
        latency_self = h;
    } else {
        for (unsigned c = 0; c < LAT__COUNT; c++) {
            struct latency_cell *x = &h->cmd[c];
            atomic_store_explicit(&x->sum_ns, 0, memory_order_relaxed);
            atomic_store_explicit(&x->max_ns, 0, memory_order_relaxed);
            for (size_t b = 0; b < LATENCY_BUCKETS; b++)
                atomic_store_explicit(&x->buckets[b], 0, memory_order_relaxed);
        }
    }
    atomic_store_explicit(&h->gen, gen, memory_order_release);
    return h;
}

void latency_record_slow(enum latency_cmd c, uint64_t ns)
{
    if ((unsigned)c >= LAT__COUNT)
        return;
    if (own_block(atomic_load_explicit(&latency_generation, memory_order_relaxed)) != NULL)
        latency_record(c, ns); /* the block is current now: the fast path */
}

void latency_reset(void)
{
    atomic_fetch_add(&latency_generation, 1);
}

void latency_snapshot(struct latency_snapshot *out)
{
    memset(out, 0, sizeof(*out));
    uint64_t gen = atomic_load(&latency_generation);
    pthread_mutex_lock(&registry_lock);
    for (struct latency_hist *h = registry; h != NULL; h = h->next) {
        if (atomic_load_explicit(&h->gen, memory_order_acquire) != gen)
            continue; /* reset since it last counted: zero */
        for (unsigned c = 0; c < LAT__COUNT; c++) {
            struct latency_cell *x = &h->cmd[c];
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
    if (rank >= s->count)
        return s->max_ns; /* the largest value is known exactly */
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
