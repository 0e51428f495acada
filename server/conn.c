/*
 * conn.c - one client connection on its worker's event loop.
 *
 * Input: non-blocking reads into a per-connection buffer (16 KB, grown only
 * while one command line does not fit, shrunk back once empty). Commands are
 * parsed and executed straight from the buffer; a storage command's value
 * goes into item memory (read() straight into the item when the buffer holds
 * none of it, so large values are not copied twice). At most -R requests are
 * handled per event; then the connection yields to the others on the loop.
 *
 * Output: replies accumulate in a reply builder (iovecs; values referenced
 * in item memory, each item pinned until written) and go out with one
 * writev per batch. Backpressure: while the unsent replies are over the
 * cap (conn_out_full(), conn.h) the connection neither reads nor parses,
 * and a get line with many keys stops between two keys (CONN_MWRITE), so
 * a client that pipelines without reading holds at most about the cap in
 * replies (plus its read buffer). Parsing resumes as soon as the output
 * drains below the cap, from whichever event drained it.
 *
 * End of input: a peer that shuts its write side (nc -N, batch loaders)
 * still gets every reply: the buffered requests run (-R at a time), the
 * replies are flushed, then the connection closes. quit and fatal errors
 * close the same way, once their replies are out.
 *
 * Memory: buffers of 128 KB and more are mmap'd (worker_setup() fixes
 * glibc's threshold), so they go back to the system when freed; a
 * connection that grew its buffers trims the heap when it closes.
 *
 * Everything here runs on the owning worker's thread.
 */
#include "config.h"

#include "server/conn.h"

#include "proto/binary.h"
#include "proto/meta.h"
#include "proto/text.h"
#include "server/listener.h"
#include "server/log.h"
#include "server/stats.h"
#include "server/worker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <limits.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#define CONN_RBUF_INIT (16 * 1024)
#define CONN_DIRECT_READ_MIN 4096     /* read values this large straight into the item */

static const char *const state_names[] = {
#define X(id, name) name,
    CONN_STATES(X)
#undef X
};

const char *conn_state_name(enum conn_state s)
{
    return state_names[s];
}

static void conn_event_cb(evutil_socket_t fd, short what, void *arg);

static void set_state(struct conn *c, enum conn_state s)
{
    c->state = s;
    atomic_store_explicit(&c->pub_state, (int)s, memory_order_relaxed);
}

static void release_item(void *owner)
{
    item_release(owner);
}

static void describe_peer(struct conn *c)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char host[INET6_ADDRSTRLEN] = "?";

    if (c->family == AF_UNIX) {
        snprintf(c->peer, sizeof(c->peer), "unix:%s", settings.socketpath ? settings.socketpath : "");
        return;
    }
    if (getpeername(c->fd, (struct sockaddr *)&ss, &len) != 0) {
        snprintf(c->peer, sizeof(c->peer), "tcp:?");
        return;
    }
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
        snprintf(c->peer, sizeof(c->peer), "tcp:%s:%u", host, ntohs(sin->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
        snprintf(c->peer, sizeof(c->peer), "tcp6:[%s]:%u", host, ntohs(sin6->sin6_port));
    }
}

struct conn *conn_create(struct worker *w, int fd, int family)
{
    struct conn *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        close(fd);
        return NULL;
    }
    c->fd = fd;
    c->family = family;
    c->w = w;
    c->proto = settings.binding_protocol;
    c->rsize = CONN_RBUF_INIT;
    c->rbuf = malloc(c->rsize);
    c->ev = event_new(w->base, fd, EV_READ | EV_PERSIST, conn_event_cb, c);
    if (c->rbuf == NULL || c->ev == NULL || event_add(c->ev, NULL) != 0) {
        if (c->ev != NULL)
            event_free(c->ev);
        free(c->rbuf);
        free(c);
        close(fd);
        return NULL;
    }
    c->ev_flags = EV_READ;
    reply_init(&c->out, release_item);
    c->cmd = (struct request_ctx){
        .enc = c->proto == PROTO_BINARY ? &binary_encoder : &text_encoder,
        .out = &c->out,
        .out_cap = CONN_OUT_HIGH,
        .ts = &w->ts,
        .uncounted = &w->scratch_ts,
        .ws = &w->ws,
    };
    set_state(c, CONN_NEW_CMD);
    atomic_store_explicit(&c->last_cmd_time, store_clock_now(), memory_order_relaxed);
    describe_peer(c);

    pthread_mutex_lock(&w->conns_lock);
    c->next = w->conns;
    if (w->conns != NULL)
        w->conns->prev = c;
    w->conns = c;
    pthread_mutex_unlock(&w->conns_lock);
    atomic_fetch_add(&server_stats.conn_structs, 1);
    return c;
}

