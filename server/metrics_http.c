/*
 * metrics_http.c - the HTTP side of the Prometheus endpoint (see
 * metrics_http.h): a small HTTP/1.1 server on bufferevents, on a thread
 * and event_base of its own.
 *
 * Why not libevent's evhttp: evhttp 2.1 cannot bound the number of open
 * connections (evhttp_set_max_connections is 2.2's, and 2.1 has no hook on
 * a connection's open or close to count them; a pass-through filter
 * bufferevent to count closes broke its EOF handling), and every HTTP
 * connection holds an fd of the process that the memcached port needs too:
 * a flood of idle HTTP clients could leave memcached clients with "Too
 * many open connections". It also sends a body to HEAD. The endpoint
 * serves one GET, so the server here is small: it reads a request head
 * (request line and headers, at most METRICS_MAX_HEAD bytes; read by
 * metrics_req.c on plain memory), answers
 * GET or HEAD /metrics with the page, any other path 404, another method
 * 405, a request with a body 413, anything malformed 400 (then closes),
 * and keeps HTTP/1.1 connections alive for the next scrape.
 *
 * Limits: at most METRICS_HTTP_MAX_CONNS connections (at the limit the
 * listener is disabled and new ones wait in the kernel's backlog; daemon.c
 * reserves their fds on top of -c's), -o metrics_timeout (10 s) to read a request
 * or write a reply, after which the connection is closed, and one reply in
 * flight per connection (the next request is read once the reply before
 * is written; the kernel holds at most METRICS_SNDBUF more for a client
 * that does not read), and scrapes within METRICS_PAGE_REUSE_MS share one
 * page. So a bad or slow client costs only
 * its own connection and this thread's time, never a worker's.
 *
 * A scrape sums every worker's counters and walks the slab classes, which
 * must not stall the main thread's accept loop or a worker: hence the own
 * thread. Nothing here takes a lock the request path takes.
 */
#include "config.h"

#include "server/metrics_http.h"

#include "server/log.h"
#include "server/metrics_expo.h"
#include "server/metrics_page.h"
#include "server/metrics_req.h"
#include "server/settings.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define METRICS_MAX_HEAD 16384          /* request line + headers */
/* Scrapes this close together share one page (at most 10 makings/s). */
#define METRICS_PAGE_REUSE_MS 100
/* A client that does not read holds at most about this much of our replies
 * in the kernel (its own receive buffer aside). */
#define METRICS_SNDBUF 65536
/* After accept() fails for want of fds, pause accepting this long rather
 * than spin on a listener that stays readable. */
#define METRICS_ACCEPT_PAUSE_MS 500

static struct event_base *base;
static struct evconnlistener *listener;
static struct event *resume_ev;
static pthread_t thread;
static bool running;
/* touched by the metrics thread only */
static unsigned open_conns;
static bool paused;                     /* after an accept error */
static struct hconn *conns;             /* every open connection (teardown frees them) */

struct hconn {
    struct bufferevent *bev;
    struct hconn *prev, *next;
    bool closing;                       /* close once the reply is written */
    bool lingering;                     /* reply written, write side shut: discarding input */
    size_t discarded;
};

static void update_listener(void)
{
    if (listener == NULL)
        return;
    if (!paused && open_conns < METRICS_HTTP_MAX_CONNS)
        evconnlistener_enable(listener);
    else
        evconnlistener_disable(listener);
}

static void hconn_free(struct hconn *c)
{
    bufferevent_free(c->bev); /* closes the socket */
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    free(c);
    open_conns--;
    update_listener();
}

/*
 * The page, shared by the scrapes that come within METRICS_PAGE_REUSE_MS
 * of its making: a client that scrapes in a loop, or many at once, cost
 * at most one page making per period. Each reply holds a reference (the
 * output buffer's), the cache one more; the last one frees the page.
 */
struct page {
    char *data;
    size_t len;
    unsigned refs;
    struct timeval made;
};

static struct page *cached; /* metrics thread only */

static void page_unref(struct page *pg)
{
    if (--pg->refs == 0) {
        free(pg->data);
        free(pg);
    }
}

