/*
 * test_watch.c - `watch` (server/watch.c): each stream against its real
 * effect (a get of k logs an item_get naming k, a set an item_store, a
 * delete a deleted line, an eviction an eviction line, a connection its
 * conn_new and conn_close), several streams on one watcher and several
 * watchers at once, the replies to bad arguments, and the lines of a fixed
 * command sequence compared byte for byte with memcached 1.6.45's (ts=,
 * gid=, cfd= and rport= masked).
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

/* ---- helpers ------------------------------------------------------------- */

static struct mcd_server *start_oracle(const char *const args[])
{
    const char *ob = mcd_oracle_bin();
    if (ob == NULL || access(ob, X_OK) != 0)
        return NULL;
    return mcd_start_bin(ob, args);
}

/* A connection that sent "watch <streams>" and got its OK. */
static struct mcd_conn *watcher(const struct mcd_server *srv, const char *streams)
{
    struct mcd_conn *w = mcd_conn_open(srv);
    cr_assert_not_null(w);
    char req[256];
    snprintf(req, sizeof(req), "watch%s%s\r\n", *streams ? " " : "", streams);
    cr_assert(mcd_roundtrip(w, req, "OK\r\n"), "%s", req);
    return w;
}

/* The next log line (malloc'd, without "\n"), or NULL after the timeout. */
static char *next_line(struct mcd_conn *w)
{
    size_t n;
    char *line = mcd_read_until(w, "\n", &n);
    if (line != NULL)
        line[n - 1] = '\0';
    return line;
}

/* Replaces the digits after each "name=" in `names` by "N", in place. */
static void mask(char *line)
{
    static const char *const names[] = {"ts=", "gid=", "cfd=", "rport="};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char *p = strstr(line, names[i]);
        if (p == NULL || (p != line && p[-1] != ' '))
            continue;
        p += strlen(names[i]);
        char *e = p;
        while ((*e >= '0' && *e <= '9') || *e == '.')
            e++;
        if (e == p)
            continue;
        *p = 'N';
        memmove(p + 1, e, strlen(e) + 1);
    }
}

/* Reads lines until one contains `needle`; returns it masked (malloc'd),
 * or NULL when none came in time. */
static char *line_with(struct mcd_conn *w, const char *needle)
{
    for (;;) {
        char *line = next_line(w);
        if (line == NULL)
            return NULL;
        if (strstr(line, needle) != NULL) {
            mask(line);
            return line;
        }
        free(line);
    }
}

static void expect_line(struct mcd_conn *w, const char *needle, const char *want)
{
    char *line = line_with(w, needle);
    cr_assert_not_null(line, "no line with \"%s\"", needle);
    cr_expect_str_eq(line, want);
    free(line);
}

static void roundtrip(struct mcd_conn *c, const char *req, const char *reply)
{
    cr_assert(mcd_roundtrip(c, req, reply), "%s", req);
}

/* ---- each stream against its effect -------------------------------------- */

Test(watch, fetchers_name_each_key_looked_up, .timeout = 30)
{
    struct mcd_server *srv = mcd_start(NULL);
    cr_assert_not_null(srv);
    struct mcd_conn *w = watcher(srv, "fetchers");
    struct mcd_conn *c = mcd_conn_open(srv);
    cr_assert_not_null(c);
    roundtrip(c, "set fk 0 0 5\r\nhello\r\n", "STORED\r\n");
    expect_line(w, "key=fk ", "ts=N gid=N type=item_get key=fk status=not_found clsid=0 cfd=N size=0");
    roundtrip(c, "get fk fmiss\r\n", "VALUE fk 0 5\r\nhello\r\nEND\r\n");
    expect_line(w, "key=fk ", "ts=N gid=N type=item_get key=fk status=found clsid=1 cfd=N size=5");
    expect_line(w, "key=fmiss ", "ts=N gid=N type=item_get key=fmiss status=not_found clsid=0 cfd=N size=0");
    roundtrip(c, "mg fk v\r\n", "VA 5\r\nhello\r\n");
    expect_line(w, "key=fk ", "ts=N gid=N type=item_get key=fk status=found clsid=1 cfd=N size=5");
    /* a fetchers watcher sees no mutation */
    roundtrip(c, "get fend\r\n", "END\r\n");
    char *line = next_line(w);
    cr_assert_not_null(line);
    cr_expect(strstr(line, "item_store") == NULL && strstr(line, "key=fend ") != NULL, "%s", line);
    free(line);
    mcd_conn_close(c);
    mcd_conn_close(w);
    mcd_stop(srv);
}

