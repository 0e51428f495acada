/*
 * harness.c - spawn the server on a free port, wait until it answers, stop
 * it by PID; buffered raw-socket helpers with deadlines.
 *
 * Port choice races with other tests running in parallel (bind port 0, read
 * it, close, hand it to the child): when the child exits before answering we
 * pick a new port and try again. Readiness is a real "version" round trip.
 */
#include "config.h"

#include "tests/lib/harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* the reference memcached (1.6.45 from ../shared/oracle, else Debian's) */
#ifndef MCD_ORACLE_BIN
#define MCD_ORACLE_BIN "/usr/bin/memcached"
#endif
#ifndef MCD_DEFAULT_BIN
#define MCD_DEFAULT_BIN "server/mcd"
#endif

#define START_DEADLINE_MS 10000
#define START_ATTEMPTS 6
#define STOP_DEADLINE_MS 5000

bool mcd_bin_sanitized(void)
{
    const char *v = getenv("MCD_BIN_SANITIZED");
    return v != NULL && strcmp(v, "1") == 0;
}

long mcd_rss_kb(pid_t pid)
{
    char path[64], line[256];
    long kb = -1;
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *fp = fopen(path, "r");
    if (fp == NULL)
        return -1;
    while (fgets(line, sizeof(line), fp) != NULL)
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose(fp);
    return kb;
}

long long mcd_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void mcd_poll_pause(void)
{
    struct timespec ts = {0, 2 * 1000 * 1000};

    nanosleep(&ts, NULL);
}

const char *mcd_bin(void)
{
    const char *b = getenv("MCD_BIN");

    return (b != NULL && *b != '\0') ? b : MCD_DEFAULT_BIN;
}

bool mcd_target_is_memcached(void)
{
    const char *t = getenv("MCD_TARGET");
    const char *b = mcd_bin();
    const char *base = strrchr(b, '/');

    if (t != NULL && *t != '\0')
        return strcmp(t, "memcached") == 0;
    base = base != NULL ? base + 1 : b;
    return strcmp(base, "memcached") == 0;
}

const char *mcd_oracle_bin(void)
{
    const char *b = getenv("MEMCACHED_BIN");

    if (b == NULL || *b == '\0')
        b = MCD_ORACLE_BIN;
    return access(b, X_OK) == 0 ? b : NULL;
}

/* --- processes ------------------------------------------------------------ */

static int free_port(void)
{
    struct sockaddr_in sa;
    socklen_t slen = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int port = -1;

    if (fd < 0)
        return -1;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &slen) == 0)
        port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

static void dump_log(const struct mcd_server *srv)
{
    char line[512];
    FILE *f = fopen(srv->log_path, "r");

    if (f == NULL)
        return;
    fprintf(stderr, "--- server log %s ---\n", srv->log_path);
    while (fgets(line, sizeof(line), f) != NULL)
        fputs(line, stderr);
    fprintf(stderr, "--- end of server log ---\n");
    fclose(f);
}

static pid_t spawn(const char *bin, const char *const argv[], const char *log_path)
{
    pid_t parent = getpid();
    pid_t pid = fork();

    if (pid != 0)
        return pid;
    /* child */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(127);
    int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        close(fd);
    }
    int nul = open("/dev/null", O_RDONLY);
    if (nul >= 0) {
        dup2(nul, STDIN_FILENO);
        close(nul);
    }
    execv(bin, (char *const *)argv);
    fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
    _exit(127);
}

/* A binary Version request, and whether buf holds a complete success reply to it. */
static const unsigned char BIN_VERSION_REQ[24] = {0x80, 0x0b};

static bool bin_version_reply(const struct mcd_conn *c)
{
    const unsigned char *p = (const unsigned char *)c->buf;

    if (c->len < 24 || p[0] != 0x81 || p[1] != 0x0b || p[6] != 0 || p[7] != 0)
        return false;
    return c->len >= 24 + ((size_t)p[8] << 24 | (size_t)p[9] << 16 | (size_t)p[10] << 8 | p[11]);
}

