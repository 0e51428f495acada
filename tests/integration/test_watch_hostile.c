/*
 * test_watch_hostile.c - watchers that misbehave (server/watch.c): one
 * that never reads neither slows the other clients nor grows without
 * bound, and is told what it missed ("skipped=N"); watchers that connect
 * and vanish by the hundred, and watchers that keep sending bytes, leave
 * nothing behind. -o watcher_logbuf_size sizes the buffer: a small one
 * skips far sooner than the default.
 */
#include "config.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/lib/harness.h"

static struct mcd_conn *watcher(const struct mcd_server *srv, const char *streams)
{
    struct mcd_conn *w = mcd_conn_open(srv);
    cr_assert_not_null(w);
    char req[128];
    snprintf(req, sizeof(req), "watch %s\r\n", streams);
    cr_assert(mcd_roundtrip(w, req, "OK\r\n"));
    return w;
}

/* `lines` get lines of 100 missing keys each, every one answered before
 * the next goes; milliseconds taken. */
static long long run_gets(struct mcd_conn *c, int lines)
{
    char req[1200];
    size_t len = (size_t)snprintf(req, sizeof(req), "get");
    for (int k = 0; k < 100; k++)
        len += (size_t)snprintf(req + len, sizeof(req) - len, " hostile%03d", k);
    snprintf(req + len, sizeof(req) - len, "\r\n");
    long long t0 = mcd_now_ms();
    for (int i = 0; i < lines; i++)
        cr_assert(mcd_roundtrip(c, req, "END\r\n"));
    return mcd_now_ms() - t0;
}

static long long wait_stat(struct mcd_conn *c, const char *name, long long want)
{
    long long deadline = mcd_now_ms() + 10000, v;
    while ((v = mcd_stat_ll(c, NULL, name)) != want && mcd_now_ms() < deadline)
        mcd_poll_pause();
    return v;
}

/* Reads w until its "skipped=N" notice, then a line after it. */
static void expect_skip_notice(struct mcd_conn *w, struct mcd_conn *c)
{
    bool noticed = false, after = false;
    long long deadline = mcd_now_ms() + 60000;
    while (!after && mcd_now_ms() < deadline) {
        if (mcd_fill(w, 200) <= 0) { /* all read: one more line to log */
            cr_assert(mcd_roundtrip(c, "get hostile_after\r\n", "END\r\n"));
            continue;
        }
        /* every whole line buffered, then drop them at once */
        size_t used = 0;
        char *nl;
        while (!after && (nl = memchr(w->buf + used, '\n', w->len - used)) != NULL) {
            char *line = w->buf + used;
            *nl = '\0';
            if (strncmp(line, "skipped=", 8) == 0) {
                char *end;
                cr_expect_gt(strtoull(line + 8, &end, 10), 0);
                cr_expect_eq(*end, '\0', "%s", line);
                noticed = true;
            } else if (noticed && strstr(line, "key=hostile_after ") != NULL) {
                after = true;
            }
            used = (size_t)(nl - w->buf) + 1;
        }
        mcd_consume(w, used);
    }
    cr_expect(noticed, "no skipped= notice");
    cr_expect(after, "no line after the notice");
}

Test(watch_hostile, stalled_watcher_does_not_slow_clients, .timeout = 120)
{
    struct mcd_server *srv = mcd_start(NULL);
    cr_assert_not_null(srv);
    struct mcd_conn *c = mcd_conn_open(srv);
    cr_assert_not_null(c);
    long long alone = run_gets(c, 3000);

    /* a watcher that does not read (its socket buffers fill first; a
     * receive buffer shrunk after the connect would stall TCP itself in
     * zero-window probes) */
    struct mcd_conn *w = watcher(srv, "fetchers");

    long long watched = run_gets(c, 3000);
    fprintf(stderr, "3000 x 100-key gets: %lld ms alone, %lld ms with a stalled watcher\n", alone, watched);
    /* the workers never wait for it: same order of time (generous for CI) */
    cr_expect_leq(watched, 4 * alone + 2000, "%lld ms alone, %lld ms watched", alone, watched);
    /* what it could not take is dropped and counted, not buffered: go on
     * until its buffer (and the socket's) are full */
    long long skipped, deadline = mcd_now_ms() + 60000;
    while ((skipped = mcd_stat_ll(c, NULL, "log_watcher_skipped")) == 0 && mcd_now_ms() < deadline)
        run_gets(c, 1000);
    fprintf(stderr, "skipped %lld, dropped %lld, sent %lld\n", skipped, mcd_stat_ll(c, NULL, "log_worker_dropped"),
                mcd_stat_ll(c, NULL, "log_watcher_sent"));
    cr_expect_gt(skipped, 0, "the watcher's buffer never filled");
    if (MCD_RSS_ASSERTED)
        cr_expect_lt(mcd_rss_kb(srv->pid), 200 * 1024);

    /* once it reads again it is told how many lines it lost, then goes on */
    expect_skip_notice(w, c);
    mcd_conn_close(w);
    cr_expect_eq(wait_stat(c, "log_watchers", 0), 0);
    mcd_conn_close(c);
    mcd_stop(srv);
}