/* -o worker_logbuf_size=1 asks for a 1 KB ring; mcd makes it its smallest,
 * 4 KB, which still takes the longest line (a 250-byte key encoded to 750
 * bytes), while `stats settings` shows what was asked, as 1.6.45 does. */
Test(watch, smallest_worker_ring_takes_the_longest_line, .timeout = 30)
{
    const char *const args[] = {"-o", "worker_logbuf_size=1,watcher_logbuf_size=1", NULL};
    struct mcd_server *srv = mcd_start(args);
    cr_assert_not_null(srv);
    struct mcd_conn *c = mcd_conn_open(srv);
    cr_assert_not_null(c);
    char *st = mcd_stats(c, "settings");
    cr_assert_not_null(st);
    char val[32];
    cr_assert(mcd_stat_find(st, "worker_logbuf_size", val, sizeof(val)));
    cr_expect_str_eq(val, "1024");
    cr_assert(mcd_stat_find(st, "watcher_logbuf_size", val, sizeof(val)));
    cr_expect_str_eq(val, "1024");
    free(st);

    struct mcd_conn *w = watcher(srv, "fetchers");
    char key[251], req[300], want[1024];
    memset(key, '!', 250);
    key[250] = '\0';
    for (int round = 0; round < 20; round++) {
        snprintf(req, sizeof(req), "get %s\r\n", key);
        roundtrip(c, req, "END\r\n");
        size_t n = (size_t)snprintf(want, sizeof(want), "ts=N gid=N type=item_get key=");
        for (int i = 0; i < 250; i++)
            n += (size_t)snprintf(want + n, sizeof(want) - n, "%%21");
        snprintf(want + n, sizeof(want) - n, " status=not_found clsid=0 cfd=N size=0");
        char *line = next_line(w);
        cr_assert_not_null(line, "round %d: no line", round);
        mask(line);
        cr_expect_str_eq(line, want, "round %d", round);
        free(line);
    }
    cr_expect_eq(mcd_stat_ll(c, NULL, "log_worker_dropped"), 0);
    mcd_conn_close(w);
    mcd_conn_close(c);
    mcd_stop(srv);
}

Test(watch, mutations_and_deletions, .timeout = 30)
{
    struct mcd_server *srv = mcd_start(NULL);
    cr_assert_not_null(srv);
    struct mcd_conn *wm = watcher(srv, "mutations");
    struct mcd_conn *wd = watcher(srv, "deletions");
    struct mcd_conn *c = mcd_conn_open(srv);
    cr_assert_not_null(c);
    roundtrip(c, "set mk 7 100 3\r\nabc\r\n", "STORED\r\n");
    expect_line(wm, "key=mk ", "ts=N gid=N type=item_store key=mk status=stored cmd=set ttl=100 clsid=1 cfd=N size=3");
    roundtrip(c, "add mk 0 0 1\r\nx\r\n", "NOT_STORED\r\n");
    expect_line(wm, "key=mk ", "ts=N gid=N type=item_store key=mk status=not_stored cmd=add ttl=0 clsid=1 cfd=N size=1");
    roundtrip(c, "delete mk\r\n", "DELETED\r\n");
    expect_line(wd, "key=mk ", "ts=N gid=N type=deleted key=mk cmd=delete clsid=1 size=3");
    roundtrip(c, "ms mk 2\r\nhi\r\n", "HD\r\n");
    expect_line(wm, "key=mk ", "ts=N gid=N type=item_store key=mk status=stored cmd=set ttl=0 clsid=1 cfd=N size=2");
    roundtrip(c, "md mk\r\n", "HD\r\n");
    expect_line(wd, "key=mk ", "ts=N gid=N type=deleted key=mk cmd=md clsid=1 size=2");
    /* a miss deletes nothing: the next deletion line is dk's */
    roundtrip(c, "delete mk\r\nset dk 0 0 1\r\nx\r\ndelete dk\r\n", "NOT_FOUND\r\nSTORED\r\nDELETED\r\n");
    char *line = next_line(wd);
    cr_assert_not_null(line);
    mask(line);
    cr_expect_str_eq(line, "ts=N gid=N type=deleted key=dk cmd=delete clsid=1 size=1");
    free(line);
    mcd_conn_close(c);
    mcd_conn_close(wm);
    mcd_conn_close(wd);
    mcd_stop(srv);
}