/* The pid a server's `stats` names, over the text protocol; 0 when not told. */
static long text_stats_pid(struct mcd_conn *c)
{
    long pid = 0;
    char *l;

    if (!mcd_send(c, "stats\r\n", 7))
        return 0;
    while ((l = mcd_read_line(c)) != NULL && strcmp(l, "END") != 0) {
        if (strncmp(l, "STAT pid ", 9) == 0)
            pid = atol(l + 9);
        free(l);
    }
    free(l);
    return pid;
}

/* The same over the binary protocol: a Stat request answers one packet a
 * stat, ended by one with no key; 0 when not told. */
static long binary_stats_pid(struct mcd_conn *c)
{
    static const unsigned char STAT_REQ[24] = {0x80, 0x10};
    long pid = 0;

    if (!mcd_send(c, STAT_REQ, sizeof(STAT_REQ)))
        return 0;
    for (;;) {
        const unsigned char *p = (const unsigned char *)c->buf;
        if (c->len < 24) {
            if (mcd_fill(c, MCD_IO_TIMEOUT_MS) <= 0)
                return 0;
            continue;
        }
        size_t klen = (size_t)p[2] << 8 | p[3];
        size_t total = 24 + ((size_t)p[8] << 24 | (size_t)p[9] << 16 | (size_t)p[10] << 8 | p[11]);
        if (p[0] != 0x81 || p[1] != 0x10 || total > 4096 || klen > total - 24 - p[4])
            return 0;
        if (c->len < total) {
            if (mcd_fill(c, MCD_IO_TIMEOUT_MS) <= 0)
                return 0;
            continue;
        }
        const char *key = c->buf + 24 + p[4];
        size_t vlen = total - 24 - p[4] - klen;
        if (klen == 3 && memcmp(key, "pid", 3) == 0 && vlen < 24) {
            char v[24];
            memcpy(v, key + klen, vlen);
            v[vlen] = '\0';
            pid = atol(v);
        }
        mcd_consume(c, total);
        if (klen == 0)
            return pid;
    }
}

/*
 * Is the server that answered ours? free_port()'s port can be taken by
 * another test's server before ours binds it; ours then exits, but the
 * other one answered first. `other` is the pid its stats named: when it is
 * not ours, wait for ours to exit (the caller then retries on another
 * port), unless MCD_BIN is a wrapper that forked it: give it 2 s. False
 * when ours exited.
 */
static bool answered_by_ours(struct mcd_server *srv, long other)
{
    long long until = mcd_now_ms() + 2000;
    int st;

    while (other > 0 && other != (long)srv->pid && mcd_now_ms() < until) {
        if (waitpid(srv->pid, &st, WNOHANG) == srv->pid) {
            srv->pid = 0;
            srv->exit_status = st;
            return false;
        }
        mcd_poll_pause();
    }
    return true;
}

/*
 * Polls for a "version" round trip (a binary Version when `binary`, for
 * -B binary servers) from our own server; false when the child died or
 * timed out.
 */
static bool wait_ready(struct mcd_server *srv, bool binary)
{
    long long deadline = mcd_now_ms() + START_DEADLINE_MS;

    while (mcd_now_ms() < deadline) {
        int st;

        if (waitpid(srv->pid, &st, WNOHANG) == srv->pid) {
            srv->pid = 0;
            srv->exit_status = st;
            return false;
        }
        int fd = mcd_connect_fd(srv);
        if (fd >= 0) {
            struct mcd_conn c = {.fd = fd};
            bool ok = false;
            long other = 0;

            if (binary) {
                if (mcd_send(&c, BIN_VERSION_REQ, sizeof(BIN_VERSION_REQ)))
                    while (!bin_version_reply(&c) && mcd_fill(&c, MCD_IO_TIMEOUT_MS) > 0)
                        ;
                ok = bin_version_reply(&c);
                if (ok) {
                    mcd_consume(&c, c.len);
                    other = binary_stats_pid(&c);
                }
            } else {
                char *line = NULL;
                if (mcd_send(&c, "version\r\n", 9))
                    line = mcd_read_line(&c);
                /* a server with -Y answers this before authentication */
                ok = line != NULL && (strncmp(line, "VERSION ", 8) == 0 ||
                                      strcmp(line, "CLIENT_ERROR unauthenticated") == 0);
                if (ok && strncmp(line, "VERSION ", 8) == 0)
                    other = text_stats_pid(&c);
                free(line);
            }
            free(c.buf);
            close(fd);
            if (ok && !answered_by_ours(srv, other))
                return false;
            if (ok)
                return true;
        }
        mcd_poll_pause();
    }
    return false;
}

