/*
 * test_stats.c - the `stats` family: names present, counters moving as a
 * scripted sequence of commands dictates, sub-commands, and reset.
 * Each test starts its own server.
 */
#include "config.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/harness.h"

static struct mcd_server *srv;
static struct mcd_conn *conn;

static void setup(void)
{
    srv = mcd_start(NULL);
    cr_assert_not_null(srv, "server %s did not start", mcd_bin());
    conn = mcd_conn_open(srv);
    cr_assert_not_null(conn);
}

static void teardown(void)
{
    mcd_conn_close(conn);
    mcd_stop(srv);
}

TestSuite(stats, .init = setup, .fini = teardown, .timeout = 30);

static void assert_names(const char *sub, const char *const names[])
{
    char *st = mcd_stats(conn, sub);

    cr_assert_not_null(st, "stats %s: no reply", sub ? sub : "");
    for (size_t i = 0; names[i] != NULL; i++)
        cr_expect(mcd_stat_find(st, names[i], NULL, 0), "stats %s: missing %s", sub ? sub : "", names[i]);
    free(st);
}

Test(stats, general_names)
{
    static const char *const names[] = {
        "pid", "uptime", "time", "version", "curr_connections", "total_connections", "rejected_connections",
        "cmd_get", "cmd_set", "cmd_flush", "cmd_touch", "get_hits", "get_misses", "get_expired", "get_flushed",
        "delete_misses", "delete_hits", "incr_misses", "incr_hits", "decr_misses", "decr_hits", "cas_misses",
        "cas_hits", "cas_badval", "touch_hits", "touch_misses", "bytes_read", "bytes_written", "limit_maxbytes",
        "threads", "curr_items", "total_items", "bytes", "evictions", "reclaimed", "expired_unfetched",
        "evicted_unfetched", "rusage_user", "rusage_system", NULL};
    char *st = mcd_stats(conn, NULL);
    char v[64];

    cr_assert_not_null(st);
    cr_assert(strncmp(st, "STAT pid ", 9) == 0, "stats must start with pid: %.40s", st);
    cr_assert(strlen(st) >= 5 && strcmp(st + strlen(st) - 5, "END\r\n") == 0);
    free(st);
    assert_names(NULL, names);
    cr_assert_eq(mcd_stat_ll(conn, NULL, "pid"), srv->pid);
    cr_assert_eq(mcd_stat_ll(conn, NULL, "threads"), 4);
    cr_assert_eq(mcd_stat_ll(conn, NULL, "limit_maxbytes"), 64LL * 1024 * 1024);
    st = mcd_stats(conn, NULL);
    cr_assert(mcd_stat_find(st, "rusage_user", v, sizeof(v)));
    cr_assert_not_null(strchr(v, '.'), "rusage_user is seconds.micros: %s", v);
    free(st);
}

