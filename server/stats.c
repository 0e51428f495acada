/*
 * stats.c - the `stats` groups, each line in memcached's name and order.
 * Counters are summed from the threads on read (sum_threads); gauges
 * come from the store (store_info) and server_stats. Lines memcached 1.6.45
 * prints for machinery mcd does not have (segmented LRU, slab rebalancer,
 * logger, extstore, TLS, response/read buffer pools) are printed with the
 * value an idle memcached prints (see memcached-compat.md, "Stats").
 *
 * The lines of `stats` are the rows of stats.def, which says for each where
 * its value lives and whether `stats reset` zeroes it; this file expands it
 * into the output, the summation of the workers' counter blocks and the
 * reset. `stats settings` is expanded from settings.def the same way.
 *
 * `stats reset` resets what 1.6.45 resets: the RESET rows of stats.def and
 * the per-class counters of `stats slabs` and `stats items`. Nothing is
 * written to zero (the workers are the only writers of their counters):
 * the reset records the current values as a baseline, and readers print
 * the difference. The baseline is guarded by reset_lock, which only `stats`
 * commands take, never the request path.
 *
 * Which threads hold counters, which connections exist and the event
 * library's version come from a host (struct stats_host): worker.c for the
 * server, the test or fuzz target otherwise. That keeps this file in the
 * request-path library (libmcdserve.a) with no worker, connection or
 * libevent behind it, and `stats conns`, which walks the workers'
 * connection lists under their locks, stays with the workers.
 */
#include "config.h"

#include "server/stats.h"

#include "proto/token.h"
#include "server/hotkeys.h"
#include "server/latency.h"
#include "server/log.h"
#include "server/settings.h"
#include "server/stats_detail.h"
#include "server/watch.h"
#include "server/worker.h"
#include "store/store.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

struct server_stats server_stats;

/* TLS (server/tls.c): when the certificate was last loaded (unix time) */
static _Atomic int64_t cert_refresh_time;

void stats_set_cert_refresh(int64_t when)
{
    atomic_store_explicit(&cert_refresh_time, when, memory_order_relaxed);
}


/* The per-class counters of `stats items` that `stats reset` zeroes. */
#define ITEM_RESET_FIELDS(X) \
    X(evicted) X(outofmemory) X(tailrepairs) X(reclaimed) X(expired_unfetched) X(evicted_unfetched) \
    X(evicted_active) X(crawler_reclaimed)

/* stats.def's reset column: RESET rows are shown less their baseline. */
#define IF_RESET(x) x
#define IF_KEEP(x)
#define SINCE_RESET(now, then) since((now), (then))
#define SINCE_KEEP(now, then) (now)

struct reset_base {
    struct store_tstats_snap ss;   /* the store's per-thread counters, per class too */
    struct worker_tstats_snap ws;
#define STAT_SERVER(name, field, reset) IF_##reset(uint64_t server_##field;)
#define STAT_INFO(name, field, reset) IF_##reset(uint64_t info_##field;)
#include "server/stats.def"
    struct {
#define X(f) uint64_t f;
        ITEM_RESET_FIELDS(X)
#undef X
        bool evicted_time_cleared;
    } cls[STORE_CLASSES_MAX];
    struct store_crawl_info crawl;  /* lru_crawler_starts, crawler_items_checked */
};

/* Guards `base`; taken only by stats commands, never on the request path. */
static pthread_mutex_t reset_lock = PTHREAD_MUTEX_INITIALIZER;
static struct reset_base base;

static const struct stats_host *host;

static struct store_tstats *one_ts;
static struct worker_tstats *one_ws;

static unsigned one_nthreads(void)
{
    return 1;
}

static void one_thread(unsigned i, struct store_tstats **ts, struct worker_tstats **ws)
{
    (void)i;
    *ts = one_ts;
    *ws = one_ws;
}

void stats_set_one_thread(struct store_tstats *ts, struct worker_tstats *ws)
{
    static const struct stats_host one = {.nthreads = one_nthreads, .thread = one_thread};
    one_ts = ts;
    one_ws = ws;
    stats_set_host(&one);
}

void stats_set_host(const struct stats_host *h)
{
    host = h;
}

static uint64_t since(uint64_t now, uint64_t then)
{
    return now >= then ? now - then : 0;
}

/* Every thread's counter blocks, summed (no lock: each field is read
 * atomically, the sum is as consistent as memcached's). */
