/*
 * udp.c - memcached's UDP transport (-U PORT): sockets, one request per
 * datagram through a session, replies cut into framed datagrams.
 *
 * Sockets. Every worker opens its own UDP socket for each -l address, all
 * bound to the same port with SO_REUSEPORT, and reads it on its own event
 * base: the kernel spreads the senders over the sockets (by address hash),
 * so there is no thundering herd of threads woken for one datagram and no
 * lock between them, unlike one socket shared by every thread (memcached's
 * way). A given client always lands on the same worker.
 *
 * Requests. A datagram is one request frame (proto/udp_frame.h): a header
 * that is not memcached's (short, or a count other than 1) is dropped. Its
 * payload is received straight into the worker's UDP session's read buffer
 * (one copy, as TCP's read()), then the session runs every request in it,
 * text, meta or binary, exactly as on TCP (the protocol is the datagram's
 * first byte's whatever -B says, as memcached 1.6.45 does over UDP); a storage value in the datagram
 * is copied into its item as on TCP. What the datagram does not hold (a
 * line with no end, a value cut short) is dropped with the session state
 * when the next datagram comes: each datagram stands alone.
 *
 * Replies. Everything one datagram's requests answer is one message,
 * protocol.txt's "response": cut into datagrams of UDP_DGRAM_MAX bytes, each
 * with the request id, its sequence number and the count, sent with
 * sendmmsg() from iovecs that point into the reply builder (values are
 * referenced in item memory, not copied) and released once sent. Should a
 * multi-key get reach the session's output cap, what is buffered goes out
 * as one message and the rest as the next ones, one per turn of the event
 * loop (the worker's sockets are not read meanwhile). A message of more than 65535
 * datagrams, or one the socket refuses (EAGAIN), is dropped: UDP promises
 * no delivery, and the worker never waits for a socket to drain.
 *
 * Everything here runs on the owning worker's thread.
 */
#include "config.h"

#include "server/udp.h"

#include "proto/udp_frame.h"
#include "server/listener.h"
#include "server/log.h"
#include "server/session.h"
#include "server/settings.h"
#include "server/worker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define UDP_SOCKS_MAX 16
/* The read buffer: the largest datagram (and a byte to tell truncation). */
#define UDP_RBUF_SIZE (64 * 1024 + 1)
/* Datagrams handled per event before the other events of the worker run. */
#define UDP_READS_PER_EVENT 64
/* Datagrams per sendmmsg() and payload slices per datagram. */
#define UDP_BATCH 32
#define UDP_SLICES 16
#define UDP_SNDBUF (4 * 1024 * 1024)

struct udp_port;

/* The peer a reply goes to. */
struct udp_peer {
    struct sockaddr_storage addr;
    socklen_t len;
};

struct udp_sock {
    int fd;
    struct event *ev;
    struct udp_port *up;
    char addr[64];                 /* "udp:127.0.0.1:11211", for stats conns */
};

struct udp_port {
    struct worker *w;
    struct session s;              /* reset for every datagram */
    struct udp_sock socks[UDP_SOCKS_MAX];
    unsigned nsocks;
    /* a datagram whose replies go on past a message (a get of many keys
     * at the output cap): it resumes from resume_ev, one message per
     * turn of the loop, and the sockets are not read meanwhile */
    bool pending;
    int pending_fd;
    uint16_t pending_id;
    struct udp_peer pending_peer;
    struct event *resume_ev;
    /* one sendmmsg() batch */
    struct mmsghdr msgs[UDP_BATCH];
    struct iovec iov[UDP_BATCH][UDP_SLICES + 1];
    uint8_t hdr[UDP_BATCH][UDP_FRAME_HDR];
    char bounce[UDP_BATCH][UDP_PAYLOAD_MAX]; /* payloads made of too many slices */
};

/* Sends a batch of n datagrams. Returns false when the rest of the message
 * must be dropped (the socket is full, or an error). */
static bool send_batch(struct udp_port *up, int fd, unsigned n)
{
    unsigned done = 0;
    while (done < n) {
        int rc = sendmmsg(fd, up->msgs + done, n - done, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                log_msg(LOG_DEBUG, "udp: sendmmsg: %s", strerror(errno));
            return false;
        }
        for (int i = 0; i < rc; i++)
            STAT_ADD(up->w->ws.bytes_written, up->msgs[done + i].msg_len);
        done += (unsigned)rc;
    }
    return true;
}

/* Sends what the session has buffered as one message to `peer`, then
 * releases it. */
