/*
 * worker.c - worker threads: one libevent event_base each, a queue of new
 * sockets fed by the listener (woken through an eventfd), and per-thread
 * counters summed on read.
 *
 * Locks: w->qlock guards the new-connection queue (listener pushes, worker
 * pops; taken once per accepted connection, never per request).
 * w->conns_lock guards the connection list (open/close and `stats conns`).
 * Counters are written by the owning worker only (relaxed atomics).
 *
 * The workers are the stats' host (struct stats_host, stats.h): stats.c
 * sums the counter blocks and lists the connections through it, so stats.c
 * itself needs no worker and lives in the request-path library.
 */
#include "config.h"

#include "server/worker.h"

#include "server/conn.h"
#include "server/listener.h"
#include "server/log.h"
#include "server/settings.h"
#include "server/stats.h"
#include "server/udp.h"
#include "server/watch.h"

#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <sched.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

struct worker *workers;
unsigned nworkers;

#define WORKER_MMAP_THRESHOLD (128 * 1024)

static unsigned next_worker;                  /* listener thread only */
/* -N is at most -t; this bounds the listener's table of ids */
#define WORKER_MAX_NAPI_IDS 1024
static bool post(struct worker *w, int fd, int family);

static void notify_cb(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    uint64_t n;
    (void)what;
    if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
        log_warn_errno("worker %u: eventfd read", w->id);

    for (;;) {
        pthread_mutex_lock(&w->qlock);
        struct new_conn *nc = w->qhead;
        if (nc != NULL) {
            w->qhead = nc->next;
            if (w->qhead == NULL)
                w->qtail = NULL;
        }
        pthread_mutex_unlock(&w->qlock);
        if (nc == NULL)
            break;
        if (nc->fd == WORKER_MSG_STOP) {
            free(nc);
            event_base_loopbreak(w->base);
            return;
        }
        if (conn_create(w, nc->fd, nc->family) == NULL) {
            log_msg(LOG_WARN, "worker %u: cannot set up a connection (out of memory)", w->id);
            atomic_fetch_sub(&server_stats.curr_conns, 1);
        }
        free(nc);
    }
}

/* Once a second (the timerfd ticks): the store's per-thread upkeep (the
 * segment engine seals this thread's old append segments), and close
 * connections idle longer than -o idle_timeout. */
static void idle_cb(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    uint64_t ticks;
    (void)what;
    if (read(fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
        log_warn_errno("worker %u: timerfd read", w->id);
    store_thread_tick();
    if (settings.idle_timeout == 0)
        return;
    rel_time_t now = store_clock_now();
    struct conn *c = w->conns, *next;
    for (; c != NULL; c = next) {
        next = c->next;
        rel_time_t last = atomic_load_explicit(&c->last_cmd_time, memory_order_relaxed);
        if (c->s.state == SESSION_NEW_CMD && now > last && now - last > settings.idle_timeout) {
            log_msg(LOG_INFO, "closing idle connection %d", c->fd);
            STAT_INC(w->ws.idle_kicks);
            c->close_reason = "idle_timeout";
            conn_destroy(c);
        }
    }
}

/* The stats' view of the workers (struct stats_host, stats.h). */
static unsigned host_nthreads(void)
{
    return nworkers;
}

static void host_thread(unsigned i, struct store_tstats **ts, struct worker_tstats **ws)
{
    *ts = &workers[i].ts;
    *ws = &workers[i].ws;
}

/* `stats conns`: every worker's connections, each list under its lock. */
static void host_conns(stats_emit_fn emit, void *ctx)
{
    listener_describe(emit, ctx);
    for (unsigned i = 0; i < nworkers; i++) {
        pthread_mutex_lock(&workers[i].conns_lock);
        udp_worker_describe(&workers[i], emit, ctx);
        for (struct conn *c = workers[i].conns; c != NULL; c = c->next)
            conn_describe(c, emit, ctx);
        pthread_mutex_unlock(&workers[i].conns_lock);
    }
    watch_describe(emit, ctx);
}

static const struct stats_host worker_stats_host = {
    .nthreads = host_nthreads,
    .thread = host_thread,
    .conns = host_conns,
    .event_version = event_get_version,
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    event_base_loop(w->base, 0);
    store_thread_release(); /* the segments it was appending to can go */
    return NULL;
}

int worker_setup(unsigned n)
{
#ifdef __GLIBC__
    /* A fixed mmap threshold (glibc raises it after each large free by
     * default, up to 32 MB): connection buffers and reply arrays of 128 KB
     * or more are always mmap'd, so a burst of large multi-gets gives its
     * memory back when it is over instead of leaving it in the heap. */
    mallopt(M_MMAP_THRESHOLD, WORKER_MMAP_THRESHOLD);
#endif
    if (evthread_use_pthreads() != 0) {
        log_msg(LOG_ERROR, "libevent has no pthreads support");
        return -1;
    }
    workers = calloc(n, sizeof(*workers));
    if (workers == NULL)
        return -1;
    nworkers = n;
    for (unsigned i = 0; i < n; i++)
        workers[i].clock_fd = -1;
    stats_set_host(&worker_stats_host);
    for (unsigned i = 0; i < n; i++) {
        struct worker *w = &workers[i];
        w->id = i;
        pthread_mutex_init(&w->qlock, NULL);
        pthread_mutex_init(&w->conns_lock, NULL);
        /* a worker's base is touched by its own thread only (others talk
         * to it through the queue + eventfd), so it needs no locks.
         * NO_CACHE_TIME: libevent otherwise reads the clock after every
         * epoll_wait to cache it, for timers; a worker's loop has none
         * (the idle sweep is a timerfd, below), except a TLS handshake's
         * deadline or a UDP resume, which read the clock when they need it. */
        struct event_config *cfg = event_config_new();
        if (cfg != NULL) {
            event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK);
            event_config_set_flag(cfg, EVENT_BASE_FLAG_NO_CACHE_TIME);
        }
        w->base = cfg != NULL ? event_base_new_with_config(cfg) : NULL;
        if (cfg != NULL)
            event_config_free(cfg);
        w->notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (w->base == NULL || w->notify_fd < 0) {
            log_warn_errno("worker %u: setup", i);
            return -1;
        }
        w->notify_ev = event_new(w->base, w->notify_fd, EV_READ | EV_PERSIST, notify_cb, w);
        if (w->notify_ev == NULL || event_add(w->notify_ev, NULL) != 0)
            return -1;
        if (settings.idle_timeout > 0 || store_segments()) {
            /* a timerfd rather than a libevent timer: with a timer pending,
             * libevent reads the clock twice per loop (NO_CACHE_TIME) */
            struct itimerspec one = {{1, 0}, {1, 0}};
            w->clock_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
            if (w->clock_fd < 0 || timerfd_settime(w->clock_fd, 0, &one, NULL) != 0) {
                log_warn_errno("worker %u: timerfd", i);
                return -1;
            }
            w->clock_ev = event_new(w->base, w->clock_fd, EV_READ | EV_PERSIST, idle_cb, w);
            if (w->clock_ev == NULL || event_add(w->clock_ev, NULL) != 0)
                return -1;
        }
        if (udp_worker_setup(w) != 0)
            return WORKER_SETUP_LISTEN;
    }
    for (unsigned i = 0; i < n; i++) {
        int rc = pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]);
        if (rc != 0) {
            errno = rc;
            log_warn_errno("worker %u: pthread_create", i);
            return -1;
        }
    }
    return 0;
}