static struct mcd_server *start_common(const char *bin, const char *const extra[], bool unix_sock, bool binary)
{
    static int seq;
    const char *tmp = getenv("TMPDIR");

    if (bin == NULL)
        bin = mcd_bin();
    if (tmp == NULL || *tmp == '\0')
        tmp = "/tmp";

    for (int attempt = 0; attempt < START_ATTEMPTS; attempt++) {
        struct mcd_server *srv = calloc(1, sizeof(*srv));
        const char *argv[64];
        char portbuf[16];
        int n = 0;

        if (srv == NULL)
            return NULL;
        seq++;
        snprintf(srv->log_path, sizeof(srv->log_path), "%s/mcd-test-%d-%d-%d.log", tmp, (int)getpid(), seq,
                 attempt);
        argv[n++] = bin;
        if (unix_sock) {
            snprintf(srv->unix_path, sizeof(srv->unix_path), "%s/mcd-test-%d-%d.sock", tmp, (int)getpid(), seq);
            unlink(srv->unix_path);
            argv[n++] = "-s";
            argv[n++] = srv->unix_path;
        } else {
            srv->port = free_port();
            if (srv->port <= 0) {
                free(srv);
                continue;
            }
            snprintf(portbuf, sizeof(portbuf), "%d", srv->port);
            argv[n++] = "-p";
            argv[n++] = portbuf;
            argv[n++] = "-l";
            argv[n++] = "127.0.0.1";
        }
        argv[n++] = "-U";
        argv[n++] = "0";
        if (geteuid() == 0) {
            argv[n++] = "-u";
            argv[n++] = "root";
        }
        /* MCD_ITEM_STORE=segments runs a suite on the segment engine: every
         * mcd the tests start (not the oracle) gets -o item_store=... */
        char store_opt[64];
        const char *store = getenv("MCD_ITEM_STORE");
        if (store != NULL && *store != '\0' && strcmp(bin, mcd_bin()) == 0) {
            snprintf(store_opt, sizeof(store_opt), "item_store=%s", store);
            argv[n++] = "-o";
            argv[n++] = store_opt;
        }
        for (size_t i = 0; extra != NULL && extra[i] != NULL && n < 62; i++)
            argv[n++] = extra[i];
        argv[n] = NULL;

        srv->pid = spawn(bin, argv, srv->log_path);
        if (srv->pid < 0) {
            free(srv);
            return NULL;
        }
        if (wait_ready(srv, binary))
            return srv;
        bool died = srv->pid == 0;
        if (!died || attempt == START_ATTEMPTS - 1) {
            fprintf(stderr, "mcd_start: %s did not become ready (%s)\n", bin, died ? "exited" : "timeout");
            dump_log(srv);
            mcd_stop(srv);
            return NULL;
        }
        mcd_stop(srv); /* died early: most likely the port was taken; retry */
    }
    return NULL;
}

struct mcd_server *mcd_start_bin(const char *bin, const char *const extra[])
{
    return start_common(bin, extra, false, false);
}

struct mcd_server *mcd_start_bin_binary(const char *bin, const char *const extra[])
{
    return start_common(bin, extra, false, true);
}

struct mcd_server *mcd_start(const char *const extra[])
{
    return start_common(NULL, extra, false, false);
}

struct mcd_server *mcd_start_unix(const char *const extra[])
{
    return start_common(NULL, extra, true, false);
}

bool mcd_wait_exit(struct mcd_server *srv, int timeout_ms)
{
    long long deadline = mcd_now_ms() + timeout_ms;

    if (srv->pid == 0)
        return true;
    for (;;) {
        int st;
        pid_t r = waitpid(srv->pid, &st, WNOHANG);

        if (r == srv->pid || (r < 0 && errno == ECHILD)) {
            srv->exit_status = r == srv->pid ? st : 0;
            srv->pid = 0;
            return true;
        }
        if (mcd_now_ms() >= deadline)
            return false;
        mcd_poll_pause();
    }
}