/* Counter deltas after a scripted sequence. */
Test(stats, counters_move)
{
    static const char *const names[] = {"cmd_get", "cmd_set", "cmd_touch", "get_hits", "get_misses",
                                        "delete_hits", "delete_misses", "incr_hits", "incr_misses", "decr_hits",
                                        "decr_misses", "cas_hits", "cas_badval", "cas_misses", "touch_hits",
                                        "touch_misses", "curr_items", "total_items", "cmd_flush", "bytes_read",
                                        "bytes_written"};
    enum { N = sizeof(names) / sizeof(names[0]) };
    long long before[N], after[N];
    /* expected deltas, in names[] order */
    static const long long want[N] = {
        /* cmd_get */ 4, /* cmd_set */ 5, /* cmd_touch */ 2, /* get_hits */ 2, /* get_misses */ 2,
        /* delete_hits */ 1, /* delete_misses */ 1, /* incr_hits */ 1, /* incr_misses */ 1, /* decr_hits */ 1,
        /* decr_misses */ 1, /* cas_hits */ 0, /* cas_badval */ 1, /* cas_misses */ 1, /* touch_hits */ 1,
        /* touch_misses */ 1, /* curr_items */ 2, /* total_items */ -2, /* cmd_flush */ 0, -1, -1};

    for (size_t i = 0; i < N; i++)
        before[i] = mcd_stat_ll(conn, NULL, names[i]);
    cr_assert(mcd_roundtrip(conn, "set a 0 0 1\r\n1\r\n", "STORED\r\n"));
    cr_assert(mcd_roundtrip(conn, "set b 0 0 1\r\n2\r\n", "STORED\r\n"));
    cr_assert(mcd_roundtrip(conn, "set c 0 0 1\r\n3\r\n", "STORED\r\n"));
    cr_assert(mcd_roundtrip(conn, "get a\r\n", "VALUE a 0 1\r\n1\r\nEND\r\n"));
    cr_assert(mcd_roundtrip(conn, "get b nope\r\n", "VALUE b 0 1\r\n2\r\nEND\r\n"));
    cr_assert(mcd_roundtrip(conn, "get nope2\r\n", "END\r\n"));
    cr_assert(mcd_roundtrip(conn, "delete c\r\n", "DELETED\r\n"));
    cr_assert(mcd_roundtrip(conn, "delete c\r\n", "NOT_FOUND\r\n"));
    cr_assert(mcd_roundtrip(conn, "incr a 1\r\n", "2\r\n"));
    cr_assert(mcd_roundtrip(conn, "incr x 1\r\n", "NOT_FOUND\r\n"));
    cr_assert(mcd_roundtrip(conn, "decr a 1\r\n", "1\r\n"));
    cr_assert(mcd_roundtrip(conn, "decr x 1\r\n", "NOT_FOUND\r\n"));
    cr_assert(mcd_roundtrip(conn, "cas a 0 0 1 999999\r\n5\r\n", "EXISTS\r\n"));
    cr_assert(mcd_roundtrip(conn, "cas x 0 0 1 1\r\n5\r\n", "NOT_FOUND\r\n"));
    cr_assert(mcd_roundtrip(conn, "touch a 100\r\n", "TOUCHED\r\n"));
    cr_assert(mcd_roundtrip(conn, "touch x 100\r\n", "NOT_FOUND\r\n"));
    for (size_t i = 0; i < N; i++) {
        after[i] = mcd_stat_ll(conn, NULL, names[i]);
        cr_expect_geq(after[i], 0, "stat %s missing", names[i]);
        if (want[i] == -2) /* 3 sets; an incr/decr may or may not store a new item */
            cr_expect(after[i] - before[i] >= 3 && after[i] - before[i] <= 5, "stat %s moved by %lld",
                      names[i], after[i] - before[i]);
        else if (want[i] >= 0)
            cr_expect_eq(after[i] - before[i], want[i], "stat %s moved by %lld, expected %lld", names[i],
                         after[i] - before[i], want[i]);
        else
            cr_expect_gt(after[i], before[i], "stat %s did not grow", names[i]);
    }
    cr_assert(mcd_roundtrip(conn, "flush_all\r\n", "OK\r\n"));
    cr_expect_eq(mcd_stat_ll(conn, NULL, "cmd_flush"), 1);
    /* flushed items may be reaped lazily (memcached counts get_flushed only
     * when a get meets one before its LRU threads do), so only the miss is exact */
    long long misses = mcd_stat_ll(conn, NULL, "get_misses");
    cr_assert(mcd_roundtrip(conn, "get a\r\n", "END\r\n"));
    cr_expect_eq(mcd_stat_ll(conn, NULL, "get_misses"), misses + 1);
}

/* Client connections `stats conns` lists (not the listeners memcached
 * lists too). */
static size_t client_conns(void)
{
    char *st = mcd_stats(conn, "conns");
    size_t n = 0;
    for (const char *p = st; p != NULL && (p = strstr(p, ":state ")) != NULL; p++)
        if (strncmp(p + 7, "conn_listening", 14) != 0)
            n++;
    free(st);
    return n;
}

Test(stats, connections)
{
    /* the harness's readiness probe closed just before the test began, and
     * the server counts a close once its worker has seen it: wait until
     * ours is the only client connection before taking the baseline */
    long long deadline = mcd_now_ms() + 5000;
    while (client_conns() != 1 && mcd_now_ms() < deadline)
        mcd_poll_pause();
    cr_assert_eq(client_conns(), 1, "other client connections never went away");
    long long cur = mcd_stat_ll(conn, NULL, "curr_connections");
    long long total = mcd_stat_ll(conn, NULL, "total_connections");
    struct mcd_conn *c2 = mcd_conn_open(srv);

    cr_assert_not_null(c2);
    cr_assert(mcd_roundtrip(c2, "version\r\n", "VERSION {str}\r\n"));
    cr_expect_eq(mcd_stat_ll(conn, NULL, "curr_connections"), cur + 1);
    cr_expect_eq(mcd_stat_ll(conn, NULL, "total_connections"), total + 1);
    char *st = mcd_stats(conn, "conns");
    cr_assert_not_null(st);
    /* one "STAT <fd>:addr tcp:127.0.0.1:<port>" line per connection (and the listener) */
    size_t addrs = 0;
    for (const char *p = st; (p = strstr(p, ":addr ")) != NULL; p++)
        addrs++;
    cr_expect_geq(addrs, 2, "stats conns lists %zu connections:\n%s", addrs, st);
    cr_expect_not_null(strstr(st, ":state "), "stats conns has no state lines");
    free(st);
    mcd_conn_close(c2);
}

