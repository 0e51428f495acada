/*
 * conn.h - one client connection: its socket, its events and backpressure
 * around a session (server/session.h: read buffer, request framing, pending
 * replies). Lives on one worker thread for its whole life and is touched
 * only by that thread (the worker's conns_lock guards only its list links
 * and the fields `stats conns` reads).
 */
#ifndef MCD_CONN_H
#define MCD_CONN_H

#include <stdatomic.h>
#include <stdbool.h>

#include "server/session.h"
#include "server/stats.h"
#include "store/store.h"

struct event;
struct worker;

struct conn {
    int fd;
    int family;
    struct worker *w;
    struct event *ev;
    short ev_flags;                /* events currently registered */
    struct session s;              /* the bytes: read buffer, framing, replies */

    _Atomic rel_time_t last_cmd_time; /* idle_timeout and stats conns (read by other threads) */
    char peer[64];                 /* "tcp:1.2.3.4:5678" / "unix:path", fixed at creation */
    char local[64];                /* the listening address it came in on (stats conns
                                      listen_addr), fixed at creation */
    bool eof;                      /* the peer shut its write side: no more reads; answer
                                      what is buffered, flush, then close */
    bool big;                      /* held large buffers once: trim the heap when it closes */
    const char *close_reason;      /* for `watch connevents`: NULL = "normal" (or "error"
                                      after a protocol error) */
    struct conn *prev, *next;      /* worker's list; under w->conns_lock */
};

/* memcached's name of a socket's address ("tcp:1.2.3.4:5678",
 * "tcp6:[::1]:5678", "unix:path"): the peer's, or with `local` its own. */
void conn_sockname(int fd, int family, bool local, char *out, size_t outlen);

/* Creates a connection on worker w for an accepted socket. NULL on failure
 * (the socket is then closed). Worker thread only. */
struct conn *conn_create(struct worker *w, int fd, int family);
/* Closes the socket, releases every item the connection pins, frees it. */
void conn_destroy(struct conn *c);

/* Forgets the connection without closing its socket or counting it closed
 * (curr_conns, conn_structs): it becomes a watcher, owned by server/watch.c,
 * which counts it closed when it closes it. */
void conn_detach(struct conn *c);

/* Graceful stop: flushes what the socket takes now (no waiting), then
 * closes, as memcached 1.6.45 closes every connection at once. */
void conn_close_flush(struct conn *c);

/* Emits the `stats conns` lines of this connection. Any thread, under the
 * owning worker's conns_lock. */
void conn_describe(const struct conn *c, stats_emit_fn emit, void *ctx);

#endif /* MCD_CONN_H */