/* A watcher of fetchers whose socket holds little: its receive buffer is
 * set small before the connect, so that what the server can hand it is
 * mostly its own buffer. */
static struct mcd_conn *narrow_watcher(const struct mcd_server *srv)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    int small = 4096;
    cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)srv->port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    struct mcd_conn *w = calloc(1, sizeof(*w));
    cr_assert_not_null(w);
    w->fd = fd;
    cr_assert(mcd_roundtrip(w, "watch fetchers\r\n", "OK\r\n"));
    return w;
}

/* Gets of 100 missing keys (100 lines each), each one drained by the
 * logger before the next, until the watcher w, which does not read, has
 * skipped a line: the lines logged by then. */
static long long lines_before_first_skip(struct mcd_conn *c)
{
    long long logged = 0, deadline = mcd_now_ms() + 60000;
    while (mcd_now_ms() < deadline) {
        run_gets(c, 1);
        logged += 100;
        /* the logger took every line (or the ring dropped it) */
        while (mcd_stat_ll(c, NULL, "log_worker_written") + mcd_stat_ll(c, NULL, "log_worker_dropped") < logged &&
               mcd_now_ms() < deadline)
            mcd_poll_pause();
        if (mcd_stat_ll(c, NULL, "log_watcher_skipped") > 0)
            return logged;
    }
    cr_assert_fail("no line skipped after %lld lines", logged);
    return -1;
}

/* The watcher's buffer is -o watcher_logbuf_size KB: with 4 KB a watcher
 * that does not read skips lines long before 256 KB (the default) of
 * lines could have been buffered, and `stats settings` says 4096. */
Test(watch_hostile, watcher_logbuf_size_sizes_the_watchers_buffer, .timeout = 120)
{
    /* a line is ts=S.U gid=G type=item_get key=hostileNNN status=not_found
     * clsid=0 cfd=N size=0: about 100 bytes, surely under 120 */
    const long long default_buffer_lines = 256 * 1024 / 120;
    long long lines[2];
    for (int small = 0; small < 2; small++) {
        const char *const args[] = {"-o", "watcher_logbuf_size=4", NULL};
        struct mcd_server *srv = mcd_start(small ? args : NULL);
        cr_assert_not_null(srv);
        struct mcd_conn *c = mcd_conn_open(srv);
        cr_assert_not_null(c);
        char *st = mcd_stats(c, "settings");
        cr_assert_not_null(st);
        char val[32];
        cr_assert(mcd_stat_find(st, "watcher_logbuf_size", val, sizeof(val)));
        cr_expect_str_eq(val, small ? "4096" : "262144");
        free(st);

        struct mcd_conn *w = narrow_watcher(srv);
        lines[small] = lines_before_first_skip(c);
        fprintf(stderr, "watcher_logbuf_size %s: first line skipped after %lld lines (sent %lld)\n",
                small ? "4 KB" : "default", lines[small], mcd_stat_ll(c, NULL, "log_watcher_sent"));
        expect_skip_notice(w, c);
        mcd_conn_close(w);
        mcd_conn_close(c);
        mcd_stop(srv);
    }
    /* the default buffer alone holds every line until the first skip ... */
    cr_expect_geq(lines[0], default_buffer_lines, "default: skipped after %lld lines", lines[0]);
    /* ... a 4 KB one skips before that many could have been buffered */
    cr_expect_lt(lines[1], default_buffer_lines, "4 KB: skipped after %lld lines", lines[1]);
    cr_expect_lt(lines[1] * 4, lines[0], "4 KB: %lld lines, default %lld", lines[1], lines[0]);
}

struct traffic {
    const struct mcd_server *srv;
    volatile bool stop;
    int rounds;
};

static void *traffic_main(void *arg)
{
    struct traffic *t = arg;
    struct mcd_conn *c = mcd_conn_open(t->srv);
    if (c == NULL)
        return NULL;
    while (!t->stop) {
        if (!mcd_roundtrip(c, "set churn 0 0 2\r\nhi\r\nget churn\r\ndelete churn\r\n",
                           "STORED\r\nVALUE churn 0 2\r\nhi\r\nEND\r\nDELETED\r\n"))
            break;
        t->rounds++;
    }
    mcd_conn_close(c);
    return NULL;
}