Test(stats, settings)
{
    static const char *const names[] = {"maxbytes", "maxconns", "tcpport", "item_size_max", "evictions",
                                        "cas_enabled", "num_threads", "growth_factor", "chunk_size", NULL};
    char *st = mcd_stats(conn, "settings");
    char v[64];

    cr_assert_not_null(st);
    assert_names("settings", names);
    cr_assert(mcd_stat_find(st, "maxbytes", v, sizeof(v)));
    cr_expect_str_eq(v, "67108864");
    cr_assert(mcd_stat_find(st, "maxconns", v, sizeof(v)));
    cr_expect_str_eq(v, "1024");
    cr_assert(mcd_stat_find(st, "tcpport", v, sizeof(v)));
    cr_expect_eq(atoi(v), srv->port);
    cr_assert(mcd_stat_find(st, "item_size_max", v, sizeof(v)));
    cr_expect_str_eq(v, "1048576");
    cr_assert(mcd_stat_find(st, "evictions", v, sizeof(v)));
    cr_expect_str_eq(v, "on");
    cr_assert(mcd_stat_find(st, "cas_enabled", v, sizeof(v)));
    cr_expect_str_eq(v, "yes");
    cr_assert(mcd_stat_find(st, "num_threads", v, sizeof(v)));
    cr_expect_str_eq(v, "4");
    free(st);
}

Test(stats, items_and_slabs)
{
    char name[64], v[64];

    cr_assert(mcd_roundtrip(conn, "set small 0 0 5\r\nhello\r\n", "STORED\r\n"));
    char *st = mcd_stats(conn, "items");
    cr_assert_not_null(st);
    /* find the class that holds our one item */
    const char *p = strstr(st, "STAT items:");
    cr_assert_not_null(p, "stats items is empty:\n%s", st);
    int cls = atoi(p + strlen("STAT items:"));
    cr_assert_gt(cls, 0);
    snprintf(name, sizeof(name), "items:%d:number", cls);
    cr_assert(mcd_stat_find(st, name, v, sizeof(v)), "no %s", name);
    cr_expect_str_eq(v, "1");
    snprintf(name, sizeof(name), "items:%d:evicted", cls);
    cr_expect(mcd_stat_find(st, name, NULL, 0), "no %s", name);
    free(st);

    st = mcd_stats(conn, "slabs");
    cr_assert_not_null(st);
    snprintf(name, sizeof(name), "%d:chunk_size", cls);
    cr_assert(mcd_stat_find(st, name, v, sizeof(v)), "no %s in\n%s", name, st);
    cr_expect_geq(atoi(v), 5, "chunk_size %s too small", v);
    snprintf(name, sizeof(name), "%d:used_chunks", cls);
    cr_assert(mcd_stat_find(st, name, v, sizeof(v)), "no %s", name);
    cr_expect_str_eq(v, "1");
    snprintf(name, sizeof(name), "%d:total_pages", cls);
    cr_expect(mcd_stat_find(st, name, NULL, 0), "no %s", name);
    cr_assert(mcd_stat_find(st, "active_slabs", v, sizeof(v)));
    cr_expect_geq(atoi(v), 1);
    cr_assert(mcd_stat_find(st, "total_malloced", v, sizeof(v)));
    cr_expect_gt(atoll(v), 0);
    free(st);
}

