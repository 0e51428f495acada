/*
 * udp.h - memcached's UDP transport (-U PORT, off by default): each worker
 * thread owns its own UDP socket per -l address, all bound to the same port
 * with SO_REUSEPORT, and a session reused for every request datagram.
 */
#ifndef MCD_UDP_H
#define MCD_UDP_H

#include "server/stats.h"

struct worker;

/* Opens worker w's UDP sockets (when -U is set and -s is not) and registers
 * them on its event base. Before the worker's thread starts. Returns 0, or
 * -1 (logged). */
int udp_worker_setup(struct worker *w);
/* Closes them. After the worker's thread has stopped. */
void udp_worker_teardown(struct worker *w);
/* Emits the `stats conns` lines of w's UDP sockets, as memcached lists its
 * UDP connections. Under w->conns_lock. */
void udp_worker_describe(const struct worker *w, stats_emit_fn emit, void *ctx);

#endif /* MCD_UDP_H */
