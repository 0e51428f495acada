/*
 * stats.c - the `stats` groups, each line in memcached's name and order.
 * Counters are summed from the workers on read (worker_stats_sum); gauges
 * come from the store (store_info) and server_stats. Lines memcached 1.6.45
 * prints for machinery mcd does not have (segmented LRU, slab rebalancer,
 * logger, extstore, TLS, response/read buffer pools) are printed with the
 * value an idle memcached prints (see memcached-compat.md, "Stats").
 *
 * `stats reset` resets what 1.6.45 resets: the per-thread counters (a
 * baseline in worker.c), total_connections, rejected_connections,
 * malloc_fails, crawler_reclaimed and the per-class counters of `stats
 * items`. The counters owned by the store and server_stats are reset by a
 * baseline kept here (reset_lock, taken only by `stats` commands).
 */
#include "config.h"

#include "server/stats.h"

#include "proto/token.h"
#include "server/conn.h"
#include "server/log.h"
#include "server/settings.h"
#include "server/worker.h"
#include "store/store.h"

#include <event2/event.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

struct server_stats server_stats;

/* memcached's default mode is 1; any worker may set it */
static _Atomic int slab_automove = 1;

void stats_set_slab_automove(int mode)
{
    atomic_store_explicit(&slab_automove, mode, memory_order_relaxed);
}

/* `stats detail on|off`: only reported (mcd keeps no per-prefix stats) */
static _Atomic bool detail_enabled;

/* The per-class counters of `stats items` that `stats reset` zeroes. */
#define ITEM_RESET_FIELDS(X) \
    X(evicted) X(outofmemory) X(tailrepairs) X(reclaimed) X(expired_unfetched) X(evicted_unfetched) \
    X(evicted_active) X(crawler_reclaimed)

struct reset_base {
    uint64_t total_conns;
    uint64_t rejected_conns;
    uint64_t malloc_fails;
    uint64_t expired_reclaimed;
    struct {
#define X(f) uint64_t f;
        ITEM_RESET_FIELDS(X)
#undef X
        bool evicted_time_cleared;
    } cls[STORE_CLASSES_MAX];
};

/* Guards `base`; taken only by stats commands, never on the request path. */
static pthread_mutex_t reset_lock = PTHREAD_MUTEX_INITIALIZER;
static struct reset_base base;

static uint64_t since(uint64_t now, uint64_t then)
{
    return now >= then ? now - then : 0;
}

static void reset_store_counters(void)
{
    struct store_info si;
    unsigned n = store_class_count();

    store_info(&si);
    pthread_mutex_lock(&reset_lock);
    base.total_conns = atomic_load(&server_stats.total_conns);
    base.rejected_conns = atomic_load(&server_stats.rejected_conns);
    base.malloc_fails = si.malloc_fails;
    base.expired_reclaimed = si.expired_reclaimed;
    for (unsigned id = 1; id <= n && id < STORE_CLASSES_MAX; id++) {
        struct store_class_info ci;
        if (!store_class_info(id, &ci))
            continue;
#define X(f) base.cls[id].f = ci.f;
        ITEM_RESET_FIELDS(X)
#undef X
        base.cls[id].evicted_time_cleared = true;
    }
    pthread_mutex_unlock(&reset_lock);
}

/* ci's resettable counters, less the baseline of the last `stats reset`. */
static void class_since_reset(unsigned id, struct store_class_info *ci)
{
    pthread_mutex_lock(&reset_lock);
    if (id < STORE_CLASSES_MAX) {
        bool evicted_since = ci->evicted > base.cls[id].evicted;
#define X(f) ci->f = since(ci->f, base.cls[id].f);
        ITEM_RESET_FIELDS(X)
#undef X
        /* memcached zeroes evicted_time until the next eviction */
        if (base.cls[id].evicted_time_cleared && !evicted_since)
            ci->evicted_time = 0;
    }
    pthread_mutex_unlock(&reset_lock);
}