Test(watch, evictions_name_the_evicted_keys, .timeout = 60)
{
    static const char *const args[] = {"-m", "2", NULL};
    struct mcd_server *srv = mcd_start(args);
    cr_assert_not_null(srv);
    struct mcd_conn *w = watcher(srv, "evictions");
    struct mcd_conn *c = mcd_conn_open(srv);
    cr_assert_not_null(c);
    char *v = mcd_data_block(100000, 'e');
    for (int i = 0; i < 60; i++) {
        char hdr[64];
        snprintf(hdr, sizeof(hdr), "set ev%d 0 0 100000\r\n", i);
        cr_assert(mcd_sendstr(c, hdr));
        cr_assert(mcd_send(c, v, 100002));
        cr_assert(mcd_expectstr(c, "STORED\r\n"));
    }
    free(v);
    long long evictions = mcd_stat_ll(c, NULL, "evictions");
    cr_assert_gt(evictions, 0);
    char *line = line_with(w, "type=eviction");
    cr_assert_not_null(line);
    char key[64];
    int clsid, size;
    cr_assert_eq(sscanf(line, "ts=N gid=N type=eviction key=%63s fetch=no ttl=-1 la=%*d clsid=%d size=%d", key, &clsid,
                        &size),
                 3, "%s", line);
    cr_expect_eq(strncmp(key, "ev", 2), 0, "%s", line);
    cr_expect_eq(size, 100000);
    free(line);
    /* the evicted key is gone */
    char req[80], want[16];
    snprintf(req, sizeof(req), "get %s\r\n", key);
    snprintf(want, sizeof(want), "END\r\n");
    roundtrip(c, req, want);
    mcd_conn_close(c);
    mcd_conn_close(w);
    mcd_stop(srv);
}

Test(watch, connevents_open_and_close, .timeout = 30)
{
    static const char *const args[] = {"-o", "idle_timeout=1", NULL};
    struct mcd_server *srv = mcd_start(args);
    cr_assert_not_null(srv);
    struct mcd_conn *w = watcher(srv, "connevents");
    struct mcd_conn *c = mcd_conn_open(srv);
    cr_assert_not_null(c);
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);
    cr_assert_eq(getsockname(c->fd, (struct sockaddr *)&sin, &len), 0);
    char want[160];
    snprintf(want, sizeof(want), "rport=%u ", ntohs(sin.sin_port));
    char *line = line_with(w, want);
    cr_assert_not_null(line);
    cr_expect_str_eq(line, "ts=N gid=N type=conn_new rip=127.0.0.1 rport=N transport=tcp cfd=N");
    free(line);
    roundtrip(c, "quit\r\n", "");
    line = line_with(w, want);
    cr_assert_not_null(line);
    cr_expect_str_eq(line, "ts=N gid=N type=conn_close rip=127.0.0.1 rport=N transport=tcp reason=normal cfd=N");
    free(line);
    mcd_conn_close(c);
    /* an idle connection is closed by the timeout; a protocol error closes with "error" */
    c = mcd_conn_open(srv);
    cr_assert_not_null(c);
    expect_line(w, "reason=", "ts=N gid=N type=conn_close rip=127.0.0.1 rport=N transport=tcp reason=idle_timeout cfd=N");
    mcd_conn_close(c);
    c = mcd_conn_open(srv);
    cr_assert_not_null(c);
    cr_assert(mcd_sendstr(c, "GET / HTTP/1.0\r\n"));
    expect_line(w, "reason=", "ts=N gid=N type=conn_close rip=127.0.0.1 rport=N transport=tcp reason=error cfd=N");
    mcd_conn_close(c);
    /* a watcher that hangs up is logged as memcached logs it, "error" */
    struct mcd_conn *w2 = watcher(srv, "fetchers");
    len = sizeof(sin);
    cr_assert_eq(getsockname(w2->fd, (struct sockaddr *)&sin, &len), 0);
    snprintf(want, sizeof(want), "rport=%u transport=tcp reason=", ntohs(sin.sin_port));
    mcd_conn_close(w2);
    expect_line(w, want, "ts=N gid=N type=conn_close rip=127.0.0.1 rport=N transport=tcp reason=error cfd=N");
    /* the watcher itself is not idle: it was never closed */
    cr_expect(!w->eof);
    mcd_conn_close(w);
    mcd_stop(srv);
}

/* ---- several streams, several watchers ----------------------------------- */