void conn_destroy(struct conn *c)
{
    struct worker *w = c->w;

    pthread_mutex_lock(&w->conns_lock);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    pthread_mutex_unlock(&w->conns_lock);

    event_free(c->ev);
    close(c->fd);
    if (c->nread_it != NULL)
        item_release(c->nread_it);
    reply_deinit(&c->out);
    free(c->rbuf);
    bool big = c->big;
    free(c);
#ifdef __GLIBC__
    /* the small blocks of a large reply sit in the middle of the heap:
     * give their pages back (rare: only connections that grew big) */
    if (big)
        malloc_trim(0);
#else
    (void)big;
#endif
    atomic_fetch_sub(&server_stats.curr_conns, 1);
    atomic_fetch_sub(&server_stats.conn_structs, 1);
}

void conn_describe(const struct conn *c, stats_emit_fn emit, void *ctx)
{
    rel_time_t last = atomic_load_explicit(&c->last_cmd_time, memory_order_relaxed);
    rel_time_t now = store_clock_now();
    int st = atomic_load_explicit(&c->pub_state, memory_order_relaxed);
    char name[32], val[32];

    snprintf(name, sizeof(name), "%d:addr", c->fd);
    emit(ctx, name, c->peer);
    snprintf(name, sizeof(name), "%d:state", c->fd);
    emit(ctx, name, state_names[st]);
    snprintf(name, sizeof(name), "%d:secs_since_last_cmd", c->fd);
    snprintf(val, sizeof(val), "%u", now > last ? now - last : 0);
    emit(ctx, name, val);
}

/* Registers exactly the events the connection needs now. */
static void update_events(struct conn *c, bool want_read)
{
    short want = 0;
    if (!reply_empty(&c->out))
        want |= EV_WRITE;
    if (want_read)
        want |= EV_READ;
    if (want == c->ev_flags)
        return;
    event_del(c->ev);
    event_assign(c->ev, c->w->base, c->fd, want | EV_PERSIST, conn_event_cb, c);
    if (want != 0)
        event_add(c->ev, NULL);
    c->ev_flags = want;
}

/* Writes as much pending output as the socket takes. Returns false when the
 * connection broke. */
static bool flush_output(struct conn *c)
{
    while (!reply_empty(&c->out)) {
        size_t n;
        const struct iovec *iov = reply_pending(&c->out, &n);
        if (n > IOV_MAX)
            n = IOV_MAX;
        struct msghdr msg = {.msg_iov = (struct iovec *)iov, .msg_iovlen = n};
        ssize_t w = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return true;
            if (errno == EINTR)
                continue;
            return false;
        }
        STAT_ADD(c->w->ws.bytes_written, (uint64_t)w);
        reply_consume(&c->out, (size_t)w);
    }
    return true;
}

/* Makes room for more input: compacts, and grows while one line does not fit. */
static bool make_room(struct conn *c)
{
    if (c->rpos > 0) {
        memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
        c->rlen -= c->rpos;
        c->rpos = 0;
    }
    if (c->rlen < c->rsize)
        return true;
    size_t nsize = c->rsize * 2;
    if (nsize > TEXT_MULTIGET_LINE_MAX + CONN_RBUF_INIT)
        return false;
    char *n = realloc(c->rbuf, nsize);
    if (n == NULL)
        return false;
    c->rbuf = n;
    c->rsize = nsize;
    return true;
}

/* Gives a grown, now-empty buffer back. */
static void maybe_shrink(struct conn *c)
{
    if (c->rsize > CONN_RBUF_INIT && c->rpos == c->rlen) {
        char *n = realloc(c->rbuf, CONN_RBUF_INIT);
        if (n != NULL) {
            c->rbuf = n;
            c->rsize = CONN_RBUF_INIT;
        }
        c->rpos = c->rlen = 0;
    }
}

enum read_result { READ_DATA, READ_NONE, READ_EOF, READ_ERROR };