static void send_message(struct udp_port *up, int fd, const struct udp_peer *peer, uint16_t req_id)
{
    struct reply *r = &up->s.out;
    size_t total = r->bytes > 0 ? udp_frame_count(r->bytes) : 0;
    if (total == 0) {
        if (r->bytes > 0)
            log_msg(LOG_DEBUG, "udp: a reply of %zu bytes is over 65535 datagrams: dropped", r->bytes);
        reply_clear(r);
        return;
    }
    size_t niov;
    const struct iovec *iov = reply_pending(r, &niov);
    struct udp_cursor cur;
    udp_cursor_init(&cur, iov, niov);

    size_t left = r->bytes;
    for (size_t seq = 0; seq < total;) {
        unsigned n = 0;
        for (; n < UDP_BATCH && seq + n < total; n++) {
            size_t want = left < UDP_PAYLOAD_MAX ? left : UDP_PAYLOAD_MAX;
            struct iovec *v = up->iov[n];
            udp_frame_encode(up->hdr[n], req_id, (uint16_t)(seq + n), (uint16_t)total);
            v[0].iov_base = up->hdr[n];
            v[0].iov_len = UDP_FRAME_HDR;
            struct udp_cursor keep = cur;
            size_t nslices;
            if (udp_cursor_slice(&cur, want, v + 1, UDP_SLICES, &nslices) < want) {
                /* too many small pieces for one datagram's iovecs: copy them */
                cur = keep;
                v[1].iov_base = up->bounce[n];
                v[1].iov_len = udp_cursor_copy(&cur, want, up->bounce[n]);
                nslices = 1;
            }
            left -= want;
            up->msgs[n] = (struct mmsghdr){
                .msg_hdr = {
                    .msg_name = (void *)&peer->addr,
                    .msg_namelen = peer->len,
                    .msg_iov = v,
                    .msg_iovlen = nslices + 1,
                },
            };
        }
        if (!send_batch(up, fd, n))
            break;
        seq += n;
    }
    reply_clear(r);
}

static void pause_reading(struct udp_port *up, bool pause)
{
    for (unsigned i = 0; i < up->nsocks; i++) {
        if (pause)
            event_del(up->socks[i].ev);
        else
            event_add(up->socks[i].ev, NULL);
    }
}

/*
 * Runs the requests of the datagram in the session's read buffer (the
 * pending one's) and sends their replies as one message. A get of many
 * keys that reaches the output cap sends what it made as one message and
 * goes on at the next turn of the event loop, so that one datagram cannot
 * hold the worker's TCP connections up while it sends gigabytes. Returns
 * true when the datagram is done.
 */
static bool run_datagram(struct udp_port *up)
{
    struct session *s = &up->s;
    unsigned budget = UINT_MAX;
    enum session_result run = session_run(s, &budget);
    send_message(up, up->pending_fd, &up->pending_peer, up->pending_id);
    if (run == SESSION_OUTPUT_FULL) {
        if (!up->pending)
            pause_reading(up, true);
        up->pending = true;
        /* a timer, not event_active(): an event activated from a callback
         * runs in the same pass, before the loop polls the sockets again */
        static const struct timeval now = {0, 0};
        event_add(up->resume_ev, &now);
        return false;
    }
    if (up->pending)
        pause_reading(up, false);
    up->pending = false;
    session_reset(s, PROTO_AUTO);
    if (run == SESSION_SHUTDOWN)
        mcd_request_shutdown();
    else if (run == SESSION_GRACEFUL)
        mcd_request_graceful();
    return true;
}

static void udp_resume_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    run_datagram(arg);
}

/* Reads and answers datagrams until none is left or the per-event share is
 * spent (the event is level-triggered: it comes back). */
static void udp_read_cb(evutil_socket_t fd, short what, void *arg)
{
    struct udp_sock *us = arg;
    struct udp_port *up = us->up;
    struct session *s = &up->s;
    (void)what;

    for (unsigned i = 0; i < UDP_READS_PER_EVENT && !up->pending; i++) {
        struct udp_peer *peer = &up->pending_peer;
        struct iovec v = {.iov_base = s->rbuf, .iov_len = s->rsize};
        struct msghdr msg = {
            .msg_name = &peer->addr,
            .msg_namelen = sizeof(peer->addr),
            .msg_iov = &v,
            .msg_iovlen = 1,
        };
        ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                log_msg(LOG_DEBUG, "udp: recvmsg: %s", strerror(errno));
            return;
        }
        STAT_ADD(up->w->ws.bytes_read, (uint64_t)n);
        peer->len = msg.msg_namelen;
        struct udp_frame f;
        if ((msg.msg_flags & MSG_TRUNC) || (size_t)n >= s->rsize ||
            udp_frame_parse(s->rbuf, (size_t)n, &f) != UDP_FRAME_OK)
            continue;       /* not a request memcached takes: dropped */
        s->rpos = UDP_FRAME_HDR;
        s->rlen = (size_t)n;
        up->pending_fd = (int)fd;
        up->pending_id = f.req_id;
        run_datagram(up);
    }
}

static void describe_addr(struct udp_sock *us, const struct sockaddr *sa)
{
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
        port = ntohs(sin->sin_port);
        snprintf(us->addr, sizeof(us->addr), "udp:%s:%u", host, port);
    } else {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
        port = ntohs(sin6->sin6_port);
        snprintf(us->addr, sizeof(us->addr), "udp6:[%s]:%u", host, port);
    }
}

/* True when another socket holds the address: SO_REUSEPORT would let the
 * workers' sockets join, say, a second mcd's on the same port (of the same
 * user) and split its datagrams with it; a plain bind is refused instead. */
