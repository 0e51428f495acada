/*
 * test_metrics_http.c - the -o metrics_listen endpoint against well-behaved
 * and hostile HTTP clients: paths, methods, malformed requests, huge
 * headers and bodies, stalled connections, a flood of connections. After
 * each, the memcached port still answers and a fresh GET /metrics is still
 * served (a bad client costs only its own connection). Also: the option's
 * startup errors, its `stats settings` line, and a clean exit with HTTP
 * connections open. mcd only (skipped against memcached).
 */
#include "config.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/integration/http_client.h"
#include "tests/lib/harness.h"

static struct mcd_server *srv;
static int mport;

static void start(void)
{
    if (mcd_target_is_memcached())
        cr_skip_test("memcached has no metrics endpoint");
    for (int tries = 0; srv == NULL && tries < 3; tries++) {
        char opt[64];
        mport = http_free_port();
        snprintf(opt, sizeof(opt), "metrics_listen=127.0.0.1:%d", mport);
        const char *extra[] = {"-o", opt, NULL};
        srv = mcd_start(extra);
    }
    cr_assert_not_null(srv);
}

static void stop(void)
{
    mcd_stop(srv);
    srv = NULL;
}

TestSuite(metrics_http, .init = start, .fini = stop, .timeout = 60);

/* The memcached port answers and a fresh scrape is served. */
static void expect_serving(const char *tag)
{
    struct mcd_conn *c = mcd_conn_open(srv);
    cr_assert_not_null(c, "%s: memcached port", tag);
    cr_expect(mcd_roundtrip(c, "set k 0 0 1\r\nv\r\n", "STORED\r\n"), "%s: set", tag);
    cr_expect(mcd_roundtrip(c, "get k\r\n", "VALUE k 0 1\r\nv\r\nEND\r\n"), "%s: get", tag);
    mcd_conn_close(c);
    char *page = http_get(mport, "/metrics", 200, 5000);
    cr_expect_not_null(page, "%s: GET /metrics", tag);
    cr_expect(page != NULL && strstr(page, "\nmemcached_up 1\n") != NULL, "%s: page", tag);
    free(page);
}

/* The status code of the response, 0 when the connection closed without one. */
static int status_of(const char *response)
{
    int code = 0;
    if (response != NULL && sscanf(response, "HTTP/1.%*d %d", &code) != 1)
        code = 0;
    return code;
}

Test(metrics_http, paths_and_methods)
{
    char *r = http_raw(mport, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5000);
    cr_assert_not_null(r);
    cr_expect_eq(status_of(r), 200);
    cr_expect_not_null(strstr(r, "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"), "%s", r);
    cr_expect_not_null(strstr(r, "# TYPE memcached_commands_total counter\n"));
    free(r);
    r = http_raw(mport, "GET /metrics?name[]=memcached_up HTTP/1.0\r\n\r\n", 5000);
    cr_expect_eq(status_of(r), 200, "a query string is ignored");
    free(r);
    static const char *const not_found[] = {"/", "/metric", "/metrics/", "/metrics/x", "/Metrics", "//metrics",
                                              "/%zz%00%ff", "/metrics%00"};
    for (size_t i = 0; i < sizeof(not_found) / sizeof(not_found[0]); i++) {
        char req[128];
        snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\n\r\n", not_found[i]);
        r = http_raw(mport, req, 5000);
        cr_expect_eq(status_of(r), 404, "GET %s: %s", not_found[i], r != NULL ? r : "(nothing)");
        free(r);
    }
    r = http_raw(mport, "HEAD /metrics HTTP/1.0\r\n\r\n", 5000);
    cr_expect_eq(status_of(r), 200);
    cr_expect(r != NULL && strstr(r, "# HELP") == NULL, "HEAD has no body");
    free(r);
    static const char *const methods[] = {"POST", "PUT", "DELETE", "OPTIONS", "PATCH"};
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        char req[128];
        snprintf(req, sizeof(req), "%s /metrics HTTP/1.0\r\nContent-Length: 0\r\n\r\n", methods[i]);
        r = http_raw(mport, req, 5000);
        cr_expect_eq(status_of(r), 405, "%s /metrics: %s", methods[i], r != NULL ? r : "(nothing)");
        cr_expect(r != NULL && strstr(r, "\r\nAllow: GET, HEAD\r\n") != NULL);
        free(r);
    }
    /* keep-alive: two scrapes on one connection */
    r = http_raw(mport,
                 "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\nGET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                 5000);
    cr_assert_not_null(r);
    cr_expect_not_null(strstr(strstr(r, "HTTP/1.1 200") + 1, "HTTP/1.1 200"), "two replies");
    free(r);
    expect_serving("paths");
}