struct emitter {
    stats_emit_fn emit;
    void *ctx;
};

__attribute__((format(printf, 3, 4))) static void line(struct emitter *e, const char *name, const char *fmt, ...)
{
    char val[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(val, sizeof(val), fmt, ap);
    va_end(ap);
    e->emit(e->ctx, name, val);
}

static void u64(struct emitter *e, const char *name, uint64_t v)
{
    line(e, name, "%" PRIu64, v);
}

static void stats_general(struct emitter *e)
{
    struct store_tstats_snap ss;
    struct worker_tstats_snap ws;
    struct store_info si;
    struct rusage ru;

    worker_stats_sum(&ss, &ws);
    store_info(&si);
    getrusage(RUSAGE_SELF, &ru);
    pthread_mutex_lock(&reset_lock);
    uint64_t base_total_conns = base.total_conns, base_rejected_conns = base.rejected_conns,
             base_malloc_fails = base.malloc_fails, base_expired_reclaimed = base.expired_reclaimed;
    pthread_mutex_unlock(&reset_lock);

    uint64_t get_hits = 0, cmd_set = 0, delete_hits = 0, incr_hits = 0, decr_hits = 0, cas_hits = 0,
             cas_badval = 0, touch_hits = 0;
    for (unsigned c = 0; c < STORE_CLASSES_MAX; c++) {
        get_hits += ss.slab[c].get_hits;
        cmd_set += ss.slab[c].cmd_set;
        delete_hits += ss.slab[c].delete_hits;
        incr_hits += ss.slab[c].incr_hits;
        decr_hits += ss.slab[c].decr_hits;
        cas_hits += ss.slab[c].cas_hits;
        cas_badval += ss.slab[c].cas_badval;
        touch_hits += ss.slab[c].touch_hits;
    }

    line(e, "pid", "%ld", (long)getpid());
    u64(e, "uptime", store_clock_now());
    line(e, "time", "%lld", (long long)(store_clock_epoch() + store_clock_now()));
    line(e, "version", "%s", MCD_COMPAT_VERSION);
    line(e, "libevent", "%s", event_get_version());
    line(e, "pointer_size", "%d", (int)(8 * sizeof(void *)));
    line(e, "rusage_user", "%ld.%06ld", (long)ru.ru_utime.tv_sec, (long)ru.ru_utime.tv_usec);
    line(e, "rusage_system", "%ld.%06ld", (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec);
    u64(e, "max_connections", settings.maxconns);
    u64(e, "curr_connections", atomic_load(&server_stats.curr_conns));
    u64(e, "total_connections", since(atomic_load(&server_stats.total_conns), base_total_conns));
    u64(e, "rejected_connections", since(atomic_load(&server_stats.rejected_conns), base_rejected_conns));
    u64(e, "connection_structures", atomic_load(&server_stats.conn_structs));
    /* memcached's response objects and read buffers: an idle memcached's values */
    u64(e, "response_obj_oom", 0);
    u64(e, "response_obj_count", 1);
    u64(e, "response_obj_bytes", 16384);
    u64(e, "read_buf_count", 2);
    u64(e, "read_buf_bytes", 32768);
    u64(e, "read_buf_bytes_free", 0);
    u64(e, "read_buf_oom", 0);
    u64(e, "reserved_fds", 20);
    u64(e, "cmd_get", ss.get_cmds);
    u64(e, "cmd_set", cmd_set);
    u64(e, "cmd_flush", ws.cmd_flush);
    u64(e, "cmd_touch", ws.cmd_touch);
    u64(e, "cmd_meta", ws.cmd_meta);
    u64(e, "get_hits", get_hits);
    u64(e, "get_misses", ss.get_misses);
    u64(e, "get_expired", ss.get_expired);
    u64(e, "get_flushed", ss.get_flushed);
    u64(e, "delete_misses", ss.delete_misses);
    u64(e, "delete_hits", delete_hits);
    u64(e, "incr_misses", ss.incr_misses);
    u64(e, "incr_hits", incr_hits);
    u64(e, "decr_misses", ss.decr_misses);
    u64(e, "decr_hits", decr_hits);
    u64(e, "cas_misses", ss.cas_misses);
    u64(e, "cas_hits", cas_hits);
    u64(e, "cas_badval", cas_badval);
    u64(e, "touch_hits", touch_hits);
    u64(e, "touch_misses", ss.touch_misses);
    u64(e, "store_too_large", ws.store_too_large);
    u64(e, "store_no_memory", ws.store_no_memory);
    u64(e, "auth_cmds", 0);
    u64(e, "auth_errors", 0);
    if (settings.idle_timeout > 0) /* as 1.6.45: only with -o idle_timeout */
        u64(e, "idle_kicks", ws.idle_kicks);
    u64(e, "bytes_read", ws.bytes_read);
    u64(e, "bytes_written", ws.bytes_written);
    u64(e, "limit_maxbytes", si.limit_maxbytes);
    u64(e, "accepting_conns", atomic_load(&server_stats.accepting) ? 1 : 0);
    u64(e, "listen_disabled_num", 0);
    u64(e, "time_in_listen_disabled_us", 0);
    u64(e, "threads", settings.num_threads);
    u64(e, "conn_yields", ws.conn_yields);
    u64(e, "hash_power_level", si.hash_power_level);
    u64(e, "hash_bytes", si.hash_bytes);
    u64(e, "hash_is_expanding", si.hash_is_expanding ? 1 : 0);
    /* memcached's slab rebalancer, crawler and LRU maintainer: idle values */
    u64(e, "slab_reassign_rescues", 0);
    u64(e, "slab_reassign_chunk_rescues", 0);
    u64(e, "slab_reassign_inline_reclaim", 0);
    u64(e, "slab_reassign_busy_items", 0);
    u64(e, "slab_reassign_busy_deletes", 0);
    u64(e, "slab_reassign_busy_nomem", 0);
    line(e, "slab_reassign_last_busy_status", "none");
    u64(e, "slab_reassign_running", 0);
    u64(e, "slabs_moved", 0);
    u64(e, "lru_crawler_running", 0);
    u64(e, "lru_crawler_starts", 0);
    u64(e, "lru_maintainer_juggles", 0);
    u64(e, "malloc_fails", since(si.malloc_fails, base_malloc_fails));
    /* memcached's logger (watch): nothing logged, no watchers */
    u64(e, "log_worker_dropped", 0);
    u64(e, "log_worker_written", 0);
    u64(e, "log_watcher_skipped", 0);
    u64(e, "log_watcher_sent", 0);
    u64(e, "log_watchers", 0);
    u64(e, "unexpected_napi_ids", 0);
    u64(e, "round_robin_fallback", 0);
    u64(e, "bytes", si.bytes);
    u64(e, "curr_items", si.curr_items);
    u64(e, "total_items", ss.total_items);
    u64(e, "slab_global_page_pool", si.slab_global_page_pool);
    u64(e, "expired_unfetched", ss.expired_unfetched);
    u64(e, "evicted_unfetched", ss.evicted_unfetched);
    u64(e, "evicted_active", ss.evicted_active);
    u64(e, "evictions", ss.evictions);
    u64(e, "reclaimed", ss.reclaimed);
    u64(e, "crawler_reclaimed", since(si.expired_reclaimed, base_expired_reclaimed));
    /* segmented-LRU counters: mcd has one CLOCK per class */
    u64(e, "crawler_items_checked", 0);
    u64(e, "lrutail_reflocked", 0);
    u64(e, "moves_to_cold", 0);
    u64(e, "moves_to_warm", 0);
    u64(e, "moves_within_lru", 0);
    u64(e, "direct_reclaims", 0);
    u64(e, "lru_bumps_dropped", 0);
}

/* The `stats settings` lines settings.def computes at run time (SHOW). */
static void show_verbosity(struct emitter *e, const char *name)
{
    line(e, name, "%d", log_verbosity);
}

static void show_num_threads(struct emitter *e, const char *name)
{
    u64(e, name, settings.num_threads);
}

static void show_detail_enabled(struct emitter *e, const char *name)
{
    line(e, name, "%s", atomic_load(&detail_enabled) ? "yes" : "no");
}

static void show_slab_automove(struct emitter *e, const char *name)
{
    line(e, name, "%d", atomic_load_explicit(&slab_automove, memory_order_relaxed));
}

/* memcached's chunk limit: half a 1 MB page, whatever -I (memcached refuses
 * an -I below it; mcd does not chain chunks) */
static void show_slab_chunk_max(struct emitter *e, const char *name)
{
    u64(e, name, settings.item_size_max < 524288 ? settings.item_size_max : 524288);
}

/* The settings.def fmt column: how a FLAG or XOPT field is printed. */
#define SHOW_FMT_DEC(e, name, v) u64(e, name, (uint64_t)(v))
#define SHOW_FMT_STR(e, name, v) line(e, name, "%s", (v) != NULL ? (v) : "NULL")
#define SHOW_FMT_OCT(e, name, v) line(e, name, "%o", (unsigned)(v))
#define SHOW_FMT_F2(e, name, v) line(e, name, "%.2f", (v))
#define SHOW_FMT_YESNO(e, name, v) line(e, name, "%s", (v) ? "yes" : "no")
#define SHOW_FMT_ONOFF(e, name, v) line(e, name, "%s", (v) ? "on" : "off")
#define SHOW_FMT_PROTO(e, name, v) line(e, name, "%s", settings_protocol_name(v))
#define SHOW_FMT_NONE(e, name, v)

/* Every settings.def row with a `stats settings` line, in row order. */
static void stats_settings(struct emitter *e)
{
#define FLAG(field, type, sh, lname, def, bounds, stat, fmt, help) SHOW_FMT_##fmt(e, stat, settings.field);
#define XOPT(field, type, key, def, bounds, stat, fmt, help) SHOW_FMT_##fmt(e, stat, settings.field);
#define SHOW(stat, fn) fn(e, stat);
#define FIXED(stat, value) line(e, stat, "%s", value);
#include "server/settings.def"
}

static void stats_slabs(struct emitter *e)
{
    struct store_tstats_snap ss;
    struct worker_tstats_snap ws;
    struct store_info si;
    unsigned n = store_class_count(), active = 0;
    char name[64];

    worker_stats_sum(&ss, &ws);
    store_info(&si);
    for (unsigned id = 1; id <= n; id++) {
        struct store_class_info ci;
        if (!store_class_info(id, &ci) || ci.total_pages == 0)
            continue;
        active++;
        const struct store_slab_tstats_snap *t = &ss.slab[id];
#define S(field, val) do { snprintf(name, sizeof(name), "%u:" field, id); u64(e, name, (uint64_t)(val)); } while (0)
        S("chunk_size", ci.chunk_size);
        S("chunks_per_page", ci.chunks_per_page);
        S("total_pages", ci.total_pages);
        S("total_chunks", ci.total_chunks);
        S("used_chunks", ci.used_chunks);
        S("free_chunks", ci.free_chunks);
        S("free_chunks_end", ci.free_chunks_end);
        S("get_hits", t->get_hits);
        S("cmd_set", t->cmd_set);
        S("delete_hits", t->delete_hits);
        S("incr_hits", t->incr_hits);
        S("decr_hits", t->decr_hits);
        S("cas_hits", t->cas_hits);
        S("cas_badval", t->cas_badval);
        S("touch_hits", t->touch_hits);
#undef S
    }
    u64(e, "active_slabs", active);
    u64(e, "total_malloced", si.total_malloced);
}

static void stats_items(struct emitter *e)
{
    unsigned n = store_class_count();
    char name[64];
    for (unsigned id = 1; id <= n; id++) {
        struct store_class_info ci;
        if (!store_class_info(id, &ci) || ci.curr_items == 0)
            continue;
        class_since_reset(id, &ci);
#define S(field, val) do { snprintf(name, sizeof(name), "items:%u:" field, id); u64(e, name, (uint64_t)(val)); } while (0)
        /* one CLOCK per class: every item counts as cold */
        S("number", ci.curr_items);
        S("number_hot", 0);
        S("number_warm", 0);
        S("number_cold", ci.curr_items);
        S("age_hot", 0);
        S("age_warm", 0);
        S("age", ci.oldest_age);
        S("mem_requested", ci.mem_requested);
        S("evicted", ci.evicted);
        S("evicted_nonzero", 0);
        S("evicted_time", ci.evicted_time);
        S("outofmemory", ci.outofmemory);
        S("tailrepairs", ci.tailrepairs);
        S("reclaimed", ci.reclaimed);
        S("expired_unfetched", ci.expired_unfetched);
        S("evicted_unfetched", ci.evicted_unfetched);
        S("evicted_active", ci.evicted_active);
        S("crawler_reclaimed", ci.crawler_reclaimed);
        S("crawler_items_checked", 0);
        S("lrutail_reflocked", 0);
        S("moves_to_cold", 0);
        S("moves_to_warm", 0);
        S("moves_within_lru", 0);
        S("direct_reclaims", 0);
        S("hits_to_hot", 0);
        S("hits_to_warm", 0);
        S("hits_to_cold", 0);
        S("hits_to_temp", 0);
#undef S
    }
}

static void stats_conns(struct emitter *e)
{
    for (unsigned i = 0; i < nworkers; i++) {
        pthread_mutex_lock(&workers[i].conns_lock);
        for (struct conn *c = workers[i].conns; c != NULL; c = c->next)
            conn_describe(c, e->emit, e->ctx);
        pthread_mutex_unlock(&workers[i].conns_lock);
    }
}

static bool arg_is(const char *args, size_t len, const char *word)
{
    size_t n = strlen(word);
    return len == n && memcmp(args, word, n) == 0;
}

/* "stats detail on|off|dump": mcd keeps no per-prefix stats; dump is empty */
static enum stats_group_status stats_detail(const char *args, size_t len)
{
    size_t pos = 0, n;
    const char *w;

    if (!token_next(args, len, &pos, &w, &n) || !token_next(args, len, &pos, &w, &n))
        return STATS_GROUP_DETAIL_USAGE;
    if (arg_is(w, n, "on") || arg_is(w, n, "off")) {
        atomic_store(&detail_enabled, w[1] == 'n');
        return STATS_GROUP_DONE_OK;
    }
    return arg_is(w, n, "dump") ? STATS_GROUP_OK : STATS_GROUP_DETAIL_USAGE;
}

enum stats_group_status stats_group(const char *args, size_t args_len, stats_emit_fn emit, void *ctx)
{
    struct emitter e = {emit, ctx};
    /* 1.6.45 picks the group by the first word and ignores the rest */
    const char *sp = memchr(args, ' ', args_len);
    size_t n = sp != NULL ? (size_t)(sp - args) : args_len;
    if (args_len == 0)
        stats_general(&e);
    else if (arg_is(args, n, "settings"))
        stats_settings(&e);
    else if (arg_is(args, n, "slabs"))
        stats_slabs(&e);
    else if (arg_is(args, n, "items"))
        stats_items(&e);
    else if (arg_is(args, n, "conns"))
        stats_conns(&e);
    else if (arg_is(args, n, "sizes"))
        line(&e, "sizes_status", "disabled");
    else if (arg_is(args, n, "extstore"))
        ; /* not configured: no lines */
    else if (arg_is(args, n, "detail"))
        return stats_detail(args, args_len);
    else if (arg_is(args, n, "reset")) {
        worker_stats_reset();
        reset_store_counters();
        return STATS_GROUP_RESET;
    } else
        return STATS_GROUP_UNKNOWN;
    return STATS_GROUP_OK;
}