Test(stats, reset)
{
    cr_assert(mcd_roundtrip(conn, "set r 0 0 1\r\nx\r\n", "STORED\r\n"));
    cr_assert(mcd_roundtrip(conn, "get r\r\n", "VALUE r 0 1\r\nx\r\nEND\r\n"));
    cr_assert(mcd_roundtrip(conn, "get r\r\n", "VALUE r 0 1\r\nx\r\nEND\r\n"));
    cr_assert_eq(mcd_stat_ll(conn, NULL, "get_hits"), 2);
    cr_assert(mcd_roundtrip(conn, "stats reset\r\n", "RESET\r\n"));
    cr_expect_eq(mcd_stat_ll(conn, NULL, "get_hits"), 0);
    cr_expect_eq(mcd_stat_ll(conn, NULL, "cmd_get"), 0);
    /* items survive a reset */
    cr_expect_eq(mcd_stat_ll(conn, NULL, "curr_items"), 1);
}

Test(stats, unknown_subcommand)
{
    cr_assert(mcd_roundtrip(conn, "stats bogus\r\n", "ERROR\r\n"));
    cr_assert(mcd_roundtrip(conn, "version\r\n", "VERSION {str}\r\n"));
}

/* The names of a stats reply, one per line ("STAT <name> ..." -> "<name>\n"). */
static char *names_of(const char *st)
{
    char *out = malloc(strlen(st) + 1), *o = out;
    cr_assert_not_null(out);
    for (const char *p = st; (p = strstr(p, "STAT ")) != NULL;) {
        p += 5;
        while (*p != ' ' && *p != '\r' && *p != '\0')
            *o++ = *p++;
        *o++ = '\n';
    }
    *o = '\0';
    return out;
}

/* Every group prints memcached 1.6.45's names in its order (values of
 * machinery mcd lacks are an idle memcached's, see memcached-compat.md). */
Test(stats, names_in_memcached_order)
{
    static const char *const groups[] = {NULL, "settings", "items", "slabs", "sizes", "extstore", "detail dump"};

    if (mcd_target_is_memcached() || mcd_oracle_bin() == NULL)
        cr_skip_test("needs mcd and the memcached oracle");
    struct mcd_server *oracle = mcd_start_bin(mcd_oracle_bin(), NULL);
    cr_assert_not_null(oracle);
    struct mcd_conn *oc = mcd_conn_open(oracle);
    cr_assert_not_null(oc);
    cr_assert(mcd_roundtrip(conn, "set order 0 0 5\r\nhello\r\n", "STORED\r\n"));
    cr_assert(mcd_roundtrip(oc, "set order 0 0 5\r\nhello\r\n", "STORED\r\n"));
    for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
        char *mine = mcd_stats(conn, groups[i]), *theirs = mcd_stats(oc, groups[i]);
        cr_assert_not_null(mine, "stats %s", groups[i] ? groups[i] : "");
        cr_assert_not_null(theirs, "stats %s (memcached)", groups[i] ? groups[i] : "");
        char *a = names_of(mine), *b = names_of(theirs);
        cr_expect_str_eq(a, b, "stats %s: names differ from memcached's", groups[i] ? groups[i] : "");
        free(a);
        free(b);
        free(mine);
        free(theirs);
    }
    mcd_conn_close(oc);
    mcd_stop(oracle);
}

Test(stats, text_only_groups)
{
    cr_assert(mcd_roundtrip(conn, "stats sizes\r\n", "STAT sizes_status disabled\r\nEND\r\n"));
    cr_assert(mcd_roundtrip(conn, "stats extstore\r\n", "END\r\n"));
    cr_assert(mcd_roundtrip(conn, "stats detail\r\n", "CLIENT_ERROR usage: stats detail on|off|dump\r\n"));
    cr_assert(mcd_roundtrip(conn, "stats detail on\r\n", "OK\r\n"));
    char *st = mcd_stats(conn, "settings");
    char v[16];
    cr_assert(mcd_stat_find(st, "detail_enabled", v, sizeof(v)));
    cr_expect_str_eq(v, "yes");
    free(st);
    cr_assert(mcd_roundtrip(conn, "stats detail off\r\n", "OK\r\n"));
    cr_assert(mcd_roundtrip(conn, "stats detail dump\r\n", "END\r\n"));
    cr_assert(mcd_roundtrip(conn, "slabs automove 2\r\n", "OK\r\n"));
    st = mcd_stats(conn, "settings");
    cr_assert(mcd_stat_find(st, "slab_automove", v, sizeof(v)));
    cr_expect_str_eq(v, "2");
    free(st);
}

/* `stats settings` of mcd and of 1.6.45, both started with `flags`: the
 * same lines and values (but the port). */
