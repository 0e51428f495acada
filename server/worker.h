/*
 * worker.h - the worker threads. Each owns one libevent event_base and
 * every connection handed to it, for that connection's whole life.
 *
 * The listener hands a new socket to a worker by pushing it on the worker's
 * queue (guarded by `qlock`, touched only at accept time) and writing the
 * worker's eventfd. Everything else in a worker is touched only by its own
 * thread, except the counters, which other threads may read (stats) and the
 * connection list, which `stats conns` walks under `conns_lock`.
 */
#ifndef MCD_WORKER_H
#define MCD_WORKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

struct event;
struct event_base;
struct conn;
struct udp_port;

/* Per-thread server counters: the STAT_WORKER rows of server/stats.def
 * (the store keeps its own in store_tstats). */
struct worker_tstats {
#define STAT_WORKER(name, field, reset, when) store_counter_t field;
#include "server/stats.def"
};
struct worker_tstats_snap {
#define STAT_WORKER(name, field, reset, when) uint64_t field;
#include "server/stats.def"
};

struct worker {
    unsigned id;
    pthread_t thread;
    struct event_base *base;
    int notify_fd;                 /* eventfd the listener writes */
    struct event *notify_ev;
    int clock_fd;                  /* timerfd of the idle-timeout sweep (-1: none) */
    struct event *clock_ev;        /* ... its event: once a second */

    pthread_mutex_t qlock;         /* guards the new-connection queue */
    struct new_conn *qhead, *qtail;

    pthread_mutex_t conns_lock;    /* guards the list below (stats conns) */
    struct conn *conns;            /* every live connection of this worker */

    struct store_tstats ts;        /* written by this thread only */
    struct store_tstats scratch_ts; /* counts of internal store calls, never reported */
    struct worker_tstats ws;
    struct udp_port *udp;          /* its UDP sockets (server/udp.c), NULL without -U */
};

/* Queue entries with these fds are messages, not sockets. */
#define WORKER_MSG_STOP (-1)   /* leave the event loop */

struct new_conn {
    int fd;                        /* a socket, or a WORKER_MSG_* */
    int family;                    /* AF_INET, AF_INET6 or AF_UNIX */
    struct new_conn *next;
};

extern struct worker *workers;
extern unsigned nworkers;

/* Creates and starts n workers. Returns 0, -1 (logged), or
 * WORKER_SETUP_LISTEN when a UDP port cannot be bound (logged). */
#define WORKER_SETUP_LISTEN (-2)
int worker_setup(unsigned n);
/* Stops every worker and joins the threads, then closes their connections
 * (conn_close_flush: what the sockets take at once is written, the rest
 * dropped). Main thread, after the listeners are closed. */
void worker_teardown(void);
/* Hands an accepted socket to the next worker (round robin). Listener only. */
void worker_dispatch(int fd, int family);

#endif /* MCD_WORKER_H */