/* One read(). Reads straight into the item while a large value is pending. */
static enum read_result read_input(struct conn *c)
{
    ssize_t n;
    if (c->state == CONN_NREAD && c->rpos == c->rlen) {
        size_t want = item_nbytes(c->nread_it) - c->nread_got;
        if (want >= CONN_DIRECT_READ_MIN) {
            n = read(c->fd, item_data(c->nread_it) + c->nread_got, want);
            if (n > 0) {
                c->nread_got += (size_t)n;
                STAT_ADD(c->w->ws.bytes_read, (uint64_t)n);
                return READ_DATA;
            }
            goto check;
        }
    }
    if (c->rpos == c->rlen)
        c->rpos = c->rlen = 0;
    /* Full: compact, or grow while one command line does not fit (the
     * parser closes the connection before a line outgrows the cap). */
    if (c->rlen == c->rsize && !make_room(c))
        return READ_NONE;
    n = read(c->fd, c->rbuf + c->rlen, c->rsize - c->rlen);
    if (n > 0) {
        c->rlen += (size_t)n;
        STAT_ADD(c->w->ws.bytes_read, (uint64_t)n);
        return READ_DATA;
    }
check:
    if (n == 0)
        return READ_EOF;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return READ_NONE;
    return READ_ERROR;
}

/* Feeds buffered bytes to a pending value. Returns true when it is complete. */
static bool fill_value(struct conn *c)
{
    size_t avail = c->rlen - c->rpos;
    size_t want = item_nbytes(c->nread_it) - c->nread_got;
    size_t take = avail < want ? avail : want;
    if (take > 0) {
        memcpy(item_data(c->nread_it) + c->nread_got, c->rbuf + c->rpos, take);
        c->nread_got += take;
        c->rpos += take;
        avail -= take;
    }
    while (c->nread_got == item_nbytes(c->nread_it) && c->nread_term < 2 && avail > 0) {
        c->term[c->nread_term++] = c->rbuf[c->rpos++];
        avail--;
    }
    return c->nread_got == item_nbytes(c->nread_it) && c->nread_term == 2;
}

/* The protocol of a connection under -B auto is its first byte's (0x80:
 * binary); from then on the command layer words replies with its table. */
static void pick_protocol(struct conn *c, unsigned char first)
{
    c->proto = first == BINARY_MAGIC_REQUEST ? PROTO_BINARY : PROTO_ASCII;
    c->cmd.enc = c->proto == PROTO_BINARY ? &binary_encoder : &text_encoder;
}

/*
 * Parses one request into c->req with the connection's protocol. Errors
 * the parser reports are answered here; the caller skips *consumed bytes
 * (and swallow_left more).
 */
static enum proto_status parse_one(struct conn *c, size_t *consumed)
{
    const char *buf = c->rbuf + c->rpos;
    size_t len = c->rlen - c->rpos;
    struct mc_request *req = &c->req.mc;
    enum proto_status ps;
    int rc = 0;

    if (c->proto == PROTO_AUTO)
        pick_protocol(c, (unsigned char)buf[0]);
    c->req.kind = REQUEST_CLASSIC;
    if (c->proto == PROTO_BINARY) {
        uint16_t err = 0;
        ps = binary_parse(buf, len, req, consumed, &err);
        switch (ps) {
        case PROTO_ERROR:
            /* unknown opcode: answer, skip its body, keep the connection */
            rc = binary_encode_status(&c->out, req, err);
            c->swallow_left = req->vlen;
            break;
        case PROTO_CLOSE:
        case PROTO_CLIENT_ERROR:
            if (err != 0)
                rc = binary_encode_status(&c->out, req, err);
            c->close_after_write = true;
            ps = PROTO_CLIENT_ERROR;
            break;
        default:
            break;
        }
    } else if (meta_is_meta(buf, len)) {
        /* meta commands: errors always go out; a bad ms header that got as
         * far as its data length has its data block swallowed */
        const char *errmsg = NULL;
        size_t swallow = 0;
        ps = meta_parse(buf, len, &c->req.meta, consumed, &errmsg, &swallow);
        if (ps == PROTO_OK) {
            c->req.kind = REQUEST_META;
        } else if (ps == PROTO_ERROR) {
            rc = text_encode_error(&c->out);
        } else if (ps == PROTO_CLIENT_ERROR) {
            rc = text_encode_client_error(&c->out, errmsg);
            c->swallow_left = swallow;
        }
    } else {
        const char *errmsg = NULL;
        ps = text_parse(buf, len, req, consumed, &errmsg);
        if (ps == PROTO_ERROR) {
            if (!req->noreply) /* 1.6.45: a trailing noreply silences ERROR */
                rc = text_encode_error(&c->out);
        } else if (ps == PROTO_CLIENT_ERROR) {
            /* a bad storage header whose length parsed has its data block
             * swallowed (req->vlen bytes); a trailing noreply silences */
            c->swallow_left = req->vlen;
            if (!req->noreply)
                rc = text_encode_client_error(&c->out, errmsg ? errmsg : "bad command line format");
        }
    }
    if (rc != 0)
        c->close_after_write = true;
    return ps;
}