int mcd_stop(struct mcd_server *srv)
{
    int st;

    if (srv == NULL)
        return 0;
    if (srv->pid > 0) {
        kill(srv->pid, SIGTERM);
        if (!mcd_wait_exit(srv, STOP_DEADLINE_MS)) {
            fprintf(stderr, "mcd_stop: pid %d ignored SIGTERM, killing\n", (int)srv->pid);
            kill(srv->pid, SIGKILL);
            waitpid(srv->pid, &srv->exit_status, 0);
            srv->pid = 0;
        }
    }
    st = srv->exit_status;
    if (getenv("MCD_KEEP_LOGS") == NULL)
        unlink(srv->log_path);
    if (srv->unix_path[0] != '\0')
        unlink(srv->unix_path);
    free(srv);
    return st;
}

void mcd_kill(struct mcd_server *srv)
{
    if (srv == NULL)
        return;
    if (srv->pid > 0) {
        kill(srv->pid, SIGKILL);
        waitpid(srv->pid, &srv->exit_status, 0);
        srv->pid = 0;
    }
    mcd_stop(srv);
}

/* --- connections ---------------------------------------------------------- */

int mcd_connect_fd(const struct mcd_server *srv)
{
    int fd;

    if (srv->unix_path[0] != '\0') {
        struct sockaddr_un sun;

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return -1;
        memset(&sun, 0, sizeof(sun));
        sun.sun_family = AF_UNIX;
        memcpy(sun.sun_path, srv->unix_path, strlen(srv->unix_path) + 1);
        if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
            close(fd);
            return -1;
        }
        return fd;
    }

    struct sockaddr_in sa;
    int one = 1;

    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)srv->port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

struct mcd_conn *mcd_conn_open(const struct mcd_server *srv)
{
    struct mcd_conn *c;
    int fd;

    if (srv == NULL || (fd = mcd_connect_fd(srv)) < 0)
        return NULL;
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        close(fd);
        return NULL;
    }
    c->fd = fd;
    return c;
}

struct mcd_conn *mcd_conn_open_port(int port)
{
    struct mcd_server s;

    memset(&s, 0, sizeof(s));
    s.port = port;
    return mcd_conn_open(&s);
}

void mcd_conn_close(struct mcd_conn *c)
{
    if (c == NULL)
        return;
    if (c->fd >= 0)
        close(c->fd);
    free(c->buf);
    free(c);
}

static bool wait_fd(int fd, short events, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = events};
    long long deadline = mcd_now_ms() + timeout_ms;

    for (;;) {
        long long left = deadline - mcd_now_ms();
        int r;

        if (left < 0)
            left = 0;
        r = poll(&p, 1, (int)left);
        if (r > 0)
            return true;
        if (r == 0 || errno != EINTR)
            return false;
    }
}

bool mcd_send(struct mcd_conn *c, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t w = send(c->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);

        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                /* the server may be blocked writing replies to us: keep reading */
                if (!wait_fd(c->fd, POLLOUT, 50) && mcd_fill(c, 0) == 0 && c->eof)
                    return false;
                continue;
            }
            return false;
        }
        p += w;
        len -= (size_t)w;
    }
    return true;
}

bool mcd_sendstr(struct mcd_conn *c, const char *s)
{
    return mcd_send(c, s, strlen(s));
}

bool mcd_send_bytewise(struct mcd_conn *c, const void *buf, size_t len)
{
    const char *p = buf;

    for (size_t i = 0; i < len; i++)
        if (!mcd_send(c, p + i, 1))
            return false;
    return true;
}

