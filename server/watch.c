/*
 * watch.c - memcached's `watch` (see watch.h): the lines each stream logs,
 * the per-thread rings they go to, and the logger thread that drains the
 * rings into the watchers' sockets.
 *
 * Threads and locks:
 *   - A producer (any thread that logs) writes only its own ring
 *     (logbuf.c, no lock). It registers the ring once, under ring_lock;
 *     when the thread exits a pthread key destructor marks the ring dead
 *     and the logger frees it once drained.
 *   - wlock guards the watcher lists (`pending`: attached, not yet taken by
 *     the logger; `active`: the logger's), `nwatchers` and every write of
 *     watch_mask and of the store's hooks. Attaching takes it once per
 *     watcher; the logger takes it to take newcomers and to close one. Only
 *     the logger thread changes `active` or touches a watcher's buffer, so
 *     it reads them without the lock. Order: wlock -> ring_lock.
 *   - The logger owns every watcher's socket. It does not block on one:
 *     each has a bounded buffer (watch_buf_size()); a line that does not fit
 *     is skipped and counted, and "skipped=N" goes out once one fits
 *     again. It polls the sockets (a hang-up frees the watcher), sleeping
 *     not at all while many lines flow, 1 ms while some do and up to
 *     WATCH_IDLE_MS when none do (the producers never wake it: that would
 *     cost them a system call); an eventfd wakes it for a new watcher or
 *     to stop.
 */
#include "config.h"

#include "server/watch.h"

#include "server/log.h"
#include "server/logbuf.h"
#include "server/settings.h"
#include "server/stats.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WATCH_LINE_MAX 1024    /* one record's text: a 250-byte key encoded is 750 */
#define WATCH_IDLE_MS 20       /* the longest sleep of the logger while watchers wait */
#define WATCH_BUSY_RECORDS 64  /* a drain that found this many goes again without a sleep */

_Static_assert(WATCH_LINE_MAX <= LOGBUF_REC_MAX, "the smallest ring takes the longest line");
/* the longest line drain() hands over, its "skipped=N\n" notice and the
 * first "OK\r\n" fit in the smallest buffer */
_Static_assert(WATCH_LINE_MAX + 96 + 40 + 4 <= WATCH_BUF_MIN, "the smallest watcher buffer takes a line");

_Atomic uint32_t watch_mask;

/* -o worker_logbuf_size / watcher_logbuf_size (KB; settings are read-only
 * once threads run) as byte counts, the product held below 2^64. */
static uint64_t kb_bytes(unsigned long kb)
{
    return kb > UINT64_MAX / 1024 ? UINT64_MAX : (uint64_t)kb * 1024;
}

/* A watcher's buffer: watcher_logbuf_size, held to WATCH_BUF_MIN .. WATCH_BUF_MAX. */
static size_t watch_buf_size(void)
{
    uint64_t n = kb_bytes(settings.watcher_logbuf_size);
    return n < WATCH_BUF_MIN ? WATCH_BUF_MIN : n > WATCH_BUF_MAX ? WATCH_BUF_MAX : (size_t)n;
}

/* ---- rings ---- */

static pthread_mutex_t ring_lock = PTHREAD_MUTEX_INITIALIZER;
static struct logbuf *rings;                  /* under ring_lock */
static _Thread_local struct logbuf *self;
static pthread_key_t ring_key;
static pthread_once_t ring_once = PTHREAD_ONCE_INIT;
static _Atomic uint64_t dead_dropped;         /* dropped counts of freed rings */

static void ring_thread_exit(void *arg)
{
    struct logbuf *b = arg;
    atomic_store_explicit(&b->dead, true, memory_order_release);
}

static void ring_key_init(void)
{
    if (pthread_key_create(&ring_key, ring_thread_exit) != 0)
        log_msg(LOG_WARN, "watch: no thread key: a thread's log ring outlives it");
}

static struct logbuf *my_ring(void)
{
    if (self != NULL)
        return self;
    pthread_once(&ring_once, ring_key_init);
    /* rounded up to a power of two, 4 KB .. 1 GB (logbuf_ring_size) */
    struct logbuf *b = logbuf_create(logbuf_ring_size(kb_bytes(settings.worker_logbuf_size)));
    if (b == NULL)
        return NULL;
    pthread_mutex_lock(&ring_lock);
    b->next = rings;
    rings = b;
    pthread_mutex_unlock(&ring_lock);
    pthread_setspecific(ring_key, b);
    self = b;
    return b;
}

