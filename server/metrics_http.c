/*
 * metrics_http.c - the HTTP side of the Prometheus endpoint (see
 * metrics_http.h).
 *
 * libevent's evhttp (in libevent 2.1, which mcd links already) parses the
 * requests: it enforces the limits we need per connection (header and body
 * size, read/write timeouts, allowed methods) and answers malformed
 * requests with 400 itself, so a bad or slow client costs only its own
 * connection and this thread's time, never a worker's. Writing an HTTP
 * parser of our own would buy nothing for one GET per scrape interval.
 *
 * Its own thread and event_base: a scrape sums every worker's counters and
 * walks the slab classes, which must not stall the main thread's accept
 * loop or a worker. Nothing here takes a lock the request path takes.
 */
#include "config.h"

#include "server/metrics_http.h"

#include "server/log.h"
#include "server/metrics_expo.h"
#include "server/metrics_page.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Per-connection limits: a scrape is one small GET. */
#define METRICS_TIMEOUT_S 10          /* read, write and idle, each */
#define METRICS_MAX_HEADERS 16384     /* bytes of request line + headers */
#define METRICS_MAX_BODY 4096
/* After accept() fails for want of fds, pause accepting this long rather
 * than spin on a listener that stays readable. */
#define METRICS_ACCEPT_PAUSE_MS 500

static struct event_base *base;
static struct evhttp *http;
static struct event *resume_ev;
static pthread_t thread;
static bool running;

static void send_text(struct evhttp_request *req, int code, const char *reason, const char *body)
{
    struct evbuffer *out = evbuffer_new();
    if (out != NULL)
        evbuffer_add(out, body, strlen(body));
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "text/plain; charset=utf-8");
    evhttp_send_reply(req, code, reason, out);
    if (out != NULL)
        evbuffer_free(out);
}

static void free_page(const void *data, size_t len, void *arg)
{
    (void)data;
    (void)len;
    free(arg);
}

static void serve_metrics(struct evhttp_request *req)
{
    struct expo_buf page;
    expo_init(&page);
    if (!metrics_page_write(&page)) {
        expo_free(&page);
        send_text(req, HTTP_INTERNAL, "Internal Server Error", "out of memory\n");
        return;
    }
    struct evbuffer *out = evbuffer_new();
    /* the page's bytes go out without a copy; the buffer frees them */
    if (out == NULL || evbuffer_add_reference(out, page.data, page.len, free_page, page.data) != 0) {
        if (out != NULL)
            evbuffer_free(out);
        expo_free(&page);
        send_text(req, HTTP_INTERNAL, "Internal Server Error", "out of memory\n");
        return;
    }
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", EXPO_CONTENT_TYPE);
    if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) /* evhttp 2.1 would send the body */
        evbuffer_drain(out, evbuffer_get_length(out));
    evhttp_send_reply(req, HTTP_OK, "OK", out);
    evbuffer_free(out);
}

/* Every request: GET (or HEAD) /metrics, any query; anything else 404. */
static void request_cb(struct evhttp_request *req, void *arg)
{
    (void)arg;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
    if (path != NULL && strcmp(path, "/metrics") == 0)
        serve_metrics(req);
    else
        send_text(req, HTTP_NOTFOUND, "Not Found", "not found: the metrics are at /metrics\n");
}

static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    evconnlistener_enable(arg);
}

/* accept() failed (EMFILE, ENFILE, ENOBUFS...): pause, then try again. */
static void accept_error_cb(struct evconnlistener *lev, void *arg)
{
    (void)arg;
    int err = EVUTIL_SOCKET_ERROR();
    log_msg(LOG_INFO, "metrics: accept: %s; pausing", evutil_socket_error_to_string(err));
    evconnlistener_disable(lev);
    struct timeval tv = {0, METRICS_ACCEPT_PAUSE_MS * 1000};
    event_del(resume_ev);
    event_assign(resume_ev, base, -1, 0, resume_cb, lev);
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

/* "host:port", "[v6]:port" or ":port" into host (NULL: any) and port. */
static bool split_hostport(const char *s, char *host, size_t cap, unsigned short *port)
{
    const char *colon;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || close[1] != ':')
            return false;
        colon = close + 1;
        if ((size_t)(close - s - 1) >= cap)
            return false;
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
    *port = (unsigned short)p;
    return true;
}

int metrics_http_setup(const char *hostport)
{
    char host[256];
    unsigned short port;
    if (hostport == NULL || !split_hostport(hostport, host, sizeof(host), &port)) {
        log_msg(LOG_ERROR, "metrics_listen: expected HOST:PORT, got \"%s\"", hostport != NULL ? hostport : "");
        return -1;
    }
    base = event_base_new();
    http = base != NULL ? evhttp_new(base) : NULL;
    resume_ev = base != NULL ? event_new(base, -1, 0, resume_cb, NULL) : NULL;
    if (http == NULL || resume_ev == NULL) {
        log_msg(LOG_ERROR, "metrics: out of memory");
        metrics_http_teardown();
        return -1;
    }
    evhttp_set_timeout(http, METRICS_TIMEOUT_S);
    evhttp_set_max_headers_size(http, METRICS_MAX_HEADERS);
    evhttp_set_max_body_size(http, METRICS_MAX_BODY);
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
    evhttp_set_gencb(http, request_cb, NULL);
    struct evhttp_bound_socket *bound = evhttp_bind_socket_with_handle(http, host[0] != '\0' ? host : NULL, port);
    if (bound == NULL) {
        log_warn_errno("metrics: failed to listen on %s", hostport);
        metrics_http_teardown();
        return -1;
    }
    evconnlistener_set_error_cb(evhttp_bound_socket_get_listener(bound), accept_error_cb);
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
    if (resume_ev != NULL)
        event_free(resume_ev);
    resume_ev = NULL;
    if (http != NULL)
        evhttp_free(http); /* closes the listener and every connection */
    http = NULL;
    if (base != NULL)
        event_base_free(base);
    base = NULL;
}
