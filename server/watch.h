/*
 * watch.h - memcached's `watch`: live log streams sent to watching
 * connections, in memcached 1.6.45's line format.
 *
 * Producers (the workers, and the store through its eviction hook) format
 * a line into their own thread's ring (server/logbuf.h: single producer,
 * single consumer, no lock; a full ring drops and counts). One logger
 * thread drains every ring, stamps each line with its global id and hands
 * it to every watcher of its stream: a bounded buffer per watcher, written
 * to the watcher's socket without blocking; a watcher that does not read
 * loses lines and is told `skipped=N` once there is room again. The
 * workers never wait for a watcher. The rings have -o worker_logbuf_size
 * KB (a power of two, 4 KB .. 1 GB: logbuf.h), the watchers' buffers -o
 * watcher_logbuf_size KB (4 KB .. 1 GB), sizes read from the settings when
 * a thread first logs and when a watcher attaches.
 *
 * The request path pays one relaxed load of `watch_mask` and a branch
 * (WATCHING()) while nobody watches: the hooks are one line each.
 *
 * A connection that becomes a watcher is handed over whole: its worker
 * forgets it (conn_detach) and the logger thread owns its socket until the
 * client closes it.
 */
#ifndef MCD_WATCH_H
#define MCD_WATCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/text.h"
#include "server/stats.h"

struct item;

/* The streams that produce lines in mcd (the TEXT_WATCH_* bits of the
 * parser); the others memcached knows are accepted and stay silent. */
#define WATCH_FETCHERS TEXT_WATCH_FETCHERS
#define WATCH_MUTATIONS TEXT_WATCH_MUTATIONS
#define WATCH_EVICTIONS TEXT_WATCH_EVICTIONS
#define WATCH_CONNEVENTS TEXT_WATCH_CONNEVENTS
#define WATCH_DELETIONS TEXT_WATCH_DELETIONS

/* memcached 1.6.45's limit on watchers at once */
#define WATCH_MAX 20
/* Bytes buffered per watcher: -o watcher_logbuf_size KB (memcached's
 * option, default 256), held to WATCH_BUF_MIN .. WATCH_BUF_MAX. The
 * minimum takes the longest line with its "skipped=N" notice. */
#define WATCH_BUF_MIN (4 * 1024)
#define WATCH_BUF_MAX (1024ul * 1024 * 1024)

/* The streams someone watches now. */
extern _Atomic uint32_t watch_mask;

#define WATCHING(streams) \
    __builtin_expect((atomic_load_explicit(&watch_mask, memory_order_relaxed) & (streams)) != 0, 0)

/* Stops the logger thread (if it ran) and closes every watcher. Main
 * thread, after the workers stopped. */
void watch_teardown(void);

/* `stats conns`: each watcher's lines (addr, state conn_watch,
 * secs_since_last_cmd: since it began watching). Any thread; takes wlock. */
void watch_describe(stats_emit_fn emit, void *ctx);

/* True when WATCH_MAX watchers are attached (a new one is refused). */
bool watch_full(void);

/*
 * Makes the socket fd a watcher of `streams`: its first bytes are "OK\r\n".
 * The logger thread owns fd from now on and closes it when the client
 * hangs up (logging its conn_close with reason "error", as 1.6.45 does;
 * peer: conn.h's form, as watch_log_conn()). Returns -1 (fd untouched) when WATCH_MAX watchers are attached
 * or memory runs out. Any thread.
 */
int watch_attach(int fd, uint32_t streams, const char *peer);

/* ---- the hooks: one line each in the command layer and conn.c ---- */

#include "store/store.h"

/* fetchers: one key of a get, gat, touch or mg; it NULL on a miss. */
#define WATCH_GET(x, key, nkey, it) \
    do { if (WATCHING(WATCH_FETCHERS)) watch_log_item((x)->cfd, key, nkey, it); } while (0)
/* fetchers: the lookup of an incr, decr or ma just done. */
#define WATCH_LOOKUP(x, key, nkey) \
    do { if (WATCHING(WATCH_FETCHERS)) watch_log_lookup((x)->cfd, key, nkey); } while (0)
/* fetchers (its lookup) and mutations (its outcome) of a store_link() just done. */
#define WATCH_LINK(x, it, mode, st, out) \
    do { if (WATCHING(WATCH_FETCHERS | WATCH_MUTATIONS)) watch_log_link((x)->cfd, it, mode, st, out); } while (0)
/* mutations: a store command refused before its value was read (st:
 * STORE_TOO_LARGE or STORE_NO_MEMORY from store_alloc()). */
#define WATCH_REFUSED(x, key, nkey, st, cmd) \
    do { if (WATCHING(WATCH_MUTATIONS)) watch_log_refused((x)->cfd, key, nkey, st, cmd); } while (0)
/* fetchers (its lookup) and deletions (when it deleted) of a store_delete() just done. */
#define WATCH_DELETE(x, key, nkey, st, cmd) \
    do { if (WATCHING(WATCH_FETCHERS | WATCH_DELETIONS)) watch_log_delete((x)->cfd, key, nkey, st, cmd); } while (0)
/* connevents: a connection opened (reason NULL) or closed. */
#define WATCH_CONN(cfd, peer, reason) \
    do { if (WATCHING(WATCH_CONNEVENTS)) watch_log_conn(cfd, peer, reason); } while (0)

/* Out of line and cold: the request path keeps only the test of WATCHING(). */
#define WATCH_COLD __attribute__((cold, noinline))
WATCH_COLD void watch_log_item(int cfd, const char *key, size_t nkey, const struct item *it);
WATCH_COLD void watch_log_lookup(int cfd, const char *key, size_t nkey);
WATCH_COLD void watch_log_link(int cfd, const struct item *it, enum store_mode mode, enum store_status st,
                               const struct store_link_out *out);
WATCH_COLD void watch_log_refused(int cfd, const char *key, size_t nkey, enum store_status st, const char *cmd);
WATCH_COLD void watch_log_delete(int cfd, const char *key, size_t nkey, enum store_status st, const char *cmd);
/* reason: NULL (opened), "normal", "error", "idle_timeout". peer: conn.h's
 * "tcp:1.2.3.4:5678", "tcp6:[::1]:5678" or "unix:path". */
WATCH_COLD void watch_log_conn(int cfd, const char *peer, const char *reason);

/* `stats` lines log_worker_dropped ... log_watchers: the value of `name`
 * (the counts since the last watch_stats_reset(); log_watchers: now). */
uint64_t watch_stat(const char *name);
void watch_stats_reset(void);

#endif /* MCD_WATCH_H */