void worker_teardown(void)
{
    for (unsigned i = 0; i < nworkers; i++)
        while (!post(&workers[i], WORKER_MSG_STOP, 0))
            sched_yield();
    /* every worker stopped before any is freed: a worker answering
     * `stats conns` takes the other workers' conns_lock */
    for (unsigned i = 0; i < nworkers; i++)
        pthread_join(workers[i].thread, NULL);
    for (unsigned i = 0; i < nworkers; i++) {
        struct worker *w = &workers[i];
        while (w->conns != NULL)
            conn_close_flush(w->conns);
        while (w->qhead != NULL) {
            struct new_conn *nc = w->qhead;
            w->qhead = nc->next;
            close(nc->fd);
            free(nc);
        }
        udp_worker_teardown(w);
        if (w->clock_ev != NULL)
            event_free(w->clock_ev);
        if (w->clock_fd >= 0)
            close(w->clock_fd);
        event_free(w->notify_ev);
        close(w->notify_fd);
        event_base_free(w->base);
        pthread_mutex_destroy(&w->qlock);
        pthread_mutex_destroy(&w->conns_lock);
    }
    free(workers);
    workers = NULL;
    nworkers = 0;
}

/* Queues a socket (or a WORKER_MSG_*) for worker w and wakes it. Returns
 * false when out of memory. Any thread. */
static bool post(struct worker *w, int fd, int family)
{
    struct new_conn *nc = malloc(sizeof(*nc));
    if (nc == NULL)
        return false;
    nc->fd = fd;
    nc->family = family;
    nc->next = NULL;
    pthread_mutex_lock(&w->qlock);
    if (w->qtail != NULL)
        w->qtail->next = nc;
    else
        w->qhead = nc;
    w->qtail = nc;
    pthread_mutex_unlock(&w->qlock);
    uint64_t one = 1;
    if (write(w->notify_fd, &one, sizeof(one)) < 0)
        log_warn_errno("worker %u: eventfd write", w->id);
    return true;
}

/*
 * -N: the worker for a connection by the NAPI id of the NIC queue it came
 * in on, so that a queue's connections share a worker (and its CPU): the
 * first -N distinct ids get workers 0 to N-1, in the order they are seen.
 * NULL (round robin) for a connection with no id (loopback, a unix
 * socket: round_robin_fallback) or one past the first N
 * (unexpected_napi_ids). Listener thread only.
 */
static struct worker *worker_by_napi_id(int fd)
{
    static unsigned ids[WORKER_MAX_NAPI_IDS];
    static unsigned nids;
    unsigned id = 0;
    socklen_t len = sizeof(id);
#ifdef SO_INCOMING_NAPI_ID
    if (getsockopt(fd, SOL_SOCKET, SO_INCOMING_NAPI_ID, &id, &len) != 0)
        id = 0;
#else
    (void)fd;
    (void)len;
#endif
    if (id == 0) {
        atomic_fetch_add(&server_stats.round_robin_fallback, 1);
        return NULL;
    }
    for (unsigned i = 0; i < nids; i++)
        if (ids[i] == id)
            return &workers[i];
    if (nids < (unsigned)settings.num_napi_ids && nids < nworkers && nids < WORKER_MAX_NAPI_IDS) {
        ids[nids] = id;
        return &workers[nids++];
    }
    atomic_fetch_add(&server_stats.unexpected_napi_ids, 1);
    return NULL;
}

void worker_dispatch(int fd, int family)
{
    struct worker *w = settings.num_napi_ids > 0 ? worker_by_napi_id(fd) : NULL;
    if (w == NULL) {
        w = &workers[next_worker];
        next_worker = (next_worker + 1) % nworkers;
    }
    if (!post(w, fd, family)) {
        close(fd);
        atomic_fetch_sub(&server_stats.curr_conns, 1);
    }
}
