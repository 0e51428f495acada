/*
 * conn.h - one client connection: its socket, read buffer, protocol
 * state, pending replies and backpressure. Lives on one worker thread for
 * its whole life and is touched only by that thread (the worker's
 * conns_lock guards only its list links and the fields `stats conns` reads).
 */
#ifndef MCD_CONN_H
#define MCD_CONN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/meta.h"
#include "proto/proto.h"
#include "proto/reply.h"
#include "server/process.h"
#include "server/settings.h"
#include "server/stats.h"
#include "store/store.h"

struct event;
struct worker;

/* MWRITE: a multi-key get line stopped half way because its replies
 * reached the output cap; it resumes (from mget_pos) as they drain. */
#define CONN_STATES(X) \
    X(NEW_CMD, "conn_new_cmd") \
    X(NREAD, "conn_nread") \
    X(SWALLOW, "conn_swallow") \
    X(MWRITE, "conn_mwrite") \
    X(CLOSING, "conn_closing")

enum conn_state {
#define X(id, name) CONN_##id,
    CONN_STATES(X)
#undef X
};

const char *conn_state_name(enum conn_state s);

/*
 * Output cap. While a connection's unsent replies weigh more than this
 * (reply_weight(): bytes plus a little per piece), it reads and parses no
 * more input (and a multi-key get stops between two keys); it resumes
 * once the socket has taken enough.
 */
#define CONN_OUT_HIGH (1024 * 1024)

struct conn {
    int fd;
    int family;
    struct worker *w;
    struct event *ev;
    short ev_flags;                /* events currently registered */
    enum conn_state state;
    enum proto_binding proto;      /* PROTO_AUTO until the first byte */

    char *rbuf;                    /* unparsed input is rbuf[rpos..rlen) */
    size_t rsize, rpos, rlen;

    struct reply out;

    /* the request being executed: valid from its parse until it is done,
     * through CONN_NREAD and CONN_MWRITE (its pointers into rbuf are
     * cleared, or rebased, when rbuf may move meanwhile) */
    struct request req;
    struct request_ctx cmd;        /* what the command layer gets; set up once */

    /* CONN_NREAD: filling a value */
    struct item *nread_it;
    size_t nread_got;              /* value bytes received so far */
    uint8_t nread_term;            /* terminator bytes received (0..2) */
    char term[2];
    /* CONN_SWALLOW: bytes still to drop */
    size_t swallow_left;
    /* CONN_MWRITE: the suspended get line. Its keys stay in rbuf (rpos is
     * not advanced until the line is done); mget_keys_off is their offset
     * from rbuf + rpos, so the buffer may move meanwhile. It resumes at
     * cmd.mget_pos. */
    size_t mget_keys_off;
    size_t mget_consumed;          /* the line's length, skipped once done */

    _Atomic rel_time_t last_cmd_time; /* idle_timeout and stats conns (read by other threads) */
    _Atomic int pub_state;         /* mirror of state for stats conns */
    char peer[64];                 /* "tcp:1.2.3.4:5678" / "unix:path", fixed at creation */
    bool close_after_write;        /* quit, fatal errors: stop parsing, close once replies are out */
    bool eof;                      /* the peer shut its write side: no more reads; answer
                                      what is buffered, flush, then close */
    bool big;                      /* held large buffers once: trim the heap when it closes */
    struct conn *prev, *next;      /* worker's list; under w->conns_lock */
};

/* Creates a connection on worker w for an accepted socket. NULL on failure
 * (the socket is then closed). Worker thread only. */
struct conn *conn_create(struct worker *w, int fd, int family);
/* Closes the socket, releases every item the connection pins, frees it. */
void conn_destroy(struct conn *c);

/* True while the unsent replies are over the output cap. */
static inline bool conn_out_full(const struct conn *c)
{
    return reply_weight(&c->out) >= CONN_OUT_HIGH;
}

/* Graceful stop: flushes what the socket takes now (no waiting), then
 * closes, as memcached 1.6.45 closes every connection at once. */
void conn_close_flush(struct conn *c);

/* Emits the `stats conns` lines of this connection. Any thread, under the
 * owning worker's conns_lock. */
void conn_describe(const struct conn *c, stats_emit_fn emit, void *ctx);

#endif /* MCD_CONN_H */
