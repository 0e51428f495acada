/*
 * stats.c - the `stats` groups, each line in memcached's name and order.
 * Counters are summed from the workers on read (worker_stats_sum); gauges
 * come from the store (store_info) and server_stats. Lines memcached prints
 * for machinery mcd does not have are left out (see memcached-compat.md).
 */
#include "config.h"

#include "server/stats.h"

#include "server/conn.h"
#include "server/settings.h"
#include "server/worker.h"
#include "store/store.h"

#include <event2/event.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

struct server_stats server_stats;

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
    u64(e, "total_connections", atomic_load(&server_stats.total_conns));
    u64(e, "rejected_connections", atomic_load(&server_stats.rejected_conns));
    u64(e, "connection_structures", atomic_load(&server_stats.conn_structs));
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
    u64(e, "malloc_fails", si.malloc_fails);
    u64(e, "bytes", si.bytes);
    u64(e, "curr_items", si.curr_items);
    u64(e, "total_items", ss.total_items);
    u64(e, "slab_global_page_pool", si.slab_global_page_pool);
    u64(e, "expired_unfetched", ss.expired_unfetched);
    u64(e, "evicted_unfetched", ss.evicted_unfetched);
    u64(e, "evicted_active", ss.evicted_active);
    u64(e, "evictions", ss.evictions);
    u64(e, "reclaimed", ss.reclaimed);
    u64(e, "crawler_reclaimed", si.expired_reclaimed);
}

static void stats_settings(struct emitter *e)
{
    u64(e, "maxbytes", settings.maxbytes);
    u64(e, "maxconns", settings.maxconns);
    line(e, "tcpport", "%d", settings.port);
    line(e, "udpport", "%d", settings.udpport);
    line(e, "inter", "%s", settings.inter ? settings.inter : "NULL");
    line(e, "verbosity", "%d", settings.verbose);
    u64(e, "oldest", 0);
    line(e, "evictions", "%s", settings.evict_to_free ? "on" : "off");
    line(e, "domain_socket", "%s", settings.socketpath ? settings.socketpath : "NULL");
    line(e, "umask", "%o", settings.access);
    line(e, "shutdown_command", "%s", settings.shutdown_command ? "yes" : "no");
    line(e, "growth_factor", "%.2f", settings.factor);
    u64(e, "chunk_size", settings.chunk_size);
    u64(e, "num_threads", settings.num_threads);
    line(e, "stat_key_prefix", ":");
    line(e, "detail_enabled", "no");
    u64(e, "reqs_per_event", settings.reqs_per_event);
    line(e, "cas_enabled", "%s", settings.use_cas ? "yes" : "no");
    u64(e, "tcp_backlog", settings.backlog);
    line(e, "binding_protocol", "%s", settings_protocol_name(settings.binding_protocol));
    line(e, "auth_enabled_sasl", "no");
    line(e, "auth_enabled_ascii", "no");
    u64(e, "item_size_max", settings.item_size_max);
    line(e, "maxconns_fast", "%s", settings.maxconns_fast ? "yes" : "no");
    u64(e, "hashpower_init", settings.hashpower_init);
    line(e, "lru_crawler", "%s", settings.lru_crawler ? "yes" : "no");
    line(e, "flush_enabled", "%s", settings.flush_enabled ? "yes" : "no");
    line(e, "dump_enabled", "%s", settings.dump_enabled ? "yes" : "no");
    u64(e, "idle_timeout", settings.idle_timeout);
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
#define S(field, val) do { snprintf(name, sizeof(name), "items:%u:" field, id); u64(e, name, (uint64_t)(val)); } while (0)
        S("number", ci.curr_items);
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

enum stats_group_status stats_group(const char *args, size_t args_len, stats_emit_fn emit, void *ctx)
{
    struct emitter e = {emit, ctx};
    while (args_len > 0 && args[args_len - 1] == ' ')
        args_len--;
    if (args_len == 0)
        stats_general(&e);
    else if (arg_is(args, args_len, "settings"))
        stats_settings(&e);
    else if (arg_is(args, args_len, "slabs"))
        stats_slabs(&e);
    else if (arg_is(args, args_len, "items"))
        stats_items(&e);
    else if (arg_is(args, args_len, "conns"))
        stats_conns(&e);
    else if (arg_is(args, args_len, "reset")) {
        worker_stats_reset();
        return STATS_GROUP_RESET;
    } else
        return STATS_GROUP_UNKNOWN;
    return STATS_GROUP_OK;
}
