/*
 * listener.h - the listener: opens the TCP (-l/-p) and unix (-s/-a)
 * sockets, accepts on the main thread's event loop, enforces -c and hands
 * each new socket to a worker.
 */
#ifndef MCD_LISTENER_H
#define MCD_LISTENER_H

#include "server/stats.h"

struct event_base;

/* Opens every listening socket and registers it on base. 0, or -1 (logged). */
int listener_setup(struct event_base *base);
void listener_teardown(void);
/* `stats conns`: the listening sockets' lines, as memcached prints them. */
void listener_describe(stats_emit_fn emit, void *ctx);

/* Asks the main loop to stop (shutdown command, signals). Any thread. */
void mcd_request_shutdown(void);
/* The same, gracefully (`shutdown graceful`, SIGUSR1): "Gracefully
 * stopping" on stderr, then the same stop. Any thread. */
void mcd_request_graceful(void);

#endif /* MCD_LISTENER_H */