static void sum_threads(struct store_tstats_snap *ss, struct worker_tstats_snap *ws)
{
    memset(ss, 0, sizeof(*ss));
    memset(ws, 0, sizeof(*ws));
    unsigned n = host != NULL && host->nthreads != NULL && host->thread != NULL ? host->nthreads() : 0;
    for (unsigned i = 0; i < n; i++) {
        struct store_tstats *ts;
        struct worker_tstats *w;
        host->thread(i, &ts, &w);
        store_tstats_sum(ss, ts);
#define STAT_WORKER(name, field, reset, when) \
        ws->field += atomic_load_explicit(&w->field, memory_order_relaxed);
#include "server/stats.def"
    }
}

/* `stats reset`: the current values become the new zero. */
static void stats_reset(void)
{
    watch_stats_reset();
    static _Thread_local struct reset_base nb; /* 9 KB: off the worker's stack */
    struct store_info si;
    unsigned n = store_class_count();

    memset(&nb, 0, sizeof(nb));
    sum_threads(&nb.ss, &nb.ws);
    store_info(&si);
    store_crawl_info(&nb.crawl);
#define STAT_SERVER(name, field, reset) IF_##reset(nb.server_##field = atomic_load(&server_stats.field);)
#define STAT_INFO(name, field, reset) IF_##reset(nb.info_##field = si.field;)
#include "server/stats.def"
    for (unsigned id = 1; id <= n && id < STORE_CLASSES_MAX; id++) {
        struct store_class_info ci;
        if (!store_class_info(id, &ci))
            continue;
#define X(f) nb.cls[id].f = ci.f;
        ITEM_RESET_FIELDS(X)
#undef X
        nb.cls[id].evicted_time_cleared = true;
    }
    pthread_mutex_lock(&reset_lock);
    base = nb;
    pthread_mutex_unlock(&reset_lock);
    stats_detail_clear(); /* as memcached: the per-prefix counts go too */
    latency_reset();
    hotkeys_reset();
}