static void page_sent(const void *data, size_t len, void *arg)
{
    (void)data;
    (void)len;
    page_unref(arg);
}

static bool page_fresh(const struct page *pg, const struct timeval *now)
{
    long long ms = (long long)(now->tv_sec - pg->made.tv_sec) * 1000 + (now->tv_usec - pg->made.tv_usec) / 1000;
    return ms >= 0 && ms < METRICS_PAGE_REUSE_MS;
}

/* The current page, with a reference for the caller; NULL when out of memory. */
static struct page *page_get(void)
{
    struct timeval now;
    event_base_gettimeofday_cached(base, &now);
    if (cached != NULL && page_fresh(cached, &now)) {
        cached->refs++;
        return cached;
    }
    struct page *pg = calloc(1, sizeof(*pg));
    struct expo_buf b;
    expo_init(&b);
    if (pg == NULL || !metrics_page_write(&b)) {
        free(pg);
        expo_free(&b);
        return NULL;
    }
    *pg = (struct page){.data = b.data, .len = b.len, .refs = 2, .made = now};
    if (cached != NULL)
        page_unref(cached);
    cached = pg;
    return pg;
}

/* Queues a reply; body may be NULL (HEAD: the length is still body_len). */
static void reply(struct hconn *c, int code, const char *reason, const char *type, const char *extra_headers,
                  const char *body, size_t body_len, bool head_only)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    evbuffer_add_printf(out,
                        "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s%s\r\n",
                        code, reason, type, body_len, extra_headers != NULL ? extra_headers : "",
                        c->closing ? "Connection: close\r\n" : "");
    if (!head_only && body != NULL)
        evbuffer_add(out, body, body_len);
}

static void reply_text(struct hconn *c, int code, const char *reason, const char *body, bool head_only)
{
    reply(c, code, reason, "text/plain; charset=utf-8", NULL, body, strlen(body), head_only);
}

static void reply_error(struct hconn *c, int code, const char *reason, const char *body)
{
    c->closing = true;
    reply_text(c, code, reason, body, false);
}

static void serve_metrics(struct hconn *c, bool head_only)
{
    struct page *pg = page_get();
    if (pg == NULL) {
        reply_error(c, 500, "Internal Server Error", "out of memory\n");
        return;
    }
    reply(c, 200, "OK", EXPO_CONTENT_TYPE, NULL, NULL, pg->len, true);
    struct evbuffer *out = bufferevent_get_output(c->bev);
    /* the page's bytes go out without a copy; the buffer drops its reference */
    if (head_only || pg->len == 0 || evbuffer_add_reference(out, pg->data, pg->len, page_sent, pg) != 0) {
        if (!head_only && pg->len > 0)
            c->closing = true; /* a reply short of its length: close */
        page_unref(pg);
    }
}

/* One request head (len bytes, ending with "\r\n\r\n"): answers it. */
static void handle_request(struct hconn *c, const char *head, size_t len)
{
    struct mreq r;
    metrics_req_parse(head, len, &r);
    c->closing = r.close;
    switch (r.action) {
    case MREQ_METRICS:
        serve_metrics(c, r.head);
        break;
    case MREQ_NOT_FOUND:
        reply_text(c, 404, "Not Found", "not found: the metrics are at /metrics\n", r.head);
        break;
    case MREQ_NOT_ALLOWED:
        reply(c, 405, "Method Not Allowed", "text/plain; charset=utf-8", "Allow: GET, HEAD\r\n",
              "only GET and HEAD\n", 18, false);
        break;
    case MREQ_HAS_BODY:
        reply_error(c, 413, "Payload Too Large", "no request body is accepted\n");
        break;
    case MREQ_BAD_REQUEST:
        reply_error(c, 400, "Bad Request", "malformed request\n");
        break;
    }
}

#define METRICS_LINGER_S 2            /* lingering close: see linger() */
#define METRICS_LINGER_MAX (4u << 20)

static void linger(struct hconn *c);

