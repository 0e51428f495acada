/*
 * session.h - the byte-level side of one client connection, on plain
 * buffers: the read buffer (its growth and compaction), request framing
 * (protocol sniffing, parser errors), the value of a storage command read
 * into its item (NREAD), swallowed data blocks (SWALLOW), the multi-key
 * get suspended at the output cap (MWRITE), the -R budget, and the reply
 * builder the replies go to. Input bytes in, replies out: no fd, no
 * libevent, no system call. server/conn.c puts a socket around it; the unit
 * tests and the request-path fuzz target drive it directly.
 *
 * One thread at a time (the owning worker's); `pub_state` alone is read by
 * other threads (`stats conns`).
 */
#ifndef MCD_SESSION_H
#define MCD_SESSION_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/proto.h"
#include "proto/reply.h"
#include "server/process.h"
#include "server/settings.h"

struct item;
struct mcd_sasl_conn;
struct store_tstats;
struct worker_tstats;

/* The names are memcached's (`stats conns` prints them). MWRITE: a
 * multi-key get line (or a dump) stopped half way because its replies
 * reached the output cap; it resumes (from cmd.mget_pos) as they drain.
 * READ and PARSE_CMD are only shown (pub_state), never `state`: a
 * session waiting for its next command after one (memcached: conn_read;
 * before the first, conn_new_cmd), and one executing a command. */
#define SESSION_STATES(X) \
    X(NEW_CMD, "conn_new_cmd") \
    X(NREAD, "conn_nread") \
    X(SWALLOW, "conn_swallow") \
    X(MWRITE, "conn_mwrite") \
    X(CLOSING, "conn_closing") \
    X(READ, "conn_read") \
    X(PARSE_CMD, "conn_parse_cmd")

enum session_state {
#define X(id, name) SESSION_##id,
    SESSION_STATES(X)
#undef X
};

const char *session_state_name(enum session_state s);

/*
 * Output cap. While the unsent replies weigh more than this (reply_weight():
 * bytes plus a little per piece), no more input is read or parsed (and a
 * multi-key get stops between two keys); it resumes once they drain.
 */
#define SESSION_OUT_HIGH (1024 * 1024)
/* The read buffer's size; it grows (doubling) only while one command line
 * does not fit, and shrinks back once empty. */
#define SESSION_RBUF_INIT (16 * 1024)
/* A pending value at least this large is read straight into its item. */
#define SESSION_DIRECT_READ_MIN 4096

struct session {
    enum session_state state;
    _Atomic int pub_state;         /* mirror of state for `stats conns` (other threads) */
    enum proto_binding proto;      /* PROTO_AUTO until the first byte */

    char *rbuf;                    /* unparsed input is rbuf[rpos..rlen) */
    size_t rsize, rpos, rlen;
    bool direct;                   /* the last read space was the pending item's */

    struct reply out;

    /* the request being executed: valid from its parse until it is done,
     * through NREAD and MWRITE (its pointers into rbuf are cleared, or
     * rebased, when rbuf may move meanwhile) */
    struct request req;
    struct request_ctx cmd;        /* what the command layer gets; set up once */

    /* NREAD: filling a value */
    struct item *nread_it;
    char *nread_data;              /* item_data(nread_it) and item_nbytes(nread_it), */
    size_t nread_len;              /* read once: each is a call behind the engine branch */
    size_t nread_got;              /* value bytes received so far */
    uint8_t nread_term;            /* terminator bytes received (0..2) */
    char term[2];
    /* SWALLOW: bytes still to drop */
    size_t swallow_left;
    /* MWRITE: the suspended get line. Its keys stay in rbuf (rpos is not
     * advanced until the line is done); mget_keys_off is their offset from
     * rbuf + rpos, so the buffer may move meanwhile. */
    size_t mget_keys_off;
    size_t mget_consumed;          /* the line's length, skipped once done */