/* The workers' store counters since the last reset (for `stats slabs`). */
static void store_since_reset(struct store_tstats_snap *ss)
{
    struct worker_tstats_snap ws;
    sum_threads(ss, &ws);
    pthread_mutex_lock(&reset_lock);
    for (unsigned c = 0; c < STORE_CLASSES_MAX; c++) {
#define X(f) ss->slab[c].f = since(ss->slab[c].f, base.ss.slab[c].f);
        STORE_SLAB_TSTATS(X)
#undef X
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

/* The STAT_FN rows of stats.def. */
static void stat_pid(struct emitter *e, const char *name)
{
    line(e, name, "%ld", (long)getpid());
}

static void stat_uptime(struct emitter *e, const char *name)
{
    u64(e, name, store_clock_now());
}

static void stat_time(struct emitter *e, const char *name)
{
    line(e, name, "%lld", (long long)(store_clock_epoch() + store_clock_now()));
}

static void stat_slab_reassign_last_busy_status(struct emitter *e, const char *name)
{
    struct store_info si;
    store_info(&si);
    line(e, name, "%s", si.slab_reassign_last_busy_status);
}

static void stat_version(struct emitter *e, const char *name)
{
    line(e, name, "%s", MCD_COMPAT_VERSION);
}

static void stat_libevent(struct emitter *e, const char *name)
{
    line(e, name, "%s", host != NULL && host->event_version != NULL ? host->event_version() : "");
}

static void stat_pointer_size(struct emitter *e, const char *name)
{
    line(e, name, "%d", (int)(8 * sizeof(void *)));
}

static void rusage_line(struct emitter *e, const char *name, bool user)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    struct timeval tv = user ? ru.ru_utime : ru.ru_stime;
    line(e, name, "%ld.%06ld", (long)tv.tv_sec, (long)tv.tv_usec);
}

static void stat_rusage_user(struct emitter *e, const char *name)
{
    rusage_line(e, name, true);
}

static void stat_rusage_system(struct emitter *e, const char *name)
{
    rusage_line(e, name, false);
}

/* log_*: the watch logger's counts (server/watch.c) */
static void stat_watch(struct emitter *e, const char *name)
{
    u64(e, name, watch_stat(name));
}

/* The crawler's lines (store/crawler.c). */
static void stat_crawler_running(struct emitter *e, const char *name)
{
    struct store_crawl_info ci;
    store_crawl_info(&ci);
    u64(e, name, ci.running);
}

/* The crawl counts since the last `stats reset` (memcached zeroes them). */
static void crawl_since_reset(struct store_crawl_info *ci)
{
    store_crawl_info(ci);
    pthread_mutex_lock(&reset_lock);
    ci->starts = since(ci->starts, base.crawl.starts);
    ci->checked = since(ci->checked, base.crawl.checked);
    for (unsigned i = 0; i < STORE_CLASSES_MAX; i++)
        ci->class_checked[i] = since(ci->class_checked[i], base.crawl.class_checked[i]);
    pthread_mutex_unlock(&reset_lock);
}

static void stat_crawler_starts(struct emitter *e, const char *name)
{
    struct store_crawl_info ci;
    crawl_since_reset(&ci);
    u64(e, name, ci.starts);
}

static void stat_crawler_items_checked(struct emitter *e, const char *name)
{
    struct store_crawl_info ci;
    crawl_since_reset(&ci);
    u64(e, name, ci.checked);
}

static uint64_t crawl_checked(unsigned id)
{
    struct store_crawl_info ci;
    crawl_since_reset(&ci);
    return id < STORE_CLASSES_MAX ? ci.class_checked[id] : 0;
}

/* flush_prefix's lines, once any was flushed (stats.def) */
static bool stats_prefix_used(void)
{
    struct store_prefix_info pi;
    store_prefix_info(&pi);
    return pi.flushes > 0;
}

static void stat_prefix(struct emitter *e, const char *name)
{
    struct store_prefix_info pi;
    store_prefix_info(&pi);
    if (pi.flushes == 0)
        return;
    u64(e, name, pi.live);
    u64(e, "prefix_retired", pi.retired);
    u64(e, "prefix_walks", pi.walks);
    u64(e, "prefix_reclaimed", pi.reclaimed);
}

/* with -Z only, as 1.6.45 */
static void stat_cert_refresh(struct emitter *e, const char *name)
{
    if (!settings.ssl_enabled)
        return;
    int64_t d = (int64_t)time(NULL) - atomic_load_explicit(&cert_refresh_time, memory_order_relaxed);
    line(e, name, "%lld", (long long)(d > 0 ? d : 0));
}

/* `stats`: every row of stats.def, in order. */
static void stats_general(struct emitter *e)
{
    static _Thread_local struct reset_base b; /* 10 KB: off the worker's stack */
    struct store_tstats_snap ss;
    struct worker_tstats_snap ws;
    struct store_slab_tstats_snap slab = {0}, slab_base = {0};
    struct store_info si;

    sum_threads(&ss, &ws);
    store_info(&si);
    pthread_mutex_lock(&reset_lock);
    b = base;
    pthread_mutex_unlock(&reset_lock);
    for (unsigned c = 0; c < STORE_CLASSES_MAX; c++) {
#define X(f) slab.f += ss.slab[c].f, slab_base.f += b.ss.slab[c].f;
        STORE_SLAB_TSTATS(X)
#undef X
    }

#define STAT_FN(name, fn) fn(e, name);
#define STAT_FIXED(name, value) line(e, name, "%s", value);
#define STAT_SETTING(name, field) u64(e, name, settings.field);
#define STAT_SERVER(name, field, reset) \
    u64(e, name, SINCE_##reset((uint64_t)atomic_load(&server_stats.field), b.server_##field));
#define STAT_WORKER(name, field, reset, when) \
    if (when) \
        u64(e, name, SINCE_##reset(ws.field, b.ws.field));
#define STAT_STORE(name, field, reset) u64(e, name, SINCE_##reset(ss.field, b.ss.field));
#define STAT_SLAB(name, field, reset) u64(e, name, SINCE_##reset(slab.field, slab_base.field));
#define STAT_INFO(name, field, reset) u64(e, name, SINCE_##reset((uint64_t)si.field, b.info_##field));
#include "server/stats.def"
}

/* The `stats settings` lines settings.def computes at run time (SHOW). */
static void show_verbosity(struct emitter *e, const char *name)
{
    line(e, name, "%d", log_verbosity);
}

static void show_cluster_config(struct emitter *e, const char *name)
{
    if (settings.cluster_config != NULL)
        line(e, name, "%s", settings.cluster_config);
}

static void show_num_threads(struct emitter *e, const char *name)
{
    u64(e, name, settings.num_threads);
}

static void show_detail_enabled(struct emitter *e, const char *name)
{
    line(e, name, "%s", atomic_load(&stats_detail_on) ? "yes" : "no");
}

static void show_stat_key_prefix(struct emitter *e, const char *name)
{
    const char *d = settings.prefix_delimiter;
    line(e, name, "%c", d != NULL && d[0] != '\0' ? d[0] : ':');
}

static void show_lru_crawler(struct emitter *e, const char *name)
{
    line(e, name, "%s", store_crawl_enabled() ? "yes" : "no");
}

static void show_lru_crawler_sleep(struct emitter *e, const char *name)
{
    u64(e, name, store_crawl_sleep());
}

static void show_lru_crawler_tocrawl(struct emitter *e, const char *name)
{
    u64(e, name, store_crawl_tocrawl());
}

/* the mode now: -o slab_automove, then `slabs automove N` */
static void show_slab_automove(struct emitter *e, const char *name)
{
    line(e, name, "%u", store_slabs_automove());
}

/* -m now: cache_memlimit changes it */
static void show_maxbytes(struct emitter *e, const char *name)
{
    struct store_info si;
    store_info(&si);
    u64(e, name, si.limit_maxbytes);
}

/* memcached's chunk limit: -o slab_chunk_max when given, else half a 1 MB
 * page, whatever -I (memcached refuses an -I below it; mcd does not chain
 * chunks) */
static void show_slab_chunk_max(struct emitter *e, const char *name)
{
    if (settings.slab_chunk_max > 0)
        u64(e, name, (uint64_t)settings.slab_chunk_max * 1024);
    else
        u64(e, name, settings.item_size_max < 524288 ? settings.item_size_max : 524288);
}

/* memcached's segmented LRU goes with its maintainer thread */
static void show_lru_segmented(struct emitter *e, const char *name)
{
    line(e, name, "%s", settings.lru_maintainer ? "yes" : "no");
}

/* on once -o temporary_ttl was given, as 1.6.45 */
static void show_temp_lru(struct emitter *e, const char *name)
{
    line(e, name, "%s", settings_temp_lru() ? "yes" : "no");
}

/* mcd's -o metrics_listen: no line when it is off (memcached has none) */
static void show_metrics_listen(struct emitter *e, const char *name)
{
    if (settings.metrics_listen != NULL)
        line(e, name, "%s", settings.metrics_listen);
}

static void show_item_store(struct emitter *e, const char *name)
{
    if (settings.item_store != NULL)
        line(e, name, "%s", settings.item_store);
}

static const char *tls_version_name(int v)
{
    static const char *const names[] = {"tlsv1.0", "tlsv1.1", "tlsv1.2", "tlsv1.3"};
    return v >= 0 && v <= 3 ? names[v] : "unknown";
}

/* The settings.def fmt column: how a FLAG or XOPT field is printed. */
#define SHOW_FMT_DEC(e, name, v) u64(e, name, (uint64_t)(v))
#define SHOW_FMT_STR(e, name, v) line(e, name, "%s", (v) != NULL ? (v) : "NULL")
#define SHOW_FMT_STRNO(e, name, v) line(e, name, "%s", (v) != NULL ? (v) : "no")
#define SHOW_FMT_OCT(e, name, v) line(e, name, "%o", (unsigned)(v))
#define SHOW_FMT_F2(e, name, v) line(e, name, "%.2f", (v))
#define SHOW_FMT_YESNO(e, name, v) line(e, name, "%s", (v) ? "yes" : "no")
#define SHOW_FMT_ONOFF(e, name, v) line(e, name, "%s", (v) ? "on" : "off")
#define SHOW_FMT_PROTO(e, name, v) line(e, name, "%s", settings_protocol_name(v))
#define SHOW_FMT_NONE(e, name, v)
/* TLS settings as 1.6.45 prints them */
#define SHOW_FMT_STRN(e, name, v) line(e, name, "%s", (v) != NULL ? (v) : "(null)")
#define SHOW_FMT_KB(e, name, v) u64(e, name, (uint64_t)(v) * 1024)
#define SHOW_FMT_MB(e, name, v) u64(e, name, (uint64_t)(v) * 1024 * 1024)
#define SHOW_FMT_F3(e, name, v) line(e, name, "%.3f", (v))
#define SHOW_FMT_TLSVER(e, name, v) line(e, name, "%s", tls_version_name(v))

/* Every settings.def row with a `stats settings` line, in row order. */
static void stats_settings(struct emitter *e)
{
#define FLAG(field, type, sh, lname, def, bounds, stat, fmt, help) SHOW_FMT_##fmt(e, stat, settings.field);
#define XOPT(field, type, key, def, bounds, stat, fmt, help) SHOW_FMT_##fmt(e, stat, settings.field);
#define TUNE(field, type, key, def, bounds, stat, fmt) SHOW_FMT_##fmt(e, stat, settings.field);
#define SHOW(stat, fn) fn(e, stat);
#define FIXED(stat, value) line(e, stat, "%s", value);
#include "server/settings.def"
}

/* One per-class line: "<prefix><class>:<field> <value>". */
static void class_line(struct emitter *e, const char *prefix, unsigned id, const char *field, uint64_t v)
{
    char name[64];
    snprintf(name, sizeof(name), "%s%u:%s", prefix, id, field);
    u64(e, name, v);
}

static void stats_slabs(struct emitter *e)
{
    static _Thread_local struct store_tstats_snap ss; /* 4 KB: off the worker's stack */
    struct store_info si;
    unsigned n = store_class_count(), active = 0;

    store_since_reset(&ss);
    store_info(&si);
    for (unsigned id = 1; id <= n; id++) {
        struct store_class_info ci;
        if (!store_class_info(id, &ci) || ci.total_pages == 0)
            continue;
        active++;
        const struct store_slab_tstats_snap *t = &ss.slab[id];
#define SLAB_LINE(field, val) class_line(e, "", id, field, (uint64_t)(val));
#include "server/stats_class.def"
    }
    u64(e, "active_slabs", active);
    u64(e, "total_malloced", si.total_malloced);
}

static void stats_items(struct emitter *e)
{
    unsigned n = store_class_count();
    for (unsigned id = 1; id <= n; id++) {
        struct store_class_info ci;
        if (!store_class_info(id, &ci) || ci.curr_items == 0)
            continue;
        class_since_reset(id, &ci);
#define ITEM_LINE(field, val) class_line(e, "items:", id, field, (uint64_t)(val));
#include "server/stats_class.def"
    }
}

/* `stats conns` lines, gathered to be printed in memcached's order: by
 * file descriptor (listening sockets and connections alike), each one's
 * lines in the order given. */
struct conn_line {
    long fd;
    size_t seq;
    char *name, *value;
};
struct conn_lines {
    struct conn_line *v;
    size_t n, cap;
};

static void gather_conn_line(void *ctx, const char *name, const char *value)
{
    struct conn_lines *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        struct conn_line *v = realloc(l->v, cap * sizeof(*v));
        if (v == NULL)
            return;
        l->v = v;
        l->cap = cap;
    }
    struct conn_line *x = &l->v[l->n];
    x->fd = strtol(name, NULL, 10);
    x->seq = l->n;
    x->name = strdup(name);
    x->value = strdup(value);
    if (x->name == NULL || x->value == NULL) {
        free(x->name);
        free(x->value);
        return;
    }
    l->n++;
}

static int cmp_conn_line(const void *a, const void *b)
{
    const struct conn_line *x = a, *y = b;
    if (x->fd != y->fd)
        return x->fd < y->fd ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void stats_conns(struct emitter *e)
{
    struct conn_lines l = {0};
    if (host != NULL && host->conns != NULL)
        host->conns(gather_conn_line, &l);
    if (l.n > 1) /* qsort() is never handed NULL (UBSan) */
        qsort(l.v, l.n, sizeof(l.v[0]), cmp_conn_line);
    for (size_t i = 0; i < l.n; i++) {
        e->emit(e->ctx, l.v[i].name, l.v[i].value);
        free(l.v[i].name);
        free(l.v[i].value);
    }
    free(l.v);
}

static bool arg_is(const char *args, size_t len, const char *word)
{
    size_t n = strlen(word);
    return len == n && memcmp(args, word, n) == 0;
}

/* "stats detail on|off|dump": the dump is the command layer's (process_admin.c) */
static enum stats_group_status stats_detail_group(const char *args, size_t len)
{
    size_t pos = 0, n;
    const char *w;

    if (!token_next(args, len, &pos, &w, &n) || !token_next(args, len, &pos, &w, &n))
        return STATS_GROUP_DETAIL_USAGE;
    if (arg_is(w, n, "on") || arg_is(w, n, "off")) {
        stats_detail_enable(w[1] == 'n');
        return STATS_GROUP_DONE_OK;
    }
    return arg_is(w, n, "dump") ? STATS_GROUP_DETAIL_DUMP : STATS_GROUP_DETAIL_USAGE;
}

enum stats_group_status stats_group(const char *args, size_t args_len, stats_emit_fn emit, void *ctx)
{
    struct emitter e = {emit, ctx};
    /* 1.6.45 picks the group by the first word and ignores the rest */
    const char *sp = args_len > 0 ? memchr(args, ' ', args_len) : NULL; /* args may be NULL */
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
        return stats_detail_group(args, args_len);
    else if (arg_is(args, n, "latency")) /* mcd: latency.c */
        latency_stats(emit, ctx);
    else if (arg_is(args, n, "hotkeys")) /* mcd: hotkeys.c */
        return hotkeys_stats(args, args_len, emit, ctx);
    else if (arg_is(args, n, "reset")) {
        stats_reset();
        return STATS_GROUP_RESET;
    } else
        return STATS_GROUP_UNKNOWN;
    return STATS_GROUP_OK;
}