static void expect_settings_as_oracle(const char *const flags[])
{
    if (mcd_target_is_memcached() || mcd_oracle_bin() == NULL)
        cr_skip_test("needs mcd and the memcached oracle");
    struct mcd_server *mine = mcd_start(flags), *oracle = mcd_start_bin(mcd_oracle_bin(), flags);
    cr_assert_not_null(mine);
    cr_assert_not_null(oracle);
    struct mcd_conn *a = mcd_conn_open(mine), *b = mcd_conn_open(oracle);
    cr_assert_not_null(a);
    cr_assert_not_null(b);
    /* the verbosity command caps its level at 2 (-vvv can still set 3) */
    cr_assert(mcd_roundtrip(a, "verbosity 10\r\n", "OK\r\n"));
    cr_assert(mcd_roundtrip(b, "verbosity 10\r\n", "OK\r\n"));
    char *sa = mcd_stats(a, "settings"), *sb = mcd_stats(b, "settings");
    cr_assert_not_null(sa);
    cr_assert_not_null(sb);
    /* the ports differ: blank the tcpport line out of both */
    char *pa = strstr(sa, "STAT tcpport "), *pb = strstr(sb, "STAT tcpport ");
    cr_assert(pa != NULL && pb != NULL);
    memmove(pa, strchr(pa, '\n') + 1, strlen(strchr(pa, '\n') + 1) + 1);
    memmove(pb, strchr(pb, '\n') + 1, strlen(strchr(pb, '\n') + 1) + 1);
    cr_expect_str_eq(sa, sb);
    free(sa);
    free(sb);
    mcd_conn_close(a);
    mcd_conn_close(b);
    mcd_stop(mine);
    mcd_stop(oracle);
}

/* stats settings with non-default flags: the same lines and values as
 * 1.6.45 started with the same flags (but the port). */
Test(stats, settings_values_follow_flags)
{
    static const char *const flags[] = {"-m", "100", "-c", "500", "-t", "2", "-R", "5", "-B", "ascii", "-I", "2m",
                                        "-f", "1.5", "-n", "64", "-o", "hashpower=20", "-M", "-C", "-b", "64", NULL};
    expect_settings_as_oracle(flags);
}

/* memcached's tuning options (the crawler's pace, its LRU, extstore's
 * knobs, the automover's) and -N: shown as 1.6.45 shows them. Two sets:
 * without the LRU maintainer, temporary_ttl is refused. The logger's
 * buffer sizes are left out (mcd's are fixed: memcached-compat.md). */
Test(stats, settings_values_follow_tuning_options)
{
    static const char *const tuned[] = {
        "-t", "8", "-N", "3", "-I", "2m", "-o",
        "lru_crawler_sleep=500,lru_crawler_tocrawl=7,hot_lru_pct=10,warm_lru_pct=30,hot_max_factor=0.3,"
        "warm_max_factor=1.5,temporary_ttl=30,slab_chunk_max=256,read_buf_mem_limit=10,tail_repair_time=20,"
        "hash_algorithm=xxh3,slab_automove_freeratio=0.02,ext_item_size=256,ext_item_age=10,ext_low_ttl=5,"
        "ext_recache_rate=100,ext_wbuf_size=2,ext_compact_under=5,ext_drop_under=6,ext_max_sleep=1000,"
        "ext_max_frag=0.5,ext_drop_unread,ext_page_size=32,ext_threads=2,slab_automove=0,"
        "slab_automove_ratio=0.5,slab_automove_window=30,watcher_logbuf_size=128,worker_logbuf_size=32",
        NULL};
    static const char *const no_maintainer[] = {"-o", "no_lru_maintainer,slab_automove,lru_crawler_sleep=2k", NULL};
    expect_settings_as_oracle(tuned);
    expect_settings_as_oracle(no_maintainer);
}

/* What 1.6.45 resets: total_connections and the per-class counters of
 * `stats items` too, not only the per-thread counters. */