Test(metrics_http, malformed_requests)
{
    static const char *const bad[] = {
        "GARBAGE\r\n\r\n",
        "GET\r\n\r\n",
        "GET /metrics HTTP/9.9\r\n\r\n",
        "GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n",
        "\x16\x03\x01\x02\x01\x01\x01\x01\xfc\x03\x03 a TLS hello\r\n\r\n",
        "\r\n\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *r = http_raw(mport, bad[i], 5000);
        int code = status_of(r);
        /* 400 and a close; never a page, never a hang */
        cr_expect(r != NULL, "request %zu: no close within 5 s", i);
        cr_expect_eq(code, 400, "request %zu answered %d", i, code);
        free(r);
    }
    expect_serving("malformed");
}

/* A request line or headers far above the limit, a body far above it. */
Test(metrics_http, huge_headers_and_body)
{
    size_t big = 1u << 20;
    char *req = malloc(big + 256);
    cr_assert_not_null(req);
    int n = snprintf(req, 256, "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ");
    memset(req + n, 'a', big);
    strcpy(req + n + big, "\r\n\r\n");
    char *r = http_raw(mport, req, 10000);
    int code = status_of(r);
    cr_expect_eq(code, 431, "huge header answered %d", code);
    free(r);

    n = snprintf(req, 256, "GET /");
    memset(req + n, 'm', big);
    strcpy(req + n + big, " HTTP/1.1\r\n\r\n");
    r = http_raw(mport, req, 10000);
    code = status_of(r);
    cr_expect_eq(code, 431, "huge request line answered %d", code);
    free(r);
    free(req);

    r = http_raw(mport, "GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\nxxxx", 10000);
    code = status_of(r);
    cr_expect_eq(code, 413, "huge body answered %d", code);
    free(r);
    expect_serving("huge");
}

/* Stalled senders (half a request line), fewer than the connection cap:
 * the scrape and the memcached port do not wait for them. */
Test(metrics_http, stalled_connections)
{
    enum { STALLED = 40 };
    int fds[STALLED];
    for (int i = 0; i < STALLED; i++) {
        fds[i] = http_connect(mport);
        cr_assert_geq(fds[i], 0, "connection %d", i);
        cr_assert_eq(send(fds[i], "GET /metr", 9, MSG_NOSIGNAL), 9);
    }
    long long t0 = mcd_now_ms();
    expect_serving("stalled");
    cr_expect_lt(mcd_now_ms() - t0, 3000, "a scrape next to stalled clients took %lld ms", mcd_now_ms() - t0);
    /* a stalled sender that finishes its request is served */
    cr_assert_eq(send(fds[0], "ics HTTP/1.0\r\n\r\n", 16, MSG_NOSIGNAL), 16);
    char *r = http_read_all(fds[0], 5000);
    cr_expect_eq(status_of(r), 200);
    free(r);
    for (int i = 0; i < STALLED; i++)
        close(fds[i]);
    expect_serving("after");
}

/* One read of /proc/net/tcp: how many of `inodes` it shows on local port
 * `port`, not listening. Each inode counts once: the kernel writes the
 * table a page at a time and, when sockets come and go between two pages,
 * may show an entry twice or skip one (CI counted 65 of a cap of 64). */
