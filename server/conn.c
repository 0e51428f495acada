/*
 * conn.c - one client connection on its worker's event loop: the socket
 * around a session (server/session.c, which owns the read buffer, request
 * framing and the replies).
 *
 * Input: non-blocking reads into the space the session names (its read
 * buffer, or the item of a large pending value, so large values are not
 * copied twice). At most -R requests are handled per event; then the
 * connection yields to the others on the loop.
 *
 * Output: replies accumulate in the session's reply builder (iovecs; values
 * referenced in item memory, each item pinned until written) and go out
 * with one sendmsg per batch. Backpressure: while the unsent replies are
 * over the cap (session_out_full()) the connection neither reads nor
 * parses, and a get line with many keys stops between two keys (MWRITE),
 * so a client that pipelines without reading holds at most about the cap
 * in replies (plus its read buffer). Parsing resumes as soon as the output
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
 * TLS (-Z): the socket I/O goes through the seam below (conn_recv,
 * conn_send, out_pending), which server/tls.c takes over for a TLS
 * connection; everything above it (session, backpressure, -R) is the same.
 * A connection whose handshake is not done after -o ssl_handshake_timeout
 * seconds is closed (memcached 1.6.45 has no such limit: a stalled
 * handshake holds its connection until the client goes away).
 *
 * Everything here runs on the owning worker's thread.
 */
#include "config.h"

#include "server/conn.h"

#include "server/listener.h"
#include "server/log.h"
#include "server/stats.h"
#include "server/sysio.h"
#include "server/watch.h"
#include "server/tls.h"
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

static void conn_event_cb(evutil_socket_t fd, short what, void *arg);

void conn_sockname(int fd, int family, bool local, char *out, size_t outlen)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char host[INET6_ADDRSTRLEN] = "?";

    if (family == AF_UNIX) {
        snprintf(out, outlen, "unix:%s", settings.socketpath ? settings.socketpath : "");
        return;
    }
    int rc = local ? getsockname(fd, (struct sockaddr *)&ss, &len) : getpeername(fd, (struct sockaddr *)&ss, &len);
    if (rc != 0) {
        snprintf(out, outlen, "tcp:?");
        return;
    }
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
        snprintf(out, outlen, "tcp:%s:%u", host, ntohs(sin->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
        snprintf(out, outlen, "tcp6:[%s]:%u", host, ntohs(sin6->sin6_port));
    }
}

static void describe_peer(struct conn *c)
{
    conn_sockname(c->fd, c->family, false, c->peer, sizeof(c->peer));
    conn_sockname(c->fd, c->family, true, c->local, sizeof(c->local));
}

struct conn *conn_create(struct worker *w, int fd, int family)
{
    struct conn *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        close(fd);
        return NULL;
    }
    c->fd = fd;
    c->family = family & ~CONN_F_MASK;
    c->w = w;
    if ((family & CONN_F_TLS) && (c->tls = tls_conn_create(&w->ws, (family & CONN_F_MTLS) != 0)) == NULL) {
        free(c);
        close(fd);
        return NULL;
    }
    if (c->tls != NULL && settings.ssl_handshake_timeout > 0)
        c->hs_deadline = store_clock_now() + settings.ssl_handshake_timeout;
    if (session_init(&c->s, settings.binding_protocol, &w->ts, &w->scratch_ts, &w->ws) != 0) {
        tls_conn_destroy(&c->tls, fd);
        free(c);
        close(fd);
        return NULL;
    }
    c->ev = event_new(w->base, fd, EV_READ | EV_PERSIST, conn_event_cb, c);
    struct timeval hs = {(time_t)settings.ssl_handshake_timeout, 0};
    if (c->ev == NULL || event_add(c->ev, c->hs_deadline != 0 ? &hs : NULL) != 0) {
        if (c->ev != NULL)
            event_free(c->ev);
        tls_conn_destroy(&c->tls, fd);
        session_deinit(&c->s);
        free(c);
        close(fd);
        return NULL;
    }
    c->ev_flags = EV_READ;
    c->ev_timed = c->hs_deadline != 0;
    atomic_store_explicit(&c->last_cmd_time, store_clock_now(), memory_order_relaxed);
    describe_peer(c);
    c->s.cmd.cfd = fd;
    WATCH_CONN(fd, c->peer, NULL);

    pthread_mutex_lock(&w->conns_lock);
    c->next = w->conns;
    if (w->conns != NULL)
        w->conns->prev = c;
    w->conns = c;
    pthread_mutex_unlock(&w->conns_lock);
    atomic_fetch_add(&server_stats.conn_structs, 1);
    return c;
}

/* Takes c off its worker and frees it; the socket stays open. */
static void conn_forget(struct conn *c)
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
    session_deinit(&c->s);
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
}