/*
 * Answers the next request buffered, if its head is whole, once the reply
 * before it is written: one reply in flight per connection, so a client
 * that pipelines scrapes and never reads costs one page, and reading
 * stops until the reply is out (the input holds at most a head's worth:
 * the read high watermark).
 */
static void process(struct hconn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    struct evbuffer *out = bufferevent_get_output(c->bev);
    if (!c->closing && evbuffer_get_length(out) == 0) {
        /* one empty line before a request is ignored (RFC 9112 2.2) */
        if (evbuffer_get_length(in) >= 2) {
            char crlf[2];
            evbuffer_copyout(in, crlf, 2);
            if (crlf[0] == '\r' && crlf[1] == '\n')
                evbuffer_drain(in, 2);
        }
        struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
        size_t len = end.pos >= 0 ? (size_t)end.pos + 4 : 0;
        if (len > METRICS_MAX_HEAD || (end.pos < 0 && evbuffer_get_length(in) > METRICS_MAX_HEAD)) {
            reply_error(c, 431, "Request Header Fields Too Large", "request head too large\n");
        } else if (len > 0) {
            char head[METRICS_MAX_HEAD];
            evbuffer_remove(in, head, len);
            handle_request(c, head, len);
        }
    }
    if (c->closing) {
        bufferevent_disable(c->bev, EV_READ);
        if (evbuffer_get_length(out) == 0)
            linger(c);
        /* else: write_cb lingers once the reply is out */
    } else if (evbuffer_get_length(out) > 0)
        bufferevent_disable(c->bev, EV_READ); /* write_cb goes on once the reply is out */
    else
        bufferevent_enable(c->bev, EV_READ);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
    struct hconn *c = arg;
    if (c->lingering) {
        struct evbuffer *in = bufferevent_get_input(bev);
        c->discarded += evbuffer_get_length(in);
        evbuffer_drain(in, evbuffer_get_length(in));
        if (c->discarded > METRICS_LINGER_MAX)
            hconn_free(c);
        return;
    }
    process(c);
}

/*
 * A connection closed on an error reply may still have request bytes in
 * flight (a 1 MB header answered 431 at its first 16 KB): closing the
 * socket with unread input makes the kernel reset it, and a reset can
 * destroy the reply before the client reads it. So, as HTTP servers do, the
 * write side is shut once the reply is out and what still arrives is read
 * and dropped, until the client closes, METRICS_LINGER_S pass, or
 * METRICS_LINGER_MAX bytes were dropped.
 */

static void linger(struct hconn *c)
{
    c->lingering = true;
    shutdown(bufferevent_getfd(c->bev), SHUT_WR);
    struct timeval tv = {METRICS_LINGER_S, 0};
    bufferevent_set_timeouts(c->bev, &tv, NULL);
    bufferevent_setwatermark(c->bev, EV_READ, 0, 0);
    bufferevent_enable(c->bev, EV_READ);
}

/* The output buffer drained (low watermark 0). */
static void write_cb(struct bufferevent *bev, void *arg)
{
    (void)bev;
    struct hconn *c = arg;
    if (c->lingering)
        return;
    if (c->closing)
        linger(c);
    else
        process(c); /* requests that waited for room */
}

/* EOF, error, or a read or write timeout: the connection ends (after an
 * EOF, once the replies still queued are written: a client may shut down
 * its side after its request). */
static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct hconn *c = arg;
    if ((what & BEV_EVENT_EOF) && !(what & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) &&
        evbuffer_get_length(bufferevent_get_output(bev)) > 0) {
        c->closing = true;
        bufferevent_disable(bev, EV_READ);
        return;
    }
    hconn_free(c);
}

