/*
 * metrics_http.h - the Prometheus endpoint (-o metrics_listen=HOST:PORT):
 * an HTTP/1.1 listener on a thread and event_base of its own, never a
 * worker's, answering GET /metrics with metrics_page.c's page.
 */
#ifndef MCD_METRICS_HTTP_H
#define MCD_METRICS_HTTP_H

/* HTTP connections open at once at most; daemon.c reserves their fds on top
 * of -c's when -o metrics_listen is set. */
#define METRICS_HTTP_MAX_CONNS 64

/*
 * Binds HOST:PORT ("127.0.0.1:9150", "[::1]:9150", ":9150" for every
 * address) and starts the thread. Call after worker_setup() (which turns
 * on libevent's thread support). Returns 0, or -1 after logging why.
 */
int metrics_http_setup(const char *hostport);
/* Stops the thread, closes the listener and every HTTP connection. Safe
 * when setup was not called or failed. */
void metrics_http_teardown(void);

#endif /* MCD_METRICS_HTTP_H */