long mcd_fill(struct mcd_conn *c, int timeout_ms)
{
    if (c->eof)
        return 0;
    if (c->cap - c->len < 65536) {
        size_t ncap = c->cap == 0 ? 131072 : c->cap * 2;
        char *nb = realloc(c->buf, ncap + 1);

        if (nb == NULL)
            return -1;
        c->buf = nb;
        c->cap = ncap;
    }
    for (;;) {
        if (!wait_fd(c->fd, POLLIN, timeout_ms))
            return -1;
        ssize_t r = recv(c->fd, c->buf + c->len, c->cap - c->len, MSG_DONTWAIT);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (r <= 0) {
            c->eof = true;
            return 0;
        }
        c->len += (size_t)r;
        c->buf[c->len] = '\0';
        return (long)r;
    }
}

void mcd_consume(struct mcd_conn *c, size_t n)
{
    if (n >= c->len) {
        c->len = 0;
    } else {
        memmove(c->buf, c->buf + n, c->len - n);
        c->len -= n;
    }
    if (c->buf != NULL)
        c->buf[c->len] = '\0';
}

/* --- patterns and expectations ------------------------------------------- */

int mcd_pattern_prefix(const char *pat, size_t plen, const char *actual, size_t alen, size_t *used)
{
    size_t p = 0, a = 0;

    while (p < plen) {
        if (pat[p] == '{' && plen - p >= 5 && memcmp(pat + p, "{cas}", 5) == 0) {
            size_t start = a;

            while (a < alen && actual[a] >= '0' && actual[a] <= '9')
                a++;
            if (a == alen)
                return 0;
            if (a == start)
                return -1;
            p += 5;
            continue;
        }
        if (pat[p] == '{' && plen - p >= 5 && memcmp(pat + p, "{str}", 5) == 0) {
            size_t start = a;

            while (a < alen && actual[a] != '\r' && actual[a] != '\n')
                a++;
            if (a == alen)
                return 0;
            if (a == start)
                return -1;
            p += 5;
            continue;
        }
        if (a == alen)
            return 0;
        if (pat[p] != actual[a])
            return -1;
        p++;
        a++;
    }
    if (used != NULL)
        *used = a;
    return 1;
}

int mcd_pattern_match(const char *pat, size_t plen, const char *actual, size_t alen)
{
    size_t used;
    int m = mcd_pattern_prefix(pat, plen, actual, alen, &used);

    return m == 1 && used != alen ? -1 : m;
}

char *mcd_escape(const void *buf, size_t len)
{
    const unsigned char *s = buf;
    size_t cap = len * 4 + 1;
    char *out = malloc(cap), *o = out;

    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        switch (s[i]) {
        case '\r': *o++ = '\\'; *o++ = 'r'; break;
        case '\n': *o++ = '\\'; *o++ = 'n'; break;
        case '\\': *o++ = '\\'; *o++ = '\\'; break;
        default:
            if (s[i] >= 0x20 && s[i] < 0x7f)
                *o++ = (char)s[i];
            else
                o += sprintf(o, "\\x%02x", s[i]);
        }
    }
    *o = '\0';
    return out;
}

static void report_mismatch(const char *what, const char *pat, size_t plen, const char *act, size_t alen,
                            const char *why)
{
    char *e1 = mcd_escape(pat, plen > 2000 ? 2000 : plen);
    char *e2 = mcd_escape(act, alen > 2000 ? 2000 : alen);

    fprintf(stderr, "%s: %s\n  expected: \"%s\"%s\n  actual:   \"%s\"%s\n", what ? what : "expect", why, e1,
            plen > 2000 ? "..." : "", e2, alen > 2000 ? "..." : "");
    free(e1);
    free(e2);
}

bool mcd_expect(struct mcd_conn *c, const char *pat, size_t plen, const char *what)
{
    long long deadline = mcd_now_ms() + MCD_IO_TIMEOUT_MS;

    for (;;) {
        size_t used;
        int m = mcd_pattern_prefix(pat, plen, c->buf ? c->buf : "", c->len, &used);

        if (m == 1) {
            mcd_consume(c, used);
            return true;
        }
        if (m < 0) {
            report_mismatch(what, pat, plen, c->buf, c->len, "mismatch");
            return false;
        }
        long left = (long)(deadline - mcd_now_ms());
        if (left <= 0 || c->eof) {
            report_mismatch(what, pat, plen, c->buf ? c->buf : "", c->len, c->eof ? "connection closed" : "timeout");
            return false;
        }
        mcd_fill(c, (int)left);
    }
}