void conn_destroy(struct conn *c)
{
    WATCH_CONN(c->fd, c->peer, c->close_reason != NULL ? c->close_reason : c->s.close_error ? "error" : "normal");
    int fd = c->fd;
    tls_conn_destroy(&c->tls, fd);
    conn_forget(c);
    close(fd);
    atomic_fetch_sub(&server_stats.curr_conns, 1);
    atomic_fetch_sub(&server_stats.conn_structs, 1);
}

void conn_detach(struct conn *c)
{
    conn_forget(c);
}

/* `watch`: the connection becomes a watcher, unless WATCH_MAX are there
 * already (then it says so and goes on as before). */
__attribute__((cold, noinline)) static bool become_watcher(struct conn *c)
{
    int fd = c->fd;
    uint32_t streams = c->s.cmd.watch_streams;
    char peer[sizeof(c->peer)];
    memcpy(peer, c->peer, sizeof(peer));
    if (c->tls != NULL) {
        /* the logger thread writes plain bytes to its watchers' sockets */
        if (reply_add_static(&c->s.out, "CLIENT_ERROR watch is not available over TLS\r\n") != 0)
            c->s.close_after_write = true;
        return false;
    }
    if (!watch_full()) {
        conn_detach(c);
        if (watch_attach(fd, streams, peer) != 0) {
            close(fd);
            atomic_fetch_sub(&server_stats.curr_conns, 1);
            atomic_fetch_sub(&server_stats.conn_structs, 1);
        }
        return true;
    }
    if (reply_add_static(&c->s.out, "WATCHER_TOO_MANY log watcher limit reached\r\n") != 0)
        c->s.close_after_write = true;
    return false;
}

void conn_describe(const struct conn *c, stats_emit_fn emit, void *ctx)
{
    rel_time_t last = atomic_load_explicit(&c->last_cmd_time, memory_order_relaxed);
    rel_time_t now = store_clock_now();
    int st = atomic_load_explicit(&c->s.pub_state, memory_order_relaxed);
    char name[32], val[32];

    snprintf(name, sizeof(name), "%d:addr", c->fd);
    emit(ctx, name, c->peer);
    snprintf(name, sizeof(name), "%d:listen_addr", c->fd);
    emit(ctx, name, c->local);
    snprintf(name, sizeof(name), "%d:state", c->fd);
    emit(ctx, name, session_state_name((enum session_state)st));
    snprintf(name, sizeof(name), "%d:secs_since_last_cmd", c->fd);
    snprintf(val, sizeof(val), "%u", now > last ? now - last : 0);
    emit(ctx, name, val);
}

/* ---- the I/O seam: plain socket calls, or server/tls.c ---- */

/* True while output waits for the socket (replies, or TLS records). */
static bool out_pending(const struct conn *c)
{
    return !reply_empty(&c->s.out) || (c->tls != NULL && tls_out_pending(c->tls));
}

/* True while the handshake deadline applies. */
static bool handshake_timed(const struct conn *c)
{
    return c->tls != NULL && c->hs_deadline != 0 && tls_handshaking(c->tls);
}

/* Registers the events of `want` (and, during a TLS handshake, the time
 * left of its deadline). */
__attribute__((noinline)) static void set_events(struct conn *c, short want)
{
    bool timed = handshake_timed(c);
    if (want == c->ev_flags && !timed && !c->ev_timed)
        return;
    event_del(c->ev);
    event_assign(c->ev, c->w->base, c->fd, want | EV_PERSIST, conn_event_cb, c);
    if (timed) {
        rel_time_t now = store_clock_now();
        struct timeval left = {c->hs_deadline > now ? (time_t)(c->hs_deadline - now) : 0, 0};
        event_add(c->ev, &left);
    } else if (want != 0) {
        event_add(c->ev, NULL);
    }
    c->ev_flags = want;
    c->ev_timed = timed;
}

/* Registers exactly the events the connection needs now. Between two
 * requests of a plain connection that is nothing: EV_READ stays. */
static inline void update_events(struct conn *c, bool want_read)
{
    short want = (short)((out_pending(c) ? EV_WRITE : 0) | (want_read ? EV_READ : 0));
    if (want == c->ev_flags && c->tls == NULL && !c->ev_timed)
        return;
    set_events(c, want);
}

/* Writes as much pending output as the socket takes. Returns false when the
 * connection broke. */
__attribute__((always_inline)) static inline bool flush_output(struct conn *c)
{
    if (c->tls != NULL) {
        uint64_t plain;
        int rc = tls_write(c->tls, c->fd, &c->s.out, &plain);
        STAT_ADD(c->w->ws.bytes_written, plain); /* plaintext, as memcached counts */
        return rc == 0;
    }
    while (!reply_empty(&c->s.out)) {
        size_t n;
        const struct iovec *iov = reply_pending(&c->s.out, &n);
        if (n > IOV_MAX)
            n = IOV_MAX;
        struct msghdr msg = {.msg_iov = (struct iovec *)iov, .msg_iovlen = n};
        ssize_t w = sysio_sendmsg(c->fd, &msg, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return true;
            if (errno == EINTR)
                continue;
            return false;
        }
        STAT_ADD(c->w->ws.bytes_written, (uint64_t)w);
        reply_consume(&c->s.out, (size_t)w);
    }
    return true;
}