/* Why run_requests() stopped. */
enum run_result {
    RUN_NEED_INPUT,   /* everything complete is done; waiting for more bytes */
    RUN_BUDGET,       /* -R spent with complete input still buffered */
    RUN_OUTPUT_FULL,  /* the output is over the cap (conn_out_full) */
    RUN_CLOSE,        /* quit or a fatal error: close once the replies are out */
    RUN_SHUTDOWN,     /* `shutdown`: stop the server now */
    RUN_GRACEFUL,     /* `shutdown graceful`: as SIGUSR1 */
};

/* Bytes after a value that the protocol puts there: "\r\n" but in binary. */
static size_t value_terminator_len(const struct conn *c)
{
    return c->proto == PROTO_BINARY ? 0 : 2;
}

/* Sets up the read of a storage request's value into `it`. */
static void start_value(struct conn *c, struct item *it)
{
    c->nread_it = it;
    c->nread_got = 0;
    c->nread_term = (uint8_t)(2 - value_terminator_len(c));
    c->term[0] = '\r';
    c->term[1] = '\n';
    /* the request's pointers into rbuf die with the line (the value may
     * move the buffer); a meta request holds none */
    c->req.mc.key = c->req.mc.keys = c->req.mc.args = NULL;
    set_state(c, CONN_NREAD);
}

/* The value and its terminator are in: hand them to the command layer. */
static void finish_value(struct conn *c)
{
    struct item *it = c->nread_it;
    c->nread_it = NULL;
    set_state(c, CONN_NEW_CMD);
    process_value(&c->cmd, &c->req, it, c->term[0] == '\r' && c->term[1] == '\n');
    if (c->cmd.broken)
        c->close_after_write = true;
}

static enum run_result run_next(struct conn *c, enum process_next next)
{
    switch (next) {
    case PROCESS_NREAD: start_value(c, c->cmd.value_item); break;
    case PROCESS_SWALLOW:
        c->swallow_left = c->cmd.swallow + value_terminator_len(c);
        set_state(c, CONN_SWALLOW);
        break;
    case PROCESS_CLOSE: return RUN_CLOSE;
    case PROCESS_SHUTDOWN: return RUN_SHUTDOWN;
    case PROCESS_GRACEFUL: return RUN_GRACEFUL;
    case PROCESS_MORE: /* handled by the caller */
    case PROCESS_CONTINUE: break;
    }
    return RUN_NEED_INPUT;
}

/*
 * Parses and executes buffered requests until the input runs out, the
 * output is over the cap or *budget (-R requests, a resumed get line counts
 * as one) is spent.
 */
static enum run_result run_requests(struct conn *c, unsigned *budget)
{
    for (;;) {
        if (conn_out_full(c))
            return RUN_OUTPUT_FULL;
        if (c->state == CONN_NREAD) {
            if (!fill_value(c))
                return RUN_NEED_INPUT;
            finish_value(c);
            continue;
        }
        if (c->state == CONN_SWALLOW) {
            size_t avail = c->rlen - c->rpos;
            size_t take = avail < c->swallow_left ? avail : c->swallow_left;
            c->rpos += take;
            c->swallow_left -= take;
            if (c->swallow_left > 0)
                return RUN_NEED_INPUT;
            set_state(c, CONN_NEW_CMD);
            continue;
        }
        if (c->close_after_write)
            return RUN_CLOSE;
        if (c->state != CONN_MWRITE && c->rpos == c->rlen)
            return RUN_NEED_INPUT;
        if (*budget == 0)
            return RUN_BUDGET;

        size_t consumed = 0;
        if (c->state == CONN_MWRITE) {
            /* resume the get line where the command layer stopped */
            c->req.mc.keys = c->rbuf + c->rpos + c->mget_keys_off;
            consumed = c->mget_consumed;
        } else {
            enum proto_status ps = parse_one(c, &consumed);
            if (ps == PROTO_NEED_MORE)
                return RUN_NEED_INPUT;
            if (ps == PROTO_CLOSE) {
                (*budget)--;
                return RUN_CLOSE;
            }
            if (ps != PROTO_OK) {
                (*budget)--;
                c->rpos += consumed;
                if (c->swallow_left > 0)
                    set_state(c, CONN_SWALLOW);
                continue;
            }
        }
        (*budget)--;
        atomic_store_explicit(&c->last_cmd_time, store_clock_now(), memory_order_relaxed);
        enum process_next next = process_request(&c->cmd, &c->req);
        if (c->cmd.broken)
            c->close_after_write = true;
        if (next == PROCESS_MORE) {
            if (c->state != CONN_MWRITE) {
                /* only a text key list stops half way: rebase it on rpos */
                c->mget_keys_off = (size_t)(c->req.mc.keys - (c->rbuf + c->rpos));
                c->mget_consumed = consumed;
                set_state(c, CONN_MWRITE);
            }
            continue;   /* the cap check at the top stops the loop */
        }
        if (c->state == CONN_MWRITE)
            set_state(c, CONN_NEW_CMD);
        c->rpos += consumed;
        enum run_result r = run_next(c, next);
        if (r != RUN_NEED_INPUT)
            return r;
    }
}