Test(watch_hostile, watchers_come_and_go, .timeout = 120)
{
    struct mcd_server *srv = mcd_start(NULL);
    cr_assert_not_null(srv);
    struct mcd_conn *c = mcd_conn_open(srv);
    cr_assert_not_null(c);
    /* the baseline, once the harness's readiness probe is gone */
    long long conns = mcd_stat_ll(c, NULL, "curr_connections");
    for (long long until = mcd_now_ms() + 1000; mcd_now_ms() < until; mcd_poll_pause()) {
        long long v = mcd_stat_ll(c, NULL, "curr_connections");
        if (v < conns)
            conns = v;
    }
    struct traffic t = {.srv = srv};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, traffic_main, &t), 0);

    char *junk = malloc(256 * 1024);
    cr_assert_not_null(junk);
    memset(junk, 'j', 256 * 1024);
    for (int i = 0; i < 300; i++) {
        struct mcd_conn *w = mcd_conn_open(srv);
        cr_assert_not_null(w);
        cr_assert(mcd_sendstr(w, i % 2 ? "watch fetchers mutations deletions connevents evictions\r\n"
                                       : "watch fetchers\r\nget x\r\n"));
        if (i % 3 == 0)
            cr_assert(mcd_expectstr(w, "OK\r\n"));
        if (i % 10 == 0)
            (void)mcd_send(w, junk, 256 * 1024); /* a watcher's input is read and dropped */
        if (i % 7 == 0)
            (void)mcd_fill(w, 20);
        if (i % 5 == 0) { /* reset instead of FIN */
            struct linger lg = {1, 0};
            setsockopt(w->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        }
        mcd_conn_close(w);
    }
    free(junk);
    t.stop = true;
    pthread_join(th, NULL);
    cr_expect_gt(t.rounds, 0);

    cr_expect_eq(wait_stat(c, "log_watchers", 0), 0);
    long long now_conns = wait_stat(c, "curr_connections", conns);
    cr_expect_eq(now_conns, conns, "curr_connections %lld, was %lld", now_conns, conns);
    /* still serving, and a new watcher works */
    struct mcd_conn *w = watcher(srv, "mutations");
    cr_assert(mcd_roundtrip(c, "set after 0 0 1\r\nx\r\n", "STORED\r\n"));
    size_t n;
    char *line = mcd_read_until(w, "\n", &n);
    cr_assert_not_null(line);
    cr_expect(strstr(line, "type=item_store key=after status=stored cmd=set") != NULL, "%s", line);
    free(line);
    mcd_conn_close(w);
    mcd_conn_close(c);
    mcd_stop(srv);
}

struct flood {
    int fd;
    volatile bool stop;
};

static void *flood_main(void *arg)
{
    struct flood *f = arg;
    static char junk[65536];
    memset(junk, 'j', sizeof(junk));
    while (!f->stop)
        if (send(f->fd, junk, sizeof(junk), MSG_NOSIGNAL) < 0)
            break;
    return NULL;
}

/* A watcher that sends without end does not keep the logger from the others. */
Test(watch_hostile, flooding_watcher_does_not_hold_the_logger, .timeout = 60)
{
    struct mcd_server *srv = mcd_start(NULL);
    cr_assert_not_null(srv);
    struct mcd_conn *flooder = watcher(srv, "fetchers");
    struct mcd_conn *w = watcher(srv, "mutations");
    struct mcd_conn *c = mcd_conn_open(srv);
    cr_assert_not_null(c);
    struct flood f = {.fd = flooder->fd};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, flood_main, &f), 0);
    for (int i = 0; i < 50; i++) {
        char req[64], needle[32];
        snprintf(req, sizeof(req), "set flood%d 0 0 1\r\nx\r\n", i);
        cr_assert(mcd_roundtrip(c, req, "STORED\r\n"));
        snprintf(needle, sizeof(needle), "key=flood%d ", i);
        size_t n;
        char *line = mcd_read_until(w, "\n", &n);
        cr_assert_not_null(line, "no line for flood%d", i);
        cr_expect(strstr(line, needle) != NULL, "%s", line);
        free(line);
    }
    f.stop = true;
    shutdown(flooder->fd, SHUT_RDWR);
    pthread_join(th, NULL);
    mcd_conn_close(flooder);
    mcd_conn_close(w);
    mcd_conn_close(c);
    mcd_stop(srv);
}