enum read_result { READ_DATA, READ_NONE, READ_EOF, READ_ERROR };

/* One read(), into the space the session names (a large pending value's
 * item, or its read buffer). */
static enum read_result read_input(struct conn *c)
{
    size_t room;
    char *p = session_read_space(&c->s, &room);
    if (p == NULL)
        return READ_NONE;
    if (c->tls != NULL) {
        size_t got;
        switch (tls_read(c->tls, c->fd, p, room, &got)) {
        case TLS_IO_DATA:
            session_read_done(&c->s, got);
            STAT_ADD(c->w->ws.bytes_read, (uint64_t)got);
            return READ_DATA;
        case TLS_IO_NONE: return READ_NONE;
        case TLS_IO_EOF: return READ_EOF;
        case TLS_IO_ERROR: return READ_ERROR;
        }
    }
    ssize_t n = sysio_read(c->fd, p, room);
    if (n > 0) {
        session_read_done(&c->s, (size_t)n);
        STAT_ADD(c->w->ws.bytes_read, (uint64_t)n);
        return READ_DATA;
    }
    if (n == 0)
        return READ_EOF;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return READ_NONE;
    return READ_ERROR;
}

/* Closes now, or once the pending replies are written (EV_WRITE only). */
static void conn_close_after_flush(struct conn *c)
{
    if (!out_pending(c)) {
        conn_destroy(c);
        return;
    }
    /* nothing more is parsed: a grown input buffer goes back now */
    session_close_input(&c->s);
    update_events(c, false);
}

void conn_close_flush(struct conn *c)
{
    c->close_reason = "shutdown";
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

    if ((what & EV_TIMEOUT) && handshake_timed(c)) {
        log_msg(LOG_INFO, "closing connection %d: TLS handshake not done in %u s", c->fd,
                settings.ssl_handshake_timeout);
        conn_destroy(c);
        return;
    }
    if ((what & EV_WRITE) && !flush_output(c)) {
        c->close_reason = "error";
        conn_destroy(c);
        return;
    }
    if (c->s.state == SESSION_CLOSING) {
        conn_close_after_flush(c);
        return;
    }
    if ((what & EV_READ) && !c->eof && session_wants_input(&c->s)) {
        switch (read_input(c)) {
        case READ_EOF: c->eof = true; break;
        case READ_ERROR:
            c->close_reason = "error";
            conn_destroy(c);
            return;
        case READ_DATA:
        case READ_NONE: break;
        }
    }

    unsigned budget = settings.reqs_per_event;
    uint64_t commands = c->s.commands;
    enum session_result run;
    for (;;) {
        run = session_run(&c->s, &budget);
        if (!flush_output(c)) {
            c->close_reason = "error";
            conn_destroy(c);
            return;
        }
        if (run != SESSION_OUTPUT_FULL || session_out_full(&c->s))
            break;
        /* the socket took it all: go on with what is buffered */
    }
    if (c->s.commands != commands)
        atomic_store_explicit(&c->last_cmd_time, store_clock_now(), memory_order_relaxed);
    if (session_grew(&c->s))
        c->big = true;

    switch (run) {
    case SESSION_SHUTDOWN:
        conn_destroy(c);
        mcd_request_shutdown();
        return;
    case SESSION_GRACEFUL:
        conn_destroy(c);
        mcd_request_graceful();
        return;
    case SESSION_CLOSE:
        conn_close_after_flush(c);
        return;
    case SESSION_WATCH:
        if (become_watcher(c))
            return;
        (void)flush_output(c);
        break;
    case SESSION_NEED_INPUT:
        if (c->eof) {
            conn_close_after_flush(c);
            return;
        }
        break;
    case SESSION_BUDGET:
    case SESSION_OUTPUT_FULL:
        break;
    }
    session_trim(&c->s);
    bool want_read = !c->eof && session_wants_input(&c->s);
    update_events(c, want_read);
    if (__builtin_expect(run == SESSION_BUDGET, 0)) {
        /* -R spent with requests still buffered: let the other connections
         * of this worker run, then come back */
        STAT_INC(c->w->ws.conn_yields);
        event_active(c->ev, EV_READ, 1);
    } else if (c->tls != NULL && want_read && tls_in_buffered(c->tls)) {
        /* decrypted or received input the socket will not announce again */
        event_active(c->ev, EV_READ, 1);
    }
}