/* Closes now, or once the pending replies are written (EV_WRITE only). */
static void conn_close_after_flush(struct conn *c)
{
    if (reply_empty(&c->out)) {
        conn_destroy(c);
        return;
    }
    if (c->state != CONN_CLOSING) {
        /* nothing more is parsed: a grown input buffer goes back now */
        set_state(c, CONN_CLOSING);
        c->rpos = c->rlen;
        maybe_shrink(c);
    }
    update_events(c, false);
}

void conn_close_flush(struct conn *c)
{
    /* what the socket does not take now is dropped, as memcached does */
    (void)flush_output(c);
    conn_destroy(c);
}

/*
 * One callback for every event of a connection:
 *
 *   1. write what is pending (EV_WRITE);
 *   2. read once (EV_READ), unless the peer has shut its side, a get line
 *      is suspended or the output is over the cap;
 *   3. run requests (at most -R) and flush, again while the socket takes
 *      the output as fast as it is made, so buffered input never waits for
 *      an event that will not come;
 *   4. register what is needed next: EV_READ while input is welcome,
 *      EV_WRITE while output is pending; with -R spent, yield to the other
 *      connections of the worker and come back through event_active().
 *
 * End of input (read() == 0) is not the end of the connection: requests
 * already buffered are answered (-R at a time, as usual), then the replies
 * are flushed, then it closes. A read or write error closes at once.
 */
static void conn_event_cb(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    (void)fd;

    if ((what & EV_WRITE) && !flush_output(c)) {
        conn_destroy(c);
        return;
    }
    if (c->state == CONN_CLOSING) {
        conn_close_after_flush(c);
        return;
    }
    if ((what & EV_READ) && !c->eof && c->state != CONN_MWRITE && !conn_out_full(c)) {
        switch (read_input(c)) {
        case READ_EOF: c->eof = true; break;
        case READ_ERROR: conn_destroy(c); return;
        case READ_DATA:
        case READ_NONE: break;
        }
    }

    unsigned budget = settings.reqs_per_event;
    enum run_result run;
    for (;;) {
        run = run_requests(c, &budget);
        if (!flush_output(c)) {
            conn_destroy(c);
            return;
        }
        if (run != RUN_OUTPUT_FULL || conn_out_full(c))
            break;
        /* the socket took it all: go on with what is buffered */
    }
    if (c->out.cap > 1024 || c->rsize > CONN_RBUF_INIT)
        c->big = true;

    switch (run) {
    case RUN_SHUTDOWN:
        conn_destroy(c);
        mcd_request_shutdown();
        return;
    case RUN_GRACEFUL:
        conn_destroy(c);
        mcd_request_graceful();
        return;
    case RUN_CLOSE:
        conn_close_after_flush(c);
        return;
    case RUN_NEED_INPUT:
        if (c->eof) {
            conn_close_after_flush(c);
            return;
        }
        break;
    case RUN_BUDGET:
    case RUN_OUTPUT_FULL:
        break;
    }
    if (c->state == CONN_NEW_CMD && c->rpos == c->rlen)
        maybe_shrink(c);
    update_events(c, !c->eof && c->state != CONN_MWRITE && !conn_out_full(c));
    if (run == RUN_BUDGET) {
        /* -R spent with requests still buffered: let the other connections
         * of this worker run, then come back */
        STAT_INC(c->w->ws.conn_yields);
        event_active(c->ev, EV_READ, 1);
    }
}