static int count_in_tcp_table(const unsigned long *inodes, size_t ni, int port)
{
    FILE *fp = fopen("/proc/net/tcp", "r");
    if (fp == NULL)
        return -1;
    bool seen[1024] = {false};
    char line[512];
    int count = 0;
    while (fgets(line, sizeof(line), fp) != NULL) {
        unsigned lport, st;
        unsigned long ino;
        /* sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode */
        if (sscanf(line, " %*u: %*x:%x %*x:%*x %x %*x:%*x %*x:%*x %*x %*u %*u %lu", &lport, &st, &ino) != 3)
            continue;
        if (lport != (unsigned)port || st == 0x0A /* LISTEN */)
            continue;
        for (size_t i = 0; i < ni; i++)
            if (inodes[i] == ino) {
                if (!seen[i])
                    count++;
                seen[i] = true;
                break;
            }
    }
    fclose(fp);
    return count;
}

/* How many connections on local port `port` the server `pid` holds open
 * (accepted ones, not its listener): its descriptors' socket inodes,
 * looked up in /proc/net/tcp (IPv4: the metrics port is on 127.0.0.1).
 * Exact, where a count of all its descriptors moves with whatever else
 * the process opens and closes meanwhile (a sanitizer's own files).
 * A read of the table may skip an entry, never add one: the largest of
 * three reads is the count. */
static int conns_on_port(pid_t pid, int port)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    if (d == NULL)
        return -1;
    unsigned long inodes[1024];
    size_t ni = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && ni < sizeof(inodes) / sizeof(inodes[0])) {
        char link[320], target[64];
        snprintf(link, sizeof(link), "%s/%s", path, e->d_name);
        ssize_t n = readlink(link, target, sizeof(target) - 1);
        if (n <= 0)
            continue;
        target[n] = '\0';
        unsigned long ino;
        if (sscanf(target, "socket:[%lu]", &ino) == 1)
            inodes[ni++] = ino;
    }
    closedir(d);
    int count = -1;
    for (int r = 0; r < 3; r++) {
        int n = count_in_tcp_table(inodes, ni, port);
        if (n > count)
            count = n;
    }
    return count;
}

/* A connection of the flood: a non-blocking connect, so that the ones the
 * full backlog drops (their SYNs retried by the kernel) do not hold the
 * test up; -1 when the socket cannot be made. */
static int flood_connect(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 && errno != EINPROGRESS) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* A flood of connections: the server holds at most its cap of them
 * (METRICS_HTTP_MAX_CONNS, 64) and the memcached port keeps answering;
 * once the flood is gone, scrapes are served again. */
Test(metrics_http, connection_flood)
{
    enum { FLOOD = 400 };
    int fds[FLOOD];
    for (int i = 0; i < FLOOD; i++) {
        fds[i] = flood_connect(mport); /* the backlog takes what is not accepted */
        cr_assert_geq(fds[i], 0, "connection %d", i);
    }
    /* the server takes its cap of them */
    long long t0 = mcd_now_ms();
    while (conns_on_port(srv->pid, mport) < 64 && mcd_now_ms() - t0 < 10000)
        mcd_poll_pause();
    struct mcd_conn *c = mcd_conn_open(srv);
    cr_assert_not_null(c);
    cr_expect(mcd_roundtrip(c, "set k 0 0 1\r\nv\r\n", "STORED\r\n"), "memcached port during the flood");
    mcd_conn_close(c);
    int during = conns_on_port(srv->pid, mport);
    cr_expect_eq(during, 64, "the server holds %d connections of the flood, its cap is 64", during);
    for (int i = 0; i < FLOOD; i++)
        close(fds[i]);
    t0 = mcd_now_ms();
    char *page = NULL;
    while (page == NULL && mcd_now_ms() - t0 < 10000)
        page = http_get(mport, "/metrics", 200, 2000);
    cr_expect_not_null(page, "no scrape served after the flood");
    cr_expect_lt(mcd_now_ms() - t0, 5000, "the first scrape after the flood took %lld ms", mcd_now_ms() - t0);
    free(page);
    expect_serving("after the flood");
}

/* A connection that stalls mid-request is closed by the server's timeout
 * (-o metrics_timeout, 10 s by default; 1 s here, on a server of its own):
 * its fd comes back, not before the timeout, and the endpoint still serves. */