/* ---- producers: the lines, in memcached 1.6.45's words ---- */

/* memcached's URI encoding of keys: letters, digits and "-._~" as they
 * are, every other byte as %XX. */
static void key_encode(char *dst, const char *key, size_t nkey)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < nkey; i++) {
        unsigned char ch = (unsigned char)key[i];
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
            ch == '.' || ch == '_' || ch == '~') {
            *dst++ = (char)ch;
        } else {
            *dst++ = '%';
            *dst++ = hex[ch >> 4];
            *dst++ = hex[ch & 15];
        }
    }
    *dst = '\0';
}

#define KEY_BUF (3 * STORE_KEY_MAX + 1)

__attribute__((format(printf, 2, 3))) static void emit(uint32_t stream, const char *fmt, ...)
{
    struct logbuf *b = my_ring();
    if (b == NULL)
        return;
    char *p = logbuf_reserve(b, WATCH_LINE_MAX);
    if (p == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(p, WATCH_LINE_MAX, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    else if (n >= WATCH_LINE_MAX)
        n = WATCH_LINE_MAX - 1;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    logbuf_commit(b, (size_t)n, stream, (int64_t)ts.tv_sec, (int64_t)(ts.tv_nsec / 1000));
}

static void log_get(int cfd, const char *key, size_t nkey, bool found, unsigned clsid, uint32_t nbytes)
{
    char ek[KEY_BUF];
    key_encode(ek, key, nkey > STORE_KEY_MAX ? STORE_KEY_MAX : nkey);
    emit(WATCH_FETCHERS, "type=item_get key=%s status=%s clsid=%u cfd=%d size=%d", ek,
         found ? "found" : "not_found", found ? clsid : 0, cfd, found ? (int)nbytes : 0);
}

void watch_log_item(int cfd, const char *key, size_t nkey, const struct item *it)
{
    if (it == NULL)
        log_get(cfd, key, nkey, false, 0, 0);
    else
        log_get(cfd, key, nkey, true, item_class(it), item_nbytes(it));
}

void watch_log_lookup(int cfd, const char *key, size_t nkey)
{
    struct store_lookup l;
    store_last_lookup(&l);
    log_get(cfd, key, nkey, l.found, l.clsid, l.nbytes);
}

static const char *store_status_word(enum store_status st)
{
    switch (st) {
    case STORE_OK: return "stored";
    case STORE_EXISTS: return "exists";
    case STORE_NOT_FOUND: return "not_found";
    case STORE_TOO_LARGE: return "too_large";
    case STORE_NO_MEMORY: return "no_memory";
    default: return "not_stored";
    }
}

static const char *store_mode_word(enum store_mode mode)
{
    switch (mode) {
    case STORE_ADD: return "add";
    case STORE_REPLACE: return "replace";
    case STORE_APPEND: return "append";
    case STORE_PREPEND: return "prepend";
    case STORE_CAS: return "cas";
    default: return "set";
    }
}

void watch_log_link(int cfd, const struct item *it, enum store_mode mode, enum store_status st,
                    const struct store_link_out *out)
{
    uint32_t mask = atomic_load_explicit(&watch_mask, memory_order_relaxed);
    if (mask & WATCH_FETCHERS)
        watch_log_lookup(cfd, item_key(it), item_nkey(it));
    if (!(mask & WATCH_MUTATIONS))
        return;
    char ek[KEY_BUF];
    key_encode(ek, item_key(it), item_nkey(it));
    /* memcached: the seconds left, as unsigned (0: no expiry) */
    uint32_t ttl = out->exptime != 0 ? (uint32_t)(out->exptime - store_clock_now()) : 0;
    emit(WATCH_MUTATIONS, "type=item_store key=%s status=%s cmd=%s ttl=%u clsid=%u cfd=%d size=%d", ek,
         store_status_word(st), store_mode_word(mode), ttl, out->clsid, cfd, (int)out->size);
}

void watch_log_refused(int cfd, const char *key, size_t nkey, enum store_status st, const char *cmd)
{
    char ek[KEY_BUF];
    key_encode(ek, key, nkey > STORE_KEY_MAX ? STORE_KEY_MAX : nkey);
    /* 1.6.45 prints whatever its stack held as ttl, clsid and cfd here (and
     * "na" as an ms's cmd); mcd says no class, no TTL and the real socket */
    emit(WATCH_MUTATIONS, "type=item_store key=%s status=%s cmd=%s ttl=0 clsid=0 cfd=%d size=0", ek,
         store_status_word(st), cmd, cfd);
}

void watch_log_delete(int cfd, const char *key, size_t nkey, enum store_status st, const char *cmd)
{
    uint32_t mask = atomic_load_explicit(&watch_mask, memory_order_relaxed);
    struct store_lookup l;
    store_last_lookup(&l);
    if (mask & WATCH_FETCHERS)
        log_get(cfd, key, nkey, l.found, l.clsid, l.nbytes);
    if (!(mask & WATCH_DELETIONS) || st != STORE_OK || !l.found)
        return;
    char ek[KEY_BUF];
    key_encode(ek, key, nkey > STORE_KEY_MAX ? STORE_KEY_MAX : nkey);
    emit(WATCH_DELETIONS, "type=deleted key=%s cmd=%s clsid=%u size=%d", ek, cmd, l.clsid, (int)l.nbytes);
}

/* "tcp:1.2.3.4:5678", "tcp6:[::1]:5678", "unix:path" -> address, port, transport */
static void split_peer(const char *peer, char *ip, size_t iplen, unsigned *port, const char **transport)
{
    *port = 0;
    *transport = "tcp";
    snprintf(ip, iplen, "%s", "");
    if (strncmp(peer, "unix:", 5) == 0) {
        *transport = "local";
        return;
    }
    const char *a = strchr(peer, ':');
    const char *colon = strrchr(peer, ':');
    if (a == NULL || colon == NULL || colon == a)
        return;
    a++;
    const char *end = colon;
    if (*a == '[' && end > a && end[-1] == ']') {
        a++;
        end--;
    }
    snprintf(ip, iplen, "%.*s", (int)(end - a), a);
    *port = (unsigned)strtoul(colon + 1, NULL, 10);
}

void watch_log_conn(int cfd, const char *peer, const char *reason)
{
    char ip[64];
    unsigned port;
    const char *transport;
    split_peer(peer, ip, sizeof(ip), &port, &transport);
    if (reason == NULL)
        emit(WATCH_CONNEVENTS, "type=conn_new rip=%s rport=%u transport=%s cfd=%d", ip, port, transport, cfd);
    else
        emit(WATCH_CONNEVENTS, "type=conn_close rip=%s rport=%u transport=%s reason=%s cfd=%d", ip, port,
             transport, reason, cfd);
}

/* The store's eviction hook (class and stripe locks held: format, return). */
static void log_eviction(const struct store_evict_info *ev)
{
    char ek[KEY_BUF];
    key_encode(ek, ev->key, ev->nkey);
    long long ttl = ev->exptime == 0 ? -1 : (long long)ev->exptime - (long long)ev->now;
    int la = ev->now > ev->atime ? (int)(ev->now - ev->atime) : 0;
    emit(WATCH_EVICTIONS, "type=eviction key=%s fetch=%s ttl=%lld la=%d clsid=%u size=%d", ek,
         ev->fetched ? "yes" : "no", ttl, la, ev->clsid, (int)ev->nbytes);
}

/* ---- watchers and the logger thread ---- */

struct watcher {
    int fd;
    char peer[64];                 /* for its conn_close line and `stats conns` */
    rel_time_t since;              /* when it became a watcher (`stats conns`) */
    uint32_t mask;
    char *buf;                     /* unsent bytes are buf[off..len) */
    size_t off, len;
    size_t cap;                    /* buf's size: watch_buf_size() when it attached */
    uint64_t skipped;              /* lines lost since the last notice */
    struct watcher *next;
};

static pthread_mutex_t wlock = PTHREAD_MUTEX_INITIALIZER;
static struct watcher *pending;               /* under wlock */
static struct watcher *active;                /* changed under wlock, by the logger only */
static unsigned nwatchers;                    /* under wlock: pending + active */
static bool logger_running, logger_stop;      /* under wlock */
static pthread_t logger;
static int wake_fd = -1;

static _Atomic uint64_t st_written, st_sent, st_skipped;
static uint64_t gid;                          /* logger only */

/* Publishes the union of the watchers' streams, and the store hooks it
 * needs. wlock held. */
static void update_mask_locked(void)
{
    uint32_t m = 0;
    for (struct watcher *w = pending; w != NULL; w = w->next)
        m |= w->mask;
    for (struct watcher *w = active; w != NULL; w = w->next)
        m |= w->mask;
    store_trace_lookups((m & (WATCH_FETCHERS | WATCH_MUTATIONS | WATCH_DELETIONS)) != 0);
    store_set_evict_hook((m & WATCH_EVICTIONS) ? log_eviction : NULL);
    atomic_store_explicit(&watch_mask, m, memory_order_relaxed);
}

static void watcher_free(struct watcher *w)
{
    close(w->fd);
    free(w->buf);
    free(w);
    atomic_fetch_sub(&server_stats.curr_conns, 1);
    atomic_fetch_sub(&server_stats.conn_structs, 1);
}

/* Room for n more bytes in w's buffer (compacting it)? */
static bool room(struct watcher *w, size_t n)
{
    if (w->cap - w->len >= n)
        return true;
    if (w->off > 0) {
        memmove(w->buf, w->buf + w->off, w->len - w->off);
        w->len -= w->off;
        w->off = 0;
    }
    return w->cap - w->len >= n;
}

static void deliver(struct watcher *w, const char *line, size_t n)
{
    if (w->skipped > 0) {
        char note[40];
        int k = snprintf(note, sizeof(note), "skipped=%" PRIu64 "\n", w->skipped);
        if (!room(w, (size_t)k + n)) {
            w->skipped++;
            atomic_fetch_add_explicit(&st_skipped, 1, memory_order_relaxed);
            return;
        }
        memcpy(w->buf + w->len, note, (size_t)k);
        w->len += (size_t)k;
        w->skipped = 0;
    } else if (!room(w, n)) {
        w->skipped++;
        atomic_fetch_add_explicit(&st_skipped, 1, memory_order_relaxed);
        return;
    }
    memcpy(w->buf + w->len, line, n);
    w->len += n;
    atomic_fetch_add_explicit(&st_sent, 1, memory_order_relaxed);
}

/* Hands every buffered record to the watchers of its stream. Returns the
 * records seen. Logger thread. */
static size_t drain(void)
{
    char line[WATCH_LINE_MAX + 96];
    size_t seen = 0;
    pthread_mutex_lock(&ring_lock);
    for (struct logbuf **pb = &rings; *pb != NULL;) {
        struct logbuf *b = *pb;
        bool dead = atomic_load_explicit(&b->dead, memory_order_acquire);
        const struct logbuf_rec *r;
        const char *text;
        while ((r = logbuf_peek(b, &text)) != NULL) {
            gid++;
            seen++;
            int n = snprintf(line, sizeof(line), "ts=%" PRId64 ".%06" PRId64 " gid=%" PRIu64 " %.*s\n", r->sec,
                             r->usec, gid, (int)r->len, text);
            if (n >= (int)sizeof(line))
                n = (int)sizeof(line) - 1;
            for (struct watcher *w = active; w != NULL; w = w->next)
                if (w->mask & r->stream)
                    deliver(w, line, (size_t)n);
            logbuf_next_done(b, r);
        }
        if (dead) {
            *pb = b->next;
            atomic_fetch_add_explicit(&dead_dropped, atomic_load_explicit(&b->dropped, memory_order_relaxed),
                                      memory_order_relaxed);
            logbuf_destroy(b);
        } else {
            pb = &b->next;
        }
    }
    pthread_mutex_unlock(&ring_lock);
    atomic_fetch_add_explicit(&st_written, seen, memory_order_relaxed);
    return seen;
}

/* Writes what the socket takes. False when the watcher is gone. */
static bool flush_watcher(struct watcher *w)
{
    while (w->off < w->len) {
        ssize_t n = send(w->fd, w->buf + w->off, w->len - w->off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN || errno == EWOULDBLOCK;
        }
        w->off += (size_t)n;
    }
    w->off = w->len = 0;
    return true;
}

/* Input from a watcher is read and dropped (memcached parses none), at
 * most 64 KB a round so that one that floods cannot hold the logger;
 * false on end of input or an error. */
static bool read_watcher(struct watcher *w)
{
    char scratch[4096];
    for (int rounds = 0; rounds < 16; rounds++) {
        ssize_t n = recv(w->fd, scratch, sizeof(scratch), MSG_DONTWAIT);
        if (n > 0)
            continue;
        if (n == 0)
            return false;
        if (errno == EINTR)
            continue;
        return errno == EAGAIN || errno == EWOULDBLOCK;
    }
    return true;
}

static void close_watcher(struct watcher *w)
{
    pthread_mutex_lock(&wlock);
    for (struct watcher **pw = &active; *pw != NULL; pw = &(*pw)->next) {
        if (*pw == w) {
            *pw = w->next;
            break;
        }
    }
    nwatchers--;
    update_mask_locked();
    pthread_mutex_unlock(&wlock);
    /* 1.6.45 logs a watcher's end as an error, however it hung up */
    WATCH_CONN(w->fd, w->peer, "error");
    watcher_free(w);
}

static void *logger_main(void *arg)
{
    (void)arg;
    int timeout = 1;
    struct pollfd *fds = malloc((WATCH_MAX + 1) * sizeof(*fds));
    struct watcher *polled[WATCH_MAX];
    if (fds == NULL)
        return NULL;
    for (;;) {
        pthread_mutex_lock(&wlock);
        bool stop = logger_stop;
        struct watcher *newcomers = pending;
        pending = NULL;
        pthread_mutex_unlock(&wlock);
        if (stop)
            break;
        size_t seen = drain();
        bool joined = newcomers != NULL;
        if (joined) {
            /* after the drain: a new watcher sees what is logged from now on */
            pthread_mutex_lock(&wlock);
            while (newcomers != NULL) {
                struct watcher *w = newcomers;
                newcomers = w->next;
                w->next = active;
                active = w;
            }
            /* an attach meanwhile saw them in neither list */
            update_mask_locked();
            pthread_mutex_unlock(&wlock);
        }
        nfds_t nfds = 0;
        fds[nfds++] = (struct pollfd){.fd = wake_fd, .events = POLLIN};
        for (struct watcher *w = active, *next; w != NULL; w = next) {
            next = w->next;
            if (!flush_watcher(w)) {
                close_watcher(w);
                continue;
            }
            polled[nfds - 1] = w;
            fds[nfds++] = (struct pollfd){.fd = w->fd, .events = (short)(POLLIN | (w->len > w->off ? POLLOUT : 0))};
        }
        if (seen >= WATCH_BUSY_RECORDS)
            timeout = 0;        /* lines flow fast: only look at the sockets */
        else if (seen > 0 || joined)
            timeout = 1;
        else if (timeout < WATCH_IDLE_MS)
            timeout = timeout == 0 ? 1 : timeout * 2;
        /* no watcher: sleep until one comes */
        int rc = poll(fds, nfds, nfds == 1 ? -1 : timeout);
        if (rc <= 0)
            continue;
        if (fds[0].revents & POLLIN) {
            uint64_t v;
            if (read(wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
                log_warn_errno("watch: eventfd read");
            timeout = 1;
        }
        for (nfds_t i = 1; i < nfds; i++) {
            struct watcher *w = polled[i - 1];
            if ((fds[i].revents & (POLLERR | POLLNVAL)) ||
                ((fds[i].revents & (POLLIN | POLLHUP)) && !read_watcher(w)))
                close_watcher(w);
        }
    }
    free(fds);
    return NULL;
}

void watch_describe(stats_emit_fn put, void *ctx)
{
    rel_time_t now = store_clock_now();
    pthread_mutex_lock(&wlock);
    struct watcher *lists[2] = {active, pending};
    for (int i = 0; i < 2; i++) {
        for (struct watcher *w = lists[i]; w != NULL; w = w->next) {
            char name[32], val[32];
            snprintf(name, sizeof(name), "%d:addr", w->fd);
            put(ctx, name, w->peer);
            snprintf(name, sizeof(name), "%d:state", w->fd);
            put(ctx, name, "conn_watch");
            snprintf(name, sizeof(name), "%d:secs_since_last_cmd", w->fd);
            snprintf(val, sizeof(val), "%u", now > w->since ? now - w->since : 0);
            put(ctx, name, val);
        }
    }
    pthread_mutex_unlock(&wlock);
}

bool watch_full(void)
{
    pthread_mutex_lock(&wlock);
    bool full = nwatchers >= WATCH_MAX;
    pthread_mutex_unlock(&wlock);
    return full;
}

int watch_attach(int fd, uint32_t streams, const char *peer)
{
    struct watcher *w = calloc(1, sizeof(*w));
    size_t cap = watch_buf_size();
    char *buf = malloc(cap);
    if (w == NULL || buf == NULL) {
        free(w);
        free(buf);
        return -1;
    }
    w->fd = fd;
    snprintf(w->peer, sizeof(w->peer), "%s", peer);
    w->since = store_clock_now();
    w->mask = streams;
    w->buf = buf;
    w->cap = cap;
    memcpy(w->buf, "OK\r\n", 4);
    w->len = 4;
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0 && !(flags & O_NONBLOCK))
        fcntl(fd, F_SETFL, flags | O_NONBLOCK);

    pthread_mutex_lock(&wlock);
    if (nwatchers >= WATCH_MAX || logger_stop) {
        pthread_mutex_unlock(&wlock);
        free(buf);
        free(w);
        return -1;
    }
    if (!logger_running) {
        wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        int rc = wake_fd < 0 ? -1 : pthread_create(&logger, NULL, logger_main, NULL);
        if (rc != 0) {
            if (wake_fd >= 0)
                close(wake_fd);
            wake_fd = -1;
            pthread_mutex_unlock(&wlock);
            log_msg(LOG_WARN, "watch: cannot start the logger thread");
            free(buf);
            free(w);
            return -1;
        }
        logger_running = true;
    }
    w->next = pending;
    pending = w;
    nwatchers++;
    update_mask_locked();
    int wfd = wake_fd;
    pthread_mutex_unlock(&wlock);
    uint64_t one = 1;
    if (write(wfd, &one, sizeof(one)) < 0)
        log_warn_errno("watch: eventfd write");
    return 0;
}

void watch_teardown(void)
{
    pthread_mutex_lock(&wlock);
    bool running = logger_running;
    logger_stop = true;
    atomic_store_explicit(&watch_mask, 0, memory_order_relaxed);
    store_set_evict_hook(NULL);
    store_trace_lookups(false);
    pthread_mutex_unlock(&wlock);
    if (running) {
        uint64_t one = 1;
        if (write(wake_fd, &one, sizeof(one)) < 0)
            log_warn_errno("watch: eventfd write");
        pthread_join(logger, NULL);
        close(wake_fd);
        wake_fd = -1;
    }
    struct watcher *lists[2] = {pending, active};
    pending = active = NULL;
    for (int i = 0; i < 2; i++) {
        for (struct watcher *w = lists[i], *next; w != NULL; w = next) {
            next = w->next;
            (void)flush_watcher(w);
            watcher_free(w);
        }
    }
    nwatchers = 0;
    logger_running = false;
    pthread_mutex_lock(&ring_lock);
    while (rings != NULL) {
        struct logbuf *b = rings;
        rings = b->next;
        if (b == self)
            self = NULL;
        logbuf_destroy(b);
    }
    pthread_mutex_unlock(&ring_lock);
}

/* The log_* counts; `stats reset` keeps a baseline of each (not of log_watchers). */
enum { W_DROPPED, W_WRITTEN, W_SKIPPED, W_SENT, W_NCOUNTS };
static const char *const count_names[W_NCOUNTS] = {"log_worker_dropped", "log_worker_written",
                                                    "log_watcher_skipped", "log_watcher_sent"};
static _Atomic uint64_t count_base[W_NCOUNTS];

static uint64_t count_now(int i)
{
    switch (i) {
    case W_DROPPED: {
        uint64_t n = atomic_load_explicit(&dead_dropped, memory_order_relaxed);
        pthread_mutex_lock(&ring_lock);
        for (struct logbuf *b = rings; b != NULL; b = b->next)
            n += atomic_load_explicit(&b->dropped, memory_order_relaxed);
        pthread_mutex_unlock(&ring_lock);
        return n;
    }
    case W_WRITTEN: return atomic_load_explicit(&st_written, memory_order_relaxed);
    case W_SKIPPED: return atomic_load_explicit(&st_skipped, memory_order_relaxed);
    default: return atomic_load_explicit(&st_sent, memory_order_relaxed);
    }
}

void watch_stats_reset(void)
{
    for (int i = 0; i < W_NCOUNTS; i++)
        atomic_store_explicit(&count_base[i], count_now(i), memory_order_relaxed);
}

uint64_t watch_stat(const char *name)
{
    for (int i = 0; i < W_NCOUNTS; i++) {
        if (strcmp(name, count_names[i]) == 0) {
            uint64_t now = count_now(i), base = atomic_load_explicit(&count_base[i], memory_order_relaxed);
            return now > base ? now - base : 0;
        }
    }
    if (strcmp(name, "log_watchers") == 0) {
        pthread_mutex_lock(&wlock);
        unsigned n = nwatchers;
        pthread_mutex_unlock(&wlock);
        return n;
    }
    return 0;
}