static void accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
    (void)lev;
    (void)sa;
    (void)salen;
    (void)arg;
    int sndbuf = METRICS_SNDBUF;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    struct hconn *c = calloc(1, sizeof(*c));
    c->bev = c != NULL ? bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE) : NULL;
    if (c == NULL || c->bev == NULL) {
        free(c);
        evutil_closesocket(fd);
        return;
    }
    c->next = conns;
    if (conns != NULL)
        conns->prev = c;
    conns = c;
    open_conns++;
    update_listener();
    struct timeval tv = {(time_t)settings.metrics_timeout, 0}; /* to read a request, or to write a reply */
    bufferevent_set_timeouts(c->bev, &tv, &tv);
    bufferevent_setwatermark(c->bev, EV_READ, 0, METRICS_MAX_HEAD + 1);
    bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    paused = false;
    update_listener();
}

/* accept() failed (EMFILE, ENFILE, ENOBUFS...): pause, then try again. */
static void accept_error_cb(struct evconnlistener *lev, void *arg)
{
    (void)lev;
    (void)arg;
    int err = EVUTIL_SOCKET_ERROR();
    log_msg(LOG_INFO, "metrics: accept: %s; pausing", evutil_socket_error_to_string(err));
    paused = true;
    update_listener();
    struct timeval tv = {0, METRICS_ACCEPT_PAUSE_MS * 1000};
    event_add(resume_ev, &tv);
}

static void *metrics_main(void *arg)
{
    (void)arg;
    /* the main thread handles the signals */
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    event_base_dispatch(base);
    return NULL;
}

/* "host:port", "[v6]:port" or ":port" into host ("" : any) and port. */
static bool split_hostport(const char *s, char *host, size_t cap, char *port, size_t pcap)
{
    const char *colon;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || close[1] != ':' || (size_t)(close - s - 1) >= cap)
            return false;
        colon = close + 1;
        memcpy(host, s + 1, (size_t)(close - s - 1));
        host[close - s - 1] = '\0';
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL || (size_t)(colon - s) >= cap || memchr(s, ':', (size_t)(colon - s)) != NULL)
            return false;
        memcpy(host, s, (size_t)(colon - s));
        host[colon - s] = '\0';
    }
    char *end;
    errno = 0;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || errno != 0 || p > 65535)
        return false;
    snprintf(port, pcap, "%lu", p);
    return true;
}

int metrics_http_setup(const char *hostport)
{
    char host[256], port[8];
    if (hostport == NULL || !split_hostport(hostport, host, sizeof(host), port, sizeof(port))) {
        log_msg(LOG_ERROR, "metrics_listen: expected HOST:PORT, got \"%s\"", hostport != NULL ? hostport : "");
        return -1;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *ai = NULL;
    int gai = getaddrinfo(host[0] != '\0' ? host : NULL, port, &hints, &ai);
    if (gai != 0) {
        log_msg(LOG_ERROR, "metrics_listen: %s: %s", hostport, gai_strerror(gai));
        return -1;
    }
    base = event_base_new();
    resume_ev = base != NULL ? event_new(base, -1, 0, resume_cb, NULL) : NULL;
    if (resume_ev != NULL)
        listener = evconnlistener_new_bind(base, accept_cb, NULL,
                                           LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, 128,
                                           ai->ai_addr, (int)ai->ai_addrlen);
    freeaddrinfo(ai);
    if (listener == NULL) {
        log_warn_errno("metrics: failed to listen on %s", hostport);
        metrics_http_teardown();
        return -1;
    }
    evconnlistener_set_error_cb(listener, accept_error_cb);
    int rc = pthread_create(&thread, NULL, metrics_main, NULL);
    if (rc != 0) {
        errno = rc;
        log_warn_errno("metrics: pthread_create");
        metrics_http_teardown();
        return -1;
    }
    running = true;
    return 0;
}

void metrics_http_teardown(void)
{
    if (running) {
        event_base_loopbreak(base); /* thread-safe: worker_setup enabled pthreads */
        pthread_join(thread, NULL);
        running = false;
    }
    if (listener != NULL)
        evconnlistener_free(listener);
    listener = NULL;
    while (conns != NULL)
        hconn_free(conns);
    if (cached != NULL)
        page_unref(cached);
    cached = NULL;
    if (resume_ev != NULL)
        event_free(resume_ev);
    resume_ev = NULL;
    if (base != NULL)
        event_base_free(base);
    base = NULL;
    paused = false;
}