Test(metrics_http, stalled_connection_times_out)
{
    struct mcd_server *s = NULL;
    int port = 0;
    for (int tries = 0; s == NULL && tries < 3; tries++) {
        char opt[64];
        port = http_free_port();
        snprintf(opt, sizeof(opt), "metrics_listen=127.0.0.1:%d", port);
        const char *extra[] = {"-o", opt, "-o", "metrics_timeout=1", NULL};
        s = mcd_start(extra);
    }
    cr_assert_not_null(s);
    int fd = http_connect(port);
    cr_assert_geq(fd, 0);
    static const char partial[] = "GET /metrics HTTP/1.1\r\nHost:";
    cr_assert_eq(send(fd, partial, sizeof(partial) - 1, MSG_NOSIGNAL), (ssize_t)sizeof(partial) - 1);
    long long t0 = mcd_now_ms();
    char *r = http_read_all(fd, 20000);
    cr_expect_not_null(r, "still open after 20 s");
    cr_expect_geq(mcd_now_ms() - t0, 900, "closed after %lld ms", mcd_now_ms() - t0);
    free(r);
    close(fd);
    char *page = http_get(port, "/metrics", 200, 5000);
    cr_expect(page != NULL && strstr(page, "\nmemcached_up 1\n") != NULL, "no scrape after the timeout");
    free(page);
    mcd_stop(s);
}

/* -o metrics_timeout=0 is refused at start-up. */
Test(metrics_http, metrics_timeout_zero_refused)
{
    const char *extra[] = {"-o", "metrics_timeout=0", NULL};
    struct mcd_server *s = mcd_start(extra);
    cr_expect_null(s, "mcd started with -o metrics_timeout=0");
    mcd_stop(s);
}

/* A client that asks and never reads, many times over. */
Test(metrics_http, clients_that_never_read)
{
    enum { N = 40 };
    int fds[N];
    for (int i = 0; i < N; i++) {
        fds[i] = http_connect(mport);
        cr_assert_geq(fds[i], 0);
        const char req[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
        for (int k = 0; k < 20; k++) /* 20 pipelined scrapes, never read */
            send(fds[i], req, sizeof(req) - 1, MSG_NOSIGNAL);
    }
    expect_serving("never read");
    for (int i = 0; i < N; i++)
        close(fds[i]);
}

/* SIGTERM with HTTP connections open: a clean exit (status 0). */
Test(metrics_http, clean_exit_with_open_connections)
{
    int a = http_connect(mport), b = http_connect(mport);
    cr_assert(a >= 0 && b >= 0);
    cr_assert_eq(send(a, "GET /me", 7, MSG_NOSIGNAL), 7);
    int st = mcd_stop(srv);
    srv = NULL;
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status %d", st);
    close(a);
    close(b);
}

Test(metrics_http, stats_settings_line)
{
    struct mcd_conn *c = mcd_conn_open(srv);
    cr_assert_not_null(c);
    char *st = mcd_stats(c, "settings");
    char v[64], want[64];
    cr_assert(mcd_stat_find(st, "metrics_listen", v, sizeof(v)));
    snprintf(want, sizeof(want), "127.0.0.1:%d", mport);
    cr_expect_str_eq(v, want);
    free(st);
    mcd_conn_close(c);
}

/* A bad HOST:PORT or a port already taken: mcd says so and does not start. */
Test(metrics_http, startup_errors)
{
    static const char *const bad[] = {"nonsense", "127.0.0.1:", "127.0.0.1:99999", "[::1:80", "1.2.3.4:80:1",
                                      "127.0.0.1:x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char opt[64];
        snprintf(opt, sizeof(opt), "metrics_listen=%s", bad[i]);
        const char *extra[] = {"-o", opt, NULL};
        struct mcd_server *s = mcd_start(extra);
        cr_expect_null(s, "mcd started with -o %s", opt);
        mcd_stop(s);
    }
    char opt[64];
    snprintf(opt, sizeof(opt), "metrics_listen=127.0.0.1:%d", mport); /* srv holds it */
    const char *extra[] = {"-o", opt, NULL};
    struct mcd_server *s = mcd_start(extra);
    cr_expect_null(s, "mcd started on a metrics port in use");
    mcd_stop(s);
}