Test(watch, several_streams_and_watchers, .timeout = 30)
{
    struct mcd_server *srv = mcd_start(NULL);
    cr_assert_not_null(srv);
    struct mcd_conn *both = watcher(srv, "fetchers deletions");
    struct mcd_conn *all = watcher(srv, "fetchers mutations deletions connevents evictions");
    struct mcd_conn *c = mcd_conn_open(srv);
    cr_assert_not_null(c);
    roundtrip(c, "set sk 0 0 1\r\nx\r\ndelete sk\r\n", "STORED\r\nDELETED\r\n");
    long long conns = mcd_stat_ll(c, NULL, "curr_connections");
    /* both: item_get (set), item_get (delete), deleted; no item_store */
    static const char *const want_both[] = {"type=item_get key=sk status=not_found",
                                            "type=item_get key=sk status=found", "type=deleted key=sk"};
    for (size_t i = 0; i < 3; i++) {
        char *line = next_line(both);
        cr_assert_not_null(line);
        cr_expect(strstr(line, want_both[i]) != NULL, "line %zu: %s", i, line);
        free(line);
    }
    /* all: conn_new, item_get, item_store, item_get, deleted, in gid order */
    static const char *const want_all[] = {"type=conn_new", "type=item_get key=sk status=not_found",
                                           "type=item_store key=sk status=stored", "type=item_get key=sk status=found",
                                           "type=deleted key=sk"};
    unsigned long long last_gid = 0;
    unsigned earlier_closes = 0;
    for (size_t i = 0; i < 5; i++) {
        char *line = next_line(all);
        cr_assert_not_null(line);
        /* the close of a connection from before (the harness's readiness
         * probe) may be logged after this watcher started: not c's */
        if (i == 0 && strstr(line, "type=conn_close") != NULL && earlier_closes++ < 2) {
            free(line);
            i--;
            continue;
        }
        cr_expect(strstr(line, want_all[i]) != NULL, "line %zu: %s", i, line);
        unsigned long long gid = 0;
        const char *g = strstr(line, " gid=");
        cr_assert_not_null(g);
        gid = strtoull(g + 5, NULL, 10);
        cr_expect_gt(gid, last_gid, "%s", line);
        last_gid = gid;
        free(line);
    }
    cr_expect_eq(mcd_stat_ll(c, NULL, "log_watchers"), 2);
    mcd_conn_close(both);
    mcd_conn_close(all);
    /* closing them frees them */
    long long deadline = mcd_now_ms() + 5000;
    while (mcd_stat_ll(c, NULL, "log_watchers") != 0 && mcd_now_ms() < deadline)
        mcd_poll_pause();
    cr_expect_eq(mcd_stat_ll(c, NULL, "log_watchers"), 0);
    /* (conns may still have counted the harness's readiness probe) */
    deadline = mcd_now_ms() + 5000;
    while (mcd_stat_ll(c, NULL, "curr_connections") > conns - 2 && mcd_now_ms() < deadline)
        mcd_poll_pause();
    cr_expect_leq(mcd_stat_ll(c, NULL, "curr_connections"), conns - 2);
    mcd_conn_close(c);
    mcd_stop(srv);
}

/* A watcher parses no more commands: what follows "watch" is never answered. */
Test(watch, watcher_parses_nothing_more, .timeout = 30)
{
    struct mcd_server *srv = mcd_start(NULL);
    cr_assert_not_null(srv);
    struct mcd_conn *w = mcd_conn_open(srv);
    cr_assert_not_null(w);
    cr_assert(mcd_sendstr(w, "watch fetchers\r\nversion\r\n"));
    cr_assert(mcd_expectstr(w, "OK\r\n"));
    cr_assert(mcd_sendstr(w, "get wk\r\nstats\r\n"));
    struct mcd_conn *c = mcd_conn_open(srv);
    cr_assert_not_null(c);
    roundtrip(c, "get wk2\r\n", "END\r\n");
    /* the next bytes are wk2's line: nothing answered version, get or stats */
    char *line = next_line(w);
    cr_assert_not_null(line);
    cr_expect_eq(strncmp(line, "ts=", 3), 0, "%s", line);
    cr_expect(strstr(line, "key=wk2 ") != NULL, "%s", line);
    free(line);
    mcd_conn_close(c);
    mcd_conn_close(w);
    mcd_stop(srv);
}

/* ---- replies, against the oracle ----------------------------------------- */

/* One connection per request line; its first reply line. */
static void replies(const struct mcd_server *srv, const char *const reqs[], size_t n, char **out)
{
    for (size_t i = 0; i < n; i++) {
        struct mcd_conn *c = mcd_conn_open(srv);
        cr_assert_not_null(c);
        cr_assert(mcd_sendstr(c, reqs[i]));
        out[i] = mcd_read_line(c);
        if (out[i] != NULL && strcmp(out[i], "END") == 0) { /* "get x\r\nwatch": the second line */
            free(out[i]);
            out[i] = mcd_read_line(c);
        }
        mcd_conn_close(c);
    }
}