bool mcd_expectstr(struct mcd_conn *c, const char *pattern)
{
    return mcd_expect(c, pattern, strlen(pattern), pattern);
}

bool mcd_roundtrip(struct mcd_conn *c, const char *req, const char *reply)
{
    return mcd_sendstr(c, req) && mcd_expect(c, reply, strlen(reply), req);
}

bool mcd_expect_eof(struct mcd_conn *c, int timeout_ms)
{
    long long deadline = mcd_now_ms() + timeout_ms;

    while (!c->eof) {
        long left = (long)(deadline - mcd_now_ms());

        if (left <= 0)
            return false;
        mcd_fill(c, (int)left);
    }
    return c->len == 0;
}

char *mcd_read_until(struct mcd_conn *c, const char *terminator, size_t *len)
{
    long long deadline = mcd_now_ms() + MCD_IO_TIMEOUT_MS;
    size_t tlen = strlen(terminator);
    size_t from = 0;

    for (;;) {
        for (size_t i = from; c->buf != NULL && i + tlen <= c->len; i++) {
            if (memcmp(c->buf + i, terminator, tlen) == 0) {
                size_t n = i + tlen;
                char *out = malloc(n + 1);

                if (out == NULL)
                    return NULL;
                memcpy(out, c->buf, n);
                out[n] = '\0';
                if (len != NULL)
                    *len = n;
                mcd_consume(c, n);
                return out;
            }
        }
        from = c->len >= tlen ? c->len - tlen + 1 : 0;
        long left = (long)(deadline - mcd_now_ms());
        if (left <= 0 || c->eof)
            return NULL;
        mcd_fill(c, (int)left);
    }
}

char *mcd_read_line(struct mcd_conn *c)
{
    size_t n;
    char *line = mcd_read_until(c, "\r\n", &n);

    if (line != NULL)
        line[n - 2] = '\0';
    return line;
}

char *mcd_stats(struct mcd_conn *c, const char *sub)
{
    char req[128];
    char *r;
    size_t n;

    snprintf(req, sizeof(req), "stats%s%s\r\n", sub && *sub ? " " : "", sub && *sub ? sub : "");
    if (!mcd_sendstr(c, req))
        return NULL;
    /* the reply is "STAT ...\r\n"* then "END\r\n"; stats never contain "\nEND\r\n" */
    /* "STAT ...\r\n"* then "END\r\n"; no stat value contains "\r\nEND\r\n" */
    while (c->len < 5 && !c->eof)
        if (mcd_fill(c, MCD_IO_TIMEOUT_MS) < 0)
            return NULL;
    if (c->len >= 5 && memcmp(c->buf, "END\r\n", 5) == 0)
        return mcd_read_until(c, "END\r\n", NULL);
    r = mcd_read_until(c, "\r\nEND\r\n", &n);
    return r;
}

bool mcd_stat_find(const char *stats, const char *name, char *out, size_t outlen)
{
    size_t nlen = strlen(name);
    const char *p = stats;

    while (p != NULL && *p != '\0') {
        if (strncmp(p, "STAT ", 5) == 0 && strncmp(p + 5, name, nlen) == 0 && p[5 + nlen] == ' ') {
            const char *v = p + 5 + nlen + 1;
            size_t vlen = strcspn(v, "\r\n");

            if (out != NULL && outlen > 0) {
                if (vlen >= outlen)
                    vlen = outlen - 1;
                memcpy(out, v, vlen);
                out[vlen] = '\0';
            }
            return true;
        }
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
    return false;
}

long long mcd_stat_ll(struct mcd_conn *c, const char *sub, const char *name)
{
    char val[64];
    char *s = mcd_stats(c, sub);
    long long v = -1;

    if (s != NULL && mcd_stat_find(s, name, val, sizeof(val)))
        v = strtoll(val, NULL, 10);
    free(s);
    return v;
}

char *mcd_data_block(size_t len, char fill)
{
    char *b = malloc(len + 2);
    if (b == NULL)
        abort();
    memset(b, fill, len);
    memcpy(b + len, "\r\n", 2);
    return b;
}
