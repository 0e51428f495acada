/*
 * listener.c - listening sockets and accept. Runs on the main thread's
 * event loop: accepts until EAGAIN, closes a new connection at once (after
 * memcached's "ERROR Too many open connections") when -c is reached, and
 * hands the rest to the workers round robin. -s opens a unix socket
 * instead of TCP, as memcached does.
 */
#include "config.h"

#include "server/listener.h"

#include "server/conn.h"
#include "store/store.h"

#include "server/log.h"
#include "server/settings.h"
#include "server/stats.h"
#include "server/worker.h"

#include <errno.h>
#include <stdbool.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_LISTENERS 16

struct listener {
    int fd;
    int family;
    struct event *ev;
};

static struct listener listeners[MAX_LISTENERS]; /* set up before the workers serve anyone */
static int spare_fd = -1;                     /* given up to accept when out of fds */
static unsigned nlisteners;
/* The listeners `stats conns` shows (workers read it): set once they are
 * all open, cleared before they close. */
static _Atomic unsigned nshown;

static void accept_cb(evutil_socket_t lfd, short what, void *arg)
{
    struct listener *l = arg;
    (void)what;
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        bool out_of_fds = false;
        if (fd < 0 && (errno == EMFILE || errno == ENFILE) && spare_fd >= 0) {
            /* no descriptor left: free the spare one to take the connection
             * off the queue and turn it away (else it would wake us forever) */
            close(spare_fd);
            fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
            spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
            out_of_fds = true;
        }
        if (fd < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                log_warn_errno("accept");
            return;
        }
        uint64_t curr = atomic_load(&server_stats.curr_conns);
        if (curr >= settings.maxconns || out_of_fds) {
            static const char msg[] = "ERROR Too many open connections\r\n";
            if (write(fd, msg, sizeof(msg) - 1) < 0) {
                /* the client is gone already: nothing to tell it */
            }
            close(fd);
            atomic_fetch_add(&server_stats.rejected_conns, 1);
            continue;
        }
        if (l->family != AF_UNIX) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        }
        atomic_fetch_add(&server_stats.curr_conns, 1);
        atomic_fetch_add(&server_stats.total_conns, 1);
        worker_dispatch(fd, l->family);
    }
}

static int add_listener(struct event_base *base, int fd, int family)
{
    if (nlisteners == MAX_LISTENERS) {
        close(fd);
        return -1;
    }
    struct listener *l = &listeners[nlisteners];
    l->fd = fd;
    l->family = family;
    l->ev = event_new(base, fd, EV_READ | EV_PERSIST, accept_cb, l);
    if (l->ev == NULL || event_add(l->ev, NULL) != 0) {
        close(fd);
        return -1;
    }
    nlisteners++;
    return 0;
}

static int listen_unix(struct event_base *base)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(settings.socketpath) >= sizeof(sun.sun_path)) {
        log_msg(LOG_ERROR, "unix socket path too long: %s", settings.socketpath);
        return -1;
    }
    strcpy(sun.sun_path, settings.socketpath);
    /* a stale socket file from an earlier run */
    struct stat st;
    if (lstat(settings.socketpath, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(settings.socketpath);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        log_warn_errno("socket(AF_UNIX)");
        return -1;
    }
    mode_t old = umask(~settings.access & 0777);
    int rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
    umask(old);
    if (rc != 0 || listen(fd, (int)settings.backlog) != 0) {
        log_warn_errno("bind/listen on %s", settings.socketpath);
        close(fd);
        return -1;
    }
    return add_listener(base, fd, AF_UNIX);
}

static int listen_tcp_one(struct event_base *base, const char *host)
{
    struct addrinfo hints = {.ai_flags = AI_PASSIVE, .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res, *ai;
    char port[16];
    int opened = 0;

    snprintf(port, sizeof(port), "%d", settings.port);
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        log_msg(LOG_ERROR, "getaddrinfo(%s): %s", host ? host : "*", gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (ai->ai_family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, (int)settings.backlog) != 0) {
            int saved = errno;
            close(fd);
            if (saved == EADDRINUSE) {
                errno = saved;
                log_warn_errno("failed to listen on TCP port %d", settings.port);
                freeaddrinfo(res);
                return -1;
            }
            continue;
        }
        if (add_listener(base, fd, ai->ai_family) == 0)
            opened++;
    }
    freeaddrinfo(res);
    if (opened == 0) {
        log_msg(LOG_ERROR, "failed to listen on %s:%d", host ? host : "*", settings.port);
        return -1;
    }
    return 0;
}

int listener_setup(struct event_base *base)
{
    spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (settings.socketpath != NULL) {
        int urc = listen_unix(base);
        atomic_store_explicit(&nshown, nlisteners, memory_order_release);
        return urc;
    }
    if (settings.port == 0 && settings.udpport != 0) {
        /* -p 0 -U PORT: UDP only (server/udp.c), as memcached */
        atomic_store(&server_stats.accepting, true);
        atomic_store_explicit(&nshown, nlisteners, memory_order_release);
        return 0;
    }
    if (settings.port == 0 && settings.socketpath == NULL) {
        log_msg(LOG_ERROR, "no port to listen on (-p 0 without -s)");
        return -1;
    }
    /* -l takes a comma or semicolon separated list, as memcached's */
    char *list = strdup(settings.inter ? settings.inter : "127.0.0.1");
    char *save = NULL;
    int rc = 0;
    if (list == NULL)
        return -1;
    for (char *h = strtok_r(list, ",;", &save); h != NULL && rc == 0; h = strtok_r(NULL, ",;", &save)) {
        if (strcmp(h, "*") == 0 || strcmp(h, "0.0.0.0") == 0)
            rc = listen_tcp_one(base, strcmp(h, "*") == 0 ? NULL : h);
        else
            rc = listen_tcp_one(base, h);
    }
    free(list);
    atomic_store(&server_stats.accepting, rc == 0);
    atomic_store_explicit(&nshown, nlisteners, memory_order_release);
    return rc;
}

void listener_teardown(void)
{
    atomic_store_explicit(&nshown, 0, memory_order_release);
    for (unsigned i = 0; i < nlisteners; i++) {
        event_free(listeners[i].ev);
        close(listeners[i].fd);
    }
    if (settings.socketpath != NULL)
        unlink(settings.socketpath);
    nlisteners = 0;
    if (spare_fd >= 0)
        close(spare_fd);
    spare_fd = -1;
}

void listener_describe(stats_emit_fn emit, void *ctx)
{
    char name[32], val[80];
    unsigned n = atomic_load_explicit(&nshown, memory_order_acquire);
    for (unsigned i = 0; i < n; i++) {
        int fd = listeners[i].fd;
        conn_sockname(fd, listeners[i].family, true, val, sizeof(val));
        snprintf(name, sizeof(name), "%d:addr", fd);
        emit(ctx, name, val);
        snprintf(name, sizeof(name), "%d:state", fd);
        emit(ctx, name, "conn_listening");
        /* memcached's listening sockets date from its start */
        snprintf(name, sizeof(name), "%d:secs_since_last_cmd", fd);
        snprintf(val, sizeof(val), "%u", store_clock_now());
        emit(ctx, name, val);
    }
}