Test(watch, arguments_as_oracle, .timeout = 60)
{
    static const char *const reqs[] = {
        "watch\r\n", "watch fetchers mutations evictions connevents deletions\r\n",
        "watch fetchers fetchers\r\n", "watch proxyreqs proxyevents proxyuser rawcmds sysevents\r\n",
        "watch foo\r\n", "watch fetchers foo\r\n", "watch FETCHERS\r\n", "watch fetchers noreply\r\n",
        "watch HTTP/1.0\r\n", "get x\r\nwatch\r\n", "get x\r\nwatch foo\r\n",
    };
    enum { N = sizeof(reqs) / sizeof(reqs[0]) };
    struct mcd_server *srv = mcd_start(NULL);
    cr_assert_not_null(srv);
    char *got[N];
    replies(srv, reqs, N, got);
    mcd_stop(srv);
    struct mcd_server *ora = start_oracle(NULL);
    if (ora == NULL) {
        for (size_t i = 0; i < N; i++)
            free(got[i]);
        cr_skip_test("no oracle");
    }
    char *want[N];
    replies(ora, reqs, N, want);
    mcd_kill(ora);
    for (size_t i = 0; i < N; i++) {
        cr_assert_not_null(want[i], "%s", reqs[i]);
        cr_assert_not_null(got[i], "%s", reqs[i]);
        cr_expect_str_eq(got[i], want[i], "%s", reqs[i]);
        free(got[i]);
        free(want[i]);
    }
}

/* WATCH_MAX (20) watchers; the 21st is refused as by memcached. */
static void watcher_limit(const struct mcd_server *srv)
{
    struct mcd_conn *ws[20];
    for (int i = 0; i < 20; i++)
        ws[i] = watcher(srv, "fetchers");
    struct mcd_conn *c = mcd_conn_open(srv);
    cr_assert_not_null(c);
    roundtrip(c, "watch\r\n", "WATCHER_TOO_MANY log watcher limit reached\r\n");
    mcd_conn_close(c);
    for (int i = 0; i < 20; i++)
        mcd_conn_close(ws[i]);
}

Test(watch, watcher_limit_as_oracle, .timeout = 60)
{
    struct mcd_server *srv = mcd_start(NULL);
    cr_assert_not_null(srv);
    watcher_limit(srv);
    /* room again once they are gone */
    struct mcd_conn *c = mcd_conn_open(srv);
    cr_assert_not_null(c);
    long long deadline = mcd_now_ms() + 5000;
    while (mcd_stat_ll(c, NULL, "log_watchers") != 0 && mcd_now_ms() < deadline)
        mcd_poll_pause();
    mcd_conn_close(c);
    mcd_conn_close(watcher(srv, ""));
    mcd_stop(srv);
    struct mcd_server *ora = start_oracle(NULL);
    if (ora == NULL)
        cr_skip_test("no oracle");
    watcher_limit(ora);
    mcd_kill(ora);
}

/* ---- line format, against the oracle ------------------------------------- */

/* The requests of one client, each answered before the next goes. */
static const char *const script[][2] = {
    {"set foo 5 0 3\r\nbar\r\n", "STORED\r\n"},
    {"get foo\r\n", "VALUE foo 5 3\r\nbar\r\nEND\r\n"},
    {"get miss\r\n", "END\r\n"},
    {"gets foo miss2\r\n", "VALUE foo 5 3 {cas}\r\nbar\r\nEND\r\n"},
    {"touch foo 0\r\n", "TOUCHED\r\n"},
    {"gat 0 foo\r\n", "VALUE foo 5 3\r\nbar\r\nEND\r\n"},
    {"add foo 0 0 1\r\nx\r\n", "NOT_STORED\r\n"},
    {"replace nope 0 0 1\r\nx\r\n", "NOT_STORED\r\n"},
    {"append foo 0 0 1\r\nx\r\n", "STORED\r\n"},
    {"prepend nope 0 0 1\r\nx\r\n", "NOT_STORED\r\n"},
    {"cas foo 0 0 1 999999\r\nx\r\n", "EXISTS\r\n"},
    {"cas nope 0 0 1 1\r\nx\r\n", "NOT_FOUND\r\n"},
    {"incr foo 1\r\n", "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"},
    {"set n 0 0 1\r\n5\r\n", "STORED\r\n"},
    {"incr n 3\r\n", "8\r\n"},
    {"decr n 1\r\n", "7\r\n"},
    {"incr nope 1\r\n", "NOT_FOUND\r\n"},
    {"set t 0 100 2\r\nab\r\n", "STORED\r\n"},
    {"delete foo\r\n", "DELETED\r\n"},
    {"delete foo\r\n", "NOT_FOUND\r\n"},
    {"ms mk 2 T50 F3\r\nhi\r\n", "HD\r\n"},
    {"ms mk 1 MA\r\n!\r\n", "HD\r\n"},
    {"ms mk 1 ME\r\n!\r\n", "NS\r\n"},
    {"mg mk v\r\n", "VA 3\r\nhi!\r\n"},
    {"mg nokey v\r\n", "EN\r\n"},
    {"md mk\r\n", "HD\r\n"},
    {"md mk\r\n", "NF\r\n"},
    {"ma n\r\n", "HD\r\n"},
    {"ma nope\r\n", "NF\r\n"},
    {"set k%20x 0 0 1\r\nx\r\n", "STORED\r\n"},
    {"get a/b:c@d!e*f'g(h)i;j=k+l$m~_.-\r\n", "END\r\n"},
    {"mn\r\n", "MN\r\n"},
    {"get zzend\r\n", "END\r\n"},
};

