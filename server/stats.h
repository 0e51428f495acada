/*
 * stats.h - the `stats` command family: general, settings, items, slabs,
 * conns, reset. Sums per-thread counters on read (no shared counter on the
 * request path) and hands each line to an emit callback, so that every
 * front end (text "STAT name value", binary stat packets) can use it.
 */
#ifndef MCD_STATS_H
#define MCD_STATS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef void (*stats_emit_fn)(void *ctx, const char *name, const char *value);

struct store_tstats;
struct worker_tstats;

/*
 * The seam between the stats and whoever runs the request path: the
 * server's worker pool (worker.c sets it up with the workers), or a unit
 * test or fuzz target with its own counter blocks. stats.c knows no worker,
 * connection or event library; it asks the host. Any member may be NULL
 * (no threads, no connections, version "").
 */
struct stats_host {
    unsigned (*nthreads)(void);
    /* thread i's counter blocks (i < nthreads()), read with relaxed loads */
    void (*thread)(unsigned i, struct store_tstats **ts, struct worker_tstats **ws);
    /* the `stats conns` lines of every connection */
    void (*conns)(stats_emit_fn emit, void *ctx);
    /* the `libevent` line */
    const char *(*event_version)(void);
};

/* Installs the host (before any stats command runs; NULL: none). */
void stats_set_host(const struct stats_host *host);
/* Installs a host of one thread whose counters are *ts and *ws, with no
 * connections (unit tests, the fuzz target: one session, no server). */
void stats_set_one_thread(struct store_tstats *ts, struct worker_tstats *ws);

/* Global gauges and counters touched only at connect/close/listen time. */
struct server_stats {
    _Atomic uint64_t curr_conns;
    _Atomic uint64_t total_conns;
    _Atomic uint64_t rejected_conns;
    _Atomic uint64_t conn_structs;
    _Atomic uint64_t unexpected_napi_ids;  /* -N: a NAPI id past the -N first ones */
    _Atomic uint64_t round_robin_fallback; /* -N: a connection with no NAPI id */
    _Atomic bool accepting;
    time_t started;          /* unix time the process started */
};
extern struct server_stats server_stats;

enum stats_group_status {
    STATS_GROUP_OK = 0,
    STATS_GROUP_UNKNOWN,
    STATS_GROUP_RESET,
    STATS_GROUP_BAD_ARGS,
    STATS_GROUP_DONE_OK,
    STATS_GROUP_DETAIL_USAGE,
    STATS_GROUP_DETAIL_DUMP,
};

/*
 * Emits the stats of group `args` (args_len 0: general; else the group is
 * the first word, the rest is ignored but by "detail") through emit.
 * STATS_GROUP_OK: lines emitted (text: then "END").
 * STATS_GROUP_RESET: counters were reset (reply "RESET").
 * STATS_GROUP_UNKNOWN: no such group (text reply: "ERROR").
 * STATS_GROUP_DONE_OK: "stats detail on|off" done (text reply: "OK").
 * STATS_GROUP_DETAIL_USAGE: "stats detail" without on/off/dump (text reply:
 *   "CLIENT_ERROR usage: stats detail on|off|dump").
 * STATS_GROUP_DETAIL_DUMP: "stats detail dump" (the command layer answers
 *   it first, with the per-prefix counts: process_admin.c, stats_detail.h;
 *   STATS_DETAIL_DUMP is the empty dump).
 */
#define STATS_DETAIL_DUMP "END\r\n"
enum stats_group_status stats_group(const char *args, size_t args_len, stats_emit_fn emit, void *ctx);

/* TLS: the certificate was (re)loaded at unix time `when` (shown by
 * `stats` as time_since_server_cert_refresh under -Z). */
void stats_set_cert_refresh(int64_t when);

#endif /* MCD_STATS_H */