static bool port_taken(const struct addrinfo *ai)
{
    int fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    int one = 1;
    if (ai->ai_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    bool taken = bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno == EADDRINUSE;
    close(fd);
    return taken;
}

/* Opens this worker's socket(s) for one -l address (NULL: every one). */
static int open_host(struct udp_port *up, const char *host)
{
    struct addrinfo hints = {.ai_flags = AI_PASSIVE, .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM};
    struct addrinfo *res, *ai;
    char port[16];
    int opened = 0;

    snprintf(port, sizeof(port), "%d", settings.udpport);
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        log_msg(LOG_ERROR, "getaddrinfo(%s): %s", host ? host : "*", gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai != NULL && up->nsocks < UDP_SOCKS_MAX; ai = ai->ai_next) {
        if (up->w->id == 0 && port_taken(ai)) {
            errno = EADDRINUSE;
            log_warn_errno("failed to listen on UDP port %d", settings.udpport);
            freeaddrinfo(res);
            return -1;
        }
        int fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        int one = 1, sndbuf = UDP_SNDBUF;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
        if (ai->ai_family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            int saved = errno;
            close(fd);
            if (saved == EADDRINUSE) {
                errno = saved;
                log_warn_errno("failed to listen on UDP port %d", settings.udpport);
                freeaddrinfo(res);
                return -1;
            }
            continue;
        }
        struct udp_sock *us = &up->socks[up->nsocks];
        us->fd = fd;
        us->up = up;
        describe_addr(us, ai->ai_addr);
        us->ev = event_new(up->w->base, fd, EV_READ | EV_PERSIST, udp_read_cb, us);
        if (us->ev == NULL || event_add(us->ev, NULL) != 0) {
            if (us->ev != NULL)
                event_free(us->ev);
            close(fd);
            freeaddrinfo(res);
            return -1;
        }
        up->nsocks++;
        opened++;
    }
    freeaddrinfo(res);
    if (opened == 0) {
        log_msg(LOG_ERROR, "failed to listen on UDP %s:%d", host ? host : "*", settings.udpport);
        return -1;
    }
    return 0;
}

int udp_worker_setup(struct worker *w)
{
    if (settings.udpport == 0 || settings.socketpath != NULL)
        return 0;
    struct udp_port *up = calloc(1, sizeof(*up));
    if (up == NULL)
        return -1;
    up->w = w;
    w->udp = up;
    up->resume_ev = event_new(w->base, -1, 0, udp_resume_cb, up);
    if (up->resume_ev == NULL)
        return -1;
    if (session_init(&up->s, PROTO_AUTO, &w->ts, &w->scratch_ts, &w->ws) != 0)
        return -1;
    /* room for the largest datagram (the session never grows it itself:
     * it is only ever handed one datagram) */
    char *rbuf = realloc(up->s.rbuf, UDP_RBUF_SIZE);
    if (rbuf == NULL)
        return -1;
    up->s.rbuf = rbuf;
    up->s.rsize = UDP_RBUF_SIZE;

    /* -l takes a comma or semicolon separated list, as for TCP */
    char *list = strdup(settings.inter ? settings.inter : "127.0.0.1");
    char *save = NULL;
    int rc = 0;
    if (list == NULL)
        return -1;
    for (char *h = strtok_r(list, ",;", &save); h != NULL && rc == 0; h = strtok_r(NULL, ",;", &save))
        rc = open_host(up, strcmp(h, "*") == 0 ? NULL : h);
    free(list);
    if (rc != 0)
        return -1;
    /* memcached counts each UDP socket of each thread as a connection */
    atomic_fetch_add(&server_stats.curr_conns, up->nsocks);
    atomic_fetch_add(&server_stats.total_conns, up->nsocks);
    atomic_fetch_add(&server_stats.conn_structs, up->nsocks);
    return 0;
}

void udp_worker_teardown(struct worker *w)
{
    struct udp_port *up = w->udp;
    if (up == NULL)
        return;
    for (unsigned i = 0; i < up->nsocks; i++) {
        event_free(up->socks[i].ev);
        close(up->socks[i].fd);
    }
    if (up->resume_ev != NULL)
        event_free(up->resume_ev);
    atomic_fetch_sub(&server_stats.curr_conns, up->nsocks);
    atomic_fetch_sub(&server_stats.conn_structs, up->nsocks);
    if (up->s.rbuf != NULL)
        session_deinit(&up->s);
    free(up);
    w->udp = NULL;
}

void udp_worker_describe(const struct worker *w, stats_emit_fn emit, void *ctx)
{
    const struct udp_port *up = w->udp;
    if (up == NULL)
        return;
    for (unsigned i = 0; i < up->nsocks; i++) {
        const struct udp_sock *us = &up->socks[i];
        char name[32];
        snprintf(name, sizeof(name), "%d:UDP", us->fd);
        emit(ctx, name, "UDP");
        snprintf(name, sizeof(name), "%d:addr", us->fd);
        emit(ctx, name, us->addr);
        snprintf(name, sizeof(name), "%d:state", us->fd);
        emit(ctx, name, "conn_read");
        snprintf(name, sizeof(name), "%d:secs_since_last_cmd", us->fd);
        emit(ctx, name, "0");
    }
}