/* Runs the script with a watcher of `streams`; the masked lines up to the
 * one naming zzend, joined by "\n" (malloc'd). */
static char *script_lines(const struct mcd_server *srv, const char *streams)
{
    struct mcd_conn *w = watcher(srv, streams);
    struct mcd_conn *c = mcd_conn_open(srv);
    cr_assert_not_null(c);
    for (size_t i = 0; i < sizeof(script) / sizeof(script[0]); i++)
        roundtrip(c, script[i][0], script[i][1]);
    size_t cap = 1 << 16, len = 0;
    char *all = malloc(cap);
    cr_assert_not_null(all);
    all[0] = '\0';
    for (;;) {
        char *line = next_line(w);
        cr_assert_not_null(line, "no zzend line; so far:\n%s", all);
        mask(line);
        len += (size_t)snprintf(all + len, cap - len, "%s\n", line);
        cr_assert_lt(len, cap);
        bool end = strstr(line, "key=zzend ") != NULL;
        free(line);
        if (end)
            break;
    }
    mcd_conn_close(c);
    mcd_conn_close(w);
    return all;
}

Test(watch, lines_as_oracle, .timeout = 60)
{
    static const char *const streams = "fetchers mutations deletions";
    struct mcd_server *srv = mcd_start(NULL);
    cr_assert_not_null(srv);
    char *got = script_lines(srv, streams);
    mcd_stop(srv);
    struct mcd_server *ora = start_oracle(NULL);
    if (ora == NULL) {
        free(got);
        cr_skip_test("no oracle");
    }
    char *want = script_lines(ora, streams);
    mcd_kill(ora);
    cr_expect_str_eq(got, want, "mcd:\n%s\nmemcached 1.6.45:\n%s", got, want);
    free(got);
    free(want);
}

/* -W: every watch is refused, bad arguments too, and the connection goes on. */
static void disabled(const struct mcd_server *srv)
{
    struct mcd_conn *c = mcd_conn_open(srv);
    cr_assert_not_null(c);
    roundtrip(c, "watch\r\nwatch foo\r\nwatch fetchers noreply\r\nversion\r\n",
              "CLIENT_ERROR watch commands not allowed\r\nCLIENT_ERROR watch commands not allowed\r\n"
              "CLIENT_ERROR watch commands not allowed\r\nVERSION 1.6.45\r\n");
    mcd_conn_close(c);
}

Test(watch, disabled_by_W_as_oracle, .timeout = 30)
{
    static const char *const args[] = {"-W", NULL};
    struct mcd_server *srv = mcd_start(args);
    cr_assert_not_null(srv);
    disabled(srv);
    mcd_stop(srv);
    struct mcd_server *ora = start_oracle(args);
    if (ora == NULL)
        cr_skip_test("no oracle");
    disabled(ora);
    mcd_kill(ora);
}

/* The log_* stats count what the logger did; `stats reset` zeroes all but
 * log_watchers, as memcached. */
static void log_stats(const struct mcd_server *srv)
{
    struct mcd_conn *w = watcher(srv, "fetchers");
    struct mcd_conn *c = mcd_conn_open(srv);
    cr_assert_not_null(c);
    roundtrip(c, "get ls1 ls2 ls3\r\n", "END\r\n");
    char *line = line_with(w, "key=ls3 ");
    cr_assert_not_null(line);
    free(line);
    /* memcached's logger counts a little after it writes */
    long long deadline = mcd_now_ms() + 5000;
    while (mcd_stat_ll(c, NULL, "log_watcher_sent") < 3 && mcd_now_ms() < deadline)
        mcd_poll_pause();
    cr_expect_geq(mcd_stat_ll(c, NULL, "log_watcher_sent"), 3);
    cr_expect_geq(mcd_stat_ll(c, NULL, "log_worker_written"), 3);
    cr_expect_eq(mcd_stat_ll(c, NULL, "log_watchers"), 1);
    roundtrip(c, "stats reset\r\n", "RESET\r\n");
    cr_expect_eq(mcd_stat_ll(c, NULL, "log_watcher_sent"), 0);
    cr_expect_eq(mcd_stat_ll(c, NULL, "log_worker_written"), 0);
    cr_expect_eq(mcd_stat_ll(c, NULL, "log_watcher_skipped"), 0);
    cr_expect_eq(mcd_stat_ll(c, NULL, "log_worker_dropped"), 0);
    cr_expect_eq(mcd_stat_ll(c, NULL, "log_watchers"), 1);
    mcd_conn_close(c);
    mcd_conn_close(w);
}