    uint8_t auth;                  /* enum session_auth: SESSION_AUTH_OPEN unless -S/-Y and
                                      not yet authenticated (session_auth.h) */
    struct mcd_sasl_conn *sasl;    /* -S: the connection's SASL context, once used */

    uint64_t commands;             /* requests handed to the command layer so far */
    bool close_after_write;        /* quit, fatal errors: parse no more; close once replies are out */
    bool close_error;              /* ... and it is for an error (`watch connevents` says so) */
};

/* Sets up a session whose protocol is `proto` (PROTO_AUTO: sniffed from the
 * first byte), counting into the given counter blocks (a thread's; see
 * struct request_ctx). Returns 0, or -1 when out of memory. */
int session_init(struct session *s, enum proto_binding proto, struct store_tstats *ts,
                 struct store_tstats *uncounted, struct worker_tstats *ws);
/* Releases every item the session pins and its buffers. */
void session_deinit(struct session *s);
/* Back to a new session of protocol `proto` without freeing its buffers:
 * drops the input, a pending value (its item released) and every unsent
 * reply. For a session reused per request datagram (server/udp.c). */
void session_reset(struct session *s, enum proto_binding proto);

/*
 * Input, without copying: session_read_space() says where the next bytes go
 * (the pending large value's item, or the read buffer, compacted or grown
 * as needed) and how many fit; NULL when nothing fits now (the buffer is at
 * its largest). session_read_done() takes the n bytes written there.
 */
char *session_read_space(struct session *s, size_t *len);
static inline void session_read_done(struct session *s, size_t n)
{
    if (s->direct)
        s->nread_got += n;
    else
        s->rlen += n;
}
/* Copies up to len bytes in through the two calls above; returns how many
 * were taken (fewer when the buffer is at its largest). */
size_t session_feed(struct session *s, const char *buf, size_t len);

/* Why session_run() stopped. */
enum session_result {
    SESSION_NEED_INPUT,   /* everything complete is done; waiting for more bytes */
    SESSION_BUDGET,       /* the budget is spent with complete input still buffered */
    SESSION_OUTPUT_FULL,  /* the output is over the cap (session_out_full) */
    SESSION_CLOSE,        /* quit or a fatal error: close once the replies are out */
    SESSION_SHUTDOWN,     /* `shutdown`: stop the server now */
    SESSION_GRACEFUL,     /* `shutdown graceful`: as SIGUSR1 */
    SESSION_WATCH,        /* `watch`: the connection becomes a watcher of
                             cmd.watch_streams (nothing replied yet; the
                             session is left as it was) */
};

/*
 * Parses and executes buffered requests until the input runs out, the
 * output is over the cap, or *budget (requests; a resumed get line counts
 * as one) is spent. Replies go to s->out; the caller sends them and
 * reply_consume()s what went out.
 */
enum session_result session_run(struct session *s, unsigned *budget);

/* True while the unsent replies are over the output cap. */
static inline bool session_out_full(const struct session *s)
{
    return reply_weight(&s->out) >= SESSION_OUT_HIGH;
}

/* True when the session would take input now (it is not waiting for its
 * output to drain). */
static inline bool session_wants_input(const struct session *s)
{
    return s->state != SESSION_MWRITE && !session_out_full(s);
}

/* True once the session grew its buffers past their initial sizes. */
static inline bool session_grew(const struct session *s)
{
    return s->out.cap > 1024 || s->rsize > SESSION_RBUF_INIT;
}

/* Gives a grown read buffer back once it is empty (session_trim()). */
void session_shrink(struct session *s);

/* Between two requests with the input all used: gives a grown read buffer back. */
static inline void session_trim(struct session *s)
{
    if (__builtin_expect(s->rsize > SESSION_RBUF_INIT, 0) && s->state == SESSION_NEW_CMD && s->rpos == s->rlen)
        session_shrink(s);
}

/* Parses nothing more (state CLOSING; session_run() answers SESSION_CLOSE):
 * drops buffered input and gives a grown read buffer back. Idempotent. */
void session_close_input(struct session *s);

#endif /* MCD_SESSION_H */
