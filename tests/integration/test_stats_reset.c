/*
 * test_stats_reset.c - the reset column of server/stats.def, against
 * memcached 1.6.45: the same traffic (every kind of counter moves), then
 * `stats reset`, then `stats`, on mcd and on the oracle; every line that
 * stats.def marks RESET must read what the oracle's reads, and so must the
 * gauges both servers share. Lines whose values depend on the process
 * (pid, times, rusage, versions) or on memory layout (item bytes, hash
 * bytes, connection structures) are left out.
 */
#include "config.h"

#include "tests/lib/harness.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Values that legitimately differ between the two servers. */
static const char *const volatile_names[] = {
    "pid", "uptime", "time", "version", "libevent", "rusage_user", "rusage_system", "bytes",
    "hash_bytes", "connection_structures", "slab_global_page_pool", "total_malloced",
    /* memcached's response object and read buffer pools (idle values in mcd) */
    "response_obj_count", "response_obj_bytes", "read_buf_count", "read_buf_bytes", "read_buf_bytes_free",
    /* memcached's LRU maintainer thread moves items on its own schedule, so
     * these may move after its reset (mcd has no segmented LRU: 0) */
    "lru_maintainer_juggles", "moves_to_cold", "moves_to_warm", "moves_within_lru",
    /* the traffic connections' closes land asynchronously (test_stats checks the gauge) */
    "curr_connections",
    /* counted after the write returns, so a reply may reach the client first */
    "bytes_written", NULL,
};

static bool is_volatile(const char *name)
{
    for (const char *const *p = volatile_names; *p != NULL; p++)
        if (strcmp(*p, name) == 0)
            return true;
    return false;
}

/* Every kind of counter moves: hits and misses of each command, flush,
 * touch, meta, a too-large store, bytes, a second connection. */
static void traffic(struct mcd_server *s)
{
    struct mcd_conn *c = mcd_conn_open(s);
    cr_assert_not_null(c);
    static const char *const steps[][2] = {
        {"set a 0 0 1\r\n1\r\n", "STORED\r\n"},
        {"get a b\r\n", "VALUE a 0 1\r\n1\r\nEND\r\n"},
        {"incr a 5\r\n", "6\r\n"},
        {"decr a 1\r\n", "5\r\n"},
        {"incr nope 1\r\n", "NOT_FOUND\r\n"},
        {"decr nope 1\r\n", "NOT_FOUND\r\n"},
        {"gets a\r\n", "VALUE a 0 1 {cas}\r\n5\r\nEND\r\n"},
        {"cas a 0 0 1 999999\r\nx\r\n", "EXISTS\r\n"},
        {"cas nope 0 0 1 1\r\nx\r\n", "NOT_FOUND\r\n"},
        {"touch a 100\r\n", "TOUCHED\r\n"},
        {"touch nope 100\r\n", "NOT_FOUND\r\n"},
        {"mg a v\r\n", "VA 1\r\n5\r\n"},
        {"delete a\r\n", "DELETED\r\n"},
        {"delete a\r\n", "NOT_FOUND\r\n"},
        {"flush_all\r\n", "OK\r\n"},
        {"set k 0 0 1\r\nk\r\n", "STORED\r\n"},
    };
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
        cr_assert(mcd_roundtrip(c, steps[i][0], steps[i][1]), "step %zu: %s", i, steps[i][0]);
    /* too large: the value is sent and swallowed */
    size_t n = 2000000;
    char *big = malloc(n + 64);
    cr_assert_not_null(big);
    int h = snprintf(big, 64, "set big 0 0 %zu\r\n", n);
    memset(big + h, 'x', n);
    memcpy(big + h + n, "\r\n", 2);
    cr_assert(mcd_send(c, big, (size_t)h + n + 2));
    free(big);
    cr_assert(mcd_expectstr(c, "SERVER_ERROR object too large for cache\r\n"));
    cr_assert(mcd_roundtrip(c, "get big\r\n", "END\r\n"));
    struct mcd_conn *o = mcd_conn_open(s);
    cr_assert_not_null(o);
    cr_assert(mcd_roundtrip(o, "version\r\n", "VERSION {str}\r\n"));
    mcd_conn_close(o);
    mcd_conn_close(c);
}

/* `stats` after traffic and `stats reset` on a fresh connection. */
static char *stats_after_reset(struct mcd_server *s)
{
    traffic(s);
    struct mcd_conn *c = mcd_conn_open(s);
    cr_assert_not_null(c);
    cr_assert(mcd_roundtrip(c, "stats reset\r\n", "RESET\r\n"));
    char *st = mcd_stats(c, NULL);
    cr_assert_not_null(st);
    mcd_conn_close(c);
    return st;
}

Test(stats_reset, every_line_as_the_oracle, .timeout = 60)
{
    if (mcd_oracle_bin() == NULL || mcd_target_is_memcached())
        cr_skip_test("needs mcd and memcached 1.6.45");
    struct mcd_server *m = mcd_start(NULL);
    struct mcd_server *o = mcd_start_bin(mcd_oracle_bin(), NULL);
    cr_assert_not_null(m);
    cr_assert_not_null(o);
    char *ms = stats_after_reset(m);
    char *os = stats_after_reset(o);

    int compared = 0;
    char *save = NULL;
    for (char *l = strtok_r(os, "\r\n", &save); l != NULL; l = strtok_r(NULL, "\r\n", &save)) {
        char name[64], ov[64], mv[64];
        if (sscanf(l, "STAT %63s %63s", name, ov) != 2 || is_volatile(name))
            continue;
        cr_expect(mcd_stat_find(ms, name, mv, sizeof(mv)), "mcd has no %s", name);
        cr_expect_str_eq(mv, ov, "%s after stats reset: mcd %s, memcached %s", name, mv, ov);
        compared++;
    }
    cr_expect_gt(compared, 60);
    free(ms);
    free(os);
    mcd_stop(m);
    mcd_stop(o);
}