Test(watch, log_stats_as_oracle, .timeout = 30)
{
    struct mcd_server *srv = mcd_start(NULL);
    cr_assert_not_null(srv);
    log_stats(srv);
    mcd_stop(srv);
    struct mcd_server *ora = start_oracle(NULL);
    if (ora == NULL)
        cr_skip_test("no oracle");
    log_stats(ora);
    mcd_kill(ora);
}

/* A watcher shows in `stats conns` as conn_watch (memcached's state name)
 * and in connection_structures, until it hangs up. */
Test(watch, stats_conns_lists_watchers, .timeout = 30)
{
    struct mcd_server *srv = mcd_start(NULL);
    cr_assert_not_null(srv);
    struct mcd_conn *c = mcd_conn_open(srv);
    cr_assert_not_null(c);
    /* the baseline, once the harness's readiness probe is gone */
    long long structs = mcd_stat_ll(c, NULL, "connection_structures");
    for (long long until = mcd_now_ms() + 500; mcd_now_ms() < until; mcd_poll_pause()) {
        long long v = mcd_stat_ll(c, NULL, "connection_structures");
        if (v < structs)
            structs = v;
    }
    struct mcd_conn *w = watcher(srv, "fetchers");
    /* (memcached hands the watcher to its logger thread a moment later) */
    char *conns = NULL;
    long long until = mcd_now_ms() + 5000;
    do {
        free(conns);
        conns = mcd_stats(c, "conns");
        cr_assert_not_null(conns);
    } while (strstr(conns, ":state conn_watch\r\n") == NULL && mcd_now_ms() < until);
    cr_expect(strstr(conns, ":state conn_watch\r\n") != NULL, "%s", conns);
    free(conns);
    if (!mcd_target_is_memcached()) /* memcached may reuse a freed one */
        cr_expect_eq(mcd_stat_ll(c, NULL, "connection_structures"), structs + 1);
    mcd_conn_close(w);
    long long deadline = mcd_now_ms() + 5000;
    while (mcd_stat_ll(c, NULL, "log_watchers") != 0 && mcd_now_ms() < deadline)
        mcd_poll_pause();
    conns = mcd_stats(c, "conns");
    cr_assert_not_null(conns);
    cr_expect(strstr(conns, "conn_watch") == NULL, "%s", conns);
    free(conns);
    /* memcached keeps its connection structures for reuse; mcd frees them */
    if (!mcd_target_is_memcached())
        cr_expect_leq(mcd_stat_ll(c, NULL, "connection_structures"), structs);
    mcd_conn_close(c);
    mcd_stop(srv);
}

/* Stores refused before their value is read (too large): an item_store
 * too_large line, and the look-up of the delete a failed set or ms makes,
 * in memcached's order. 1.6.45 fills ttl, clsid and cfd of that line with
 * stack garbage (and cmd with "na" for ms, whose lines it also loses now
 * and then): only type, key, status and cmd of set and add are compared
 * with it; the ms (with_ms) is mcd's alone. */
static char *refused_lines(const struct mcd_server *srv, bool with_ms)
{
    struct mcd_conn *w = watcher(srv, "fetchers mutations");
    struct mcd_conn *c = mcd_conn_open(srv);
    cr_assert_not_null(c);
    char *v = mcd_data_block(2000000, 'x');
    roundtrip(c, "set k 0 0 1\r\nx\r\n", "STORED\r\n");
    cr_assert(mcd_sendstr(c, "set k 0 0 2000000\r\n") && mcd_send(c, v, 2000002));
    cr_assert(mcd_expectstr(c, "SERVER_ERROR object too large for cache\r\n"));
    cr_assert(mcd_sendstr(c, "add q 0 0 2000000\r\n") && mcd_send(c, v, 2000002));
    cr_assert(mcd_expectstr(c, "SERVER_ERROR object too large for cache\r\n"));
    if (with_ms) {
        cr_assert(mcd_sendstr(c, "ms k 2000000\r\n") && mcd_send(c, v, 2000002));
        cr_assert(mcd_expectstr(c, "SERVER_ERROR object too large for cache\r\n"));
    }
    roundtrip(c, "get zzend\r\n", "END\r\n");
    free(v);
    size_t cap = 4096, len = 0;
    char *all = calloc(1, cap);
    cr_assert_not_null(all);
    for (;;) {
        char *line = next_line(w);
        cr_assert_not_null(line, "so far:\n%s", all);
        bool end = strstr(line, "key=zzend ") != NULL;
        /* keep "type=... key=... status=..." (and cmd= but for ms's line) */
        char *p = strstr(line, " type=");
        cr_assert_not_null(p, "%s", line);
        char *cut = strstr(p, " ttl=");
        if (cut == NULL)
            cut = strstr(p, " clsid=");
        if (cut != NULL)
            *cut = '\0';
        len += (size_t)snprintf(all + len, cap - len, "%s\n", p + 1);
        cr_assert_lt(len, cap);
        free(line);
        if (end)
            break;
    }
    mcd_conn_close(c);
    mcd_conn_close(w);
    return all;
}