Test(stats, reset_connections_and_items)
{
    static const char *const small[] = {"-m", "8", NULL};
    struct mcd_server *s = mcd_start(small);
    cr_assert_not_null(s);
    struct mcd_conn *c = mcd_conn_open(s);
    cr_assert_not_null(c);
    /* 40 items of 500 KB in 8 MB: evictions in their class */
    size_t n = 500000;
    char *val = malloc(n + 64);
    cr_assert_not_null(val);
    for (int i = 0; i < 40; i++) {
        int h = snprintf(val, 64, "set big%d 0 0 %zu\r\n", i, n);
        memset(val + h, 'x', n);
        memcpy(val + h + n, "\r\n", 2);
        cr_assert(mcd_send(c, val, (size_t)h + n + 2));
        cr_assert(mcd_expectstr(c, "STORED\r\n"));
    }
    free(val);
    /* three more connections, each surely accepted (a round trip) before
     * it closes, so none is counted after the reset */
    for (int i = 0; i < 3; i++) {
        struct mcd_conn *o = mcd_conn_open(s);
        cr_assert_not_null(o);
        cr_assert(mcd_roundtrip(o, "version\r\n", "VERSION {str}\r\n"));
        mcd_conn_close(o);
    }
    cr_assert_gt(mcd_stat_ll(c, NULL, "total_connections"), 3);
    char *st = mcd_stats(c, "items");
    const char *p = strstr(st, "STAT items:");
    cr_assert_not_null(p);
    int cls = atoi(p + strlen("STAT items:"));
    char name[64], v[32];
    snprintf(name, sizeof(name), "items:%d:evicted", cls);
    cr_assert(mcd_stat_find(st, name, v, sizeof(v)));
    cr_assert_gt(atoll(v), 0, "no evictions to reset");
    free(st);

    cr_assert(mcd_roundtrip(c, "stats reset\r\n", "RESET\r\n"));
    cr_expect_eq(mcd_stat_ll(c, NULL, "total_connections"), 0);
    cr_expect_eq(mcd_stat_ll(c, NULL, "evictions"), 0);
    st = mcd_stats(c, "items");
    cr_assert(mcd_stat_find(st, name, v, sizeof(v)));
    cr_expect_str_eq(v, "0", "%s after reset", name);
    snprintf(name, sizeof(name), "items:%d:evicted_unfetched", cls);
    cr_assert(mcd_stat_find(st, name, v, sizeof(v)));
    cr_expect_str_eq(v, "0", "%s after reset", name);
    snprintf(name, sizeof(name), "items:%d:evicted_time", cls);
    cr_assert(mcd_stat_find(st, name, v, sizeof(v)));
    cr_expect_str_eq(v, "0", "%s after reset", name);
    snprintf(name, sizeof(name), "items:%d:number", cls);
    cr_assert(mcd_stat_find(st, name, v, sizeof(v)));
    cr_expect_neq(atoll(v), 0, "items survive a reset");
    free(st);
    mcd_conn_close(c);
    mcd_stop(s);
}

/* Connections after a `stats reset` on a server started with `args`: the
 * round_robin_fallback and unexpected_napi_ids it counts. */
static void napi_counts(struct mcd_server *server, long long *fallback, long long *unexpected)
{
    cr_assert_not_null(server);
    struct mcd_conn *c = mcd_conn_open(server);
    cr_assert_not_null(c);
    cr_assert(mcd_roundtrip(c, "stats reset\r\n", "RESET\r\n"));
    struct mcd_conn *more[3];
    for (int i = 0; i < 3; i++) {
        more[i] = mcd_conn_open(server);
        cr_assert_not_null(more[i]);
        cr_assert(mcd_roundtrip(more[i], "version\r\n", "VERSION "));
    }
    *fallback = mcd_stat_ll(c, NULL, "round_robin_fallback");
    *unexpected = mcd_stat_ll(c, NULL, "unexpected_napi_ids");
    for (int i = 0; i < 3; i++)
        mcd_conn_close(more[i]);
    mcd_conn_close(c);
    mcd_stop(server);
}

/* -N: a connection with no NAPI id (loopback has none) goes round robin and
 * counts in round_robin_fallback, as in 1.6.45; without -N nothing counts. */
Test(stats, napi_ids_fallback)
{
    static const char *const with_n[] = {"-N", "2", NULL};
    long long fallback, unexpected;
    napi_counts(mcd_start(with_n), &fallback, &unexpected);
    cr_expect_eq(fallback, 3);
    cr_expect_eq(unexpected, 0);
    napi_counts(mcd_start(NULL), &fallback, &unexpected);
    cr_expect_eq(fallback, 0);
    if (mcd_target_is_memcached() || mcd_oracle_bin() == NULL)
        return;
    napi_counts(mcd_start_bin(mcd_oracle_bin(), with_n), &fallback, &unexpected);
    cr_expect_eq(fallback, 3, "the oracle counts %lld", fallback);
}