Test(watch, refused_stores_as_oracle, .timeout = 60)
{
    struct mcd_server *srv = mcd_start(NULL);
    cr_assert_not_null(srv);
    char *got = refused_lines(srv, false);
    char *ms = refused_lines(srv, !mcd_target_is_memcached());
    if (!mcd_target_is_memcached())
        cr_expect_str_eq(ms, "type=item_get key=k status=not_found\n"
                         "type=item_store key=k status=stored cmd=set\n"
                         "type=item_store key=k status=too_large cmd=set\n"
                         "type=item_get key=k status=found\n"
                         "type=item_store key=q status=too_large cmd=add\n"
                         "type=item_store key=k status=too_large cmd=set\n"
                         "type=item_get key=k status=not_found\n"
                         "type=item_get key=zzend status=not_found\n");
    free(ms);
    mcd_stop(srv);
    struct mcd_server *ora = start_oracle(NULL);
    if (ora == NULL) {
        free(got);
        cr_skip_test("no oracle");
    }
    char *want = refused_lines(ora, false);
    mcd_kill(ora);
    cr_expect_str_eq(got, want, "mcd:\n%s\nmemcached 1.6.45:\n%s", got, want);
    free(got);
    free(want);
}

/* Watchers of different streams attaching at the same moment each get
 * their stream's lines. */
struct attach_arg {
    const struct mcd_server *srv;
    const char *streams;
    struct mcd_conn *w;
};

static void *attach_main(void *p)
{
    struct attach_arg *a = p;
    a->w = mcd_conn_open(a->srv);
    if (a->w != NULL) {
        char req[64];
        snprintf(req, sizeof(req), "watch %s\r\n", a->streams);
        if (!mcd_roundtrip(a->w, req, "OK\r\n")) {
            mcd_conn_close(a->w);
            a->w = NULL;
        }
    }
    return NULL;
}

Test(watch, watchers_attaching_at_once, .timeout = 60)
{
    struct mcd_server *srv = mcd_start(NULL);
    cr_assert_not_null(srv);
    for (int round = 0; round < 5; round++) {
        enum { N = 8 };
        struct attach_arg args[N];
        pthread_t th[N];
        for (int i = 0; i < N; i++) {
            args[i] = (struct attach_arg){.srv = srv, .streams = i % 2 ? "mutations" : "deletions"};
            cr_assert_eq(pthread_create(&th[i], NULL, attach_main, &args[i]), 0);
        }
        for (int i = 0; i < N; i++) {
            pthread_join(th[i], NULL);
            cr_assert_not_null(args[i].w);
        }
        struct mcd_conn *c = mcd_conn_open(srv);
        cr_assert_not_null(c);
        roundtrip(c, "set at 0 0 1\r\nx\r\ndelete at\r\n", "STORED\r\nDELETED\r\n");
        for (int i = 0; i < N; i++) {
            char *line = line_with(args[i].w, "key=at ");
            cr_assert_not_null(line, "round %d, watcher %d (%s) got no line", round, i, args[i].streams);
            cr_expect(strstr(line, i % 2 ? "type=item_store" : "type=deleted") != NULL, "%s", line);
            free(line);
            mcd_conn_close(args[i].w);
        }
        mcd_conn_close(c);
        long long deadline = mcd_now_ms() + 5000;
        struct mcd_conn *s = mcd_conn_open(srv);
        cr_assert_not_null(s);
        while (mcd_stat_ll(s, NULL, "log_watchers") != 0 && mcd_now_ms() < deadline)
            mcd_poll_pause();
        mcd_conn_close(s);
    }
    mcd_stop(srv);
}
