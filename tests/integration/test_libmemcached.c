/*
 * test_libmemcached.c - drives the server with libmemcached over the ascii
 * protocol (binary protocol off), the way real clients talk to it.
 * Each test starts its own server on its own port.
 */
#include "config.h"

#include <criterion/criterion.h>
#include <libmemcached/memcached.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/libmc_client.h"

static void setup(void)
{
    libmc_start(false);
}

TestSuite(libmemcached, .init = setup, .fini = libmc_stop, .timeout = 30);

Test(libmemcached, set_get)
{
    cr_assert_eq(set("k1", "hello", 0, 42), MEMCACHED_SUCCESS);
    assert_value("k1", "hello", 42);
    cr_assert_eq(set("k1", "", 0, 0), MEMCACHED_SUCCESS);
    assert_value("k1", "", 0);
    assert_miss("nope");

    char big[100000];
    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    cr_assert_eq(set("big", big, 0, 1), MEMCACHED_SUCCESS);
    assert_value("big", big, 1);
}

Test(libmemcached, multiget)
{
    const char *keys[] = {"m1", "m2", "missing", "m3"};
    size_t lens[] = {2, 2, 7, 2};
    bool seen[4] = {false};
    memcached_return_t rc;
    int n = 0;

    cr_assert_eq(set("m1", "one", 0, 1), MEMCACHED_SUCCESS);
    cr_assert_eq(set("m2", "two", 0, 2), MEMCACHED_SUCCESS);
    cr_assert_eq(set("m3", "three", 0, 3), MEMCACHED_SUCCESS);
    memcached_result_st resbuf;
    memcached_result_st *res = memcached_result_create(mc, &resbuf);
    cr_assert_not_null(res);
    cr_assert_eq(memcached_mget(mc, keys, lens, 4), MEMCACHED_SUCCESS);
    while (memcached_fetch_result(mc, res, &rc) != NULL) {
        char key[MEMCACHED_MAX_KEY + 1];
        size_t klen = memcached_result_key_length(res);

        cr_assert_eq(rc, MEMCACHED_SUCCESS);
        cr_assert_lt(klen, sizeof(key));
        memcpy(key, memcached_result_key_value(res), klen);
        key[klen] = '\0';
        int idx = strcmp(key, "m1") == 0 ? 0 : strcmp(key, "m2") == 0 ? 1 : strcmp(key, "m3") == 0 ? 3 : -1;
        cr_assert_geq(idx, 0, "unexpected key %s", key);
        cr_assert_not(seen[idx], "duplicate key %s", key);
        seen[idx] = true;
        const char *want = idx == 0 ? "one" : idx == 1 ? "two" : "three";
        cr_assert_eq(memcached_result_flags(res), (uint32_t)(idx == 3 ? 3 : idx + 1));
        cr_assert_eq(memcached_result_length(res), strlen(want));
        cr_assert_arr_eq(memcached_result_value(res), want, strlen(want));
        n++;
    }
    cr_assert_eq(n, 3);
    memcached_result_free(res);
}

Test(libmemcached, add_replace)
{
    cr_assert_eq(memcached_add(mc, "a", 1, "1", 1, 0, 0), MEMCACHED_SUCCESS);
    cr_assert_eq(memcached_add(mc, "a", 1, "2", 1, 0, 0), MEMCACHED_NOTSTORED);
    assert_value("a", "1", 0);
    cr_assert_eq(memcached_replace(mc, "b", 1, "2", 1, 0, 0), MEMCACHED_NOTSTORED);
    assert_miss("b");
    cr_assert_eq(memcached_replace(mc, "a", 1, "3", 1, 0, 5), MEMCACHED_SUCCESS);
    assert_value("a", "3", 5);
}

Test(libmemcached, append_prepend)
{
    cr_assert_eq(set("ap", "mid", 0, 9), MEMCACHED_SUCCESS);
    cr_assert_eq(memcached_append(mc, "ap", 2, "-end", 4, 0, 0), MEMCACHED_SUCCESS);
    cr_assert_eq(memcached_prepend(mc, "ap", 2, "start-", 6, 0, 0), MEMCACHED_SUCCESS);
    assert_value("ap", "start-mid-end", 9);
    cr_assert_eq(memcached_append(mc, "none", 4, "x", 1, 0, 0), MEMCACHED_NOTSTORED);
    cr_assert_eq(memcached_prepend(mc, "none", 4, "x", 1, 0, 0), MEMCACHED_NOTSTORED);
}

Test(libmemcached, cas)
{
    const char *keys[] = {"c"};
    size_t lens[] = {1};
    memcached_return_t rc;
    uint64_t cas;

    cr_assert_eq(memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_SUPPORT_CAS, 1), MEMCACHED_SUCCESS);
    cr_assert_eq(set("c", "v1", 0, 0), MEMCACHED_SUCCESS);
    cr_assert_eq(memcached_mget(mc, keys, lens, 1), MEMCACHED_SUCCESS);
    memcached_result_st *res = memcached_fetch_result(mc, NULL, &rc);
    cr_assert_not_null(res);
    cas = memcached_result_cas(res);
    cr_assert_neq(cas, 0);
    memcached_result_free(res);
    while (memcached_fetch_result(mc, NULL, &rc) != NULL) {
    }

    cr_assert_eq(memcached_cas(mc, "c", 1, "v2", 2, 0, 0, cas), MEMCACHED_SUCCESS);
    assert_value("c", "v2", 0);
    /* the old CAS is stale now */
    cr_assert_eq(memcached_cas(mc, "c", 1, "v3", 2, 0, 0, cas), MEMCACHED_DATA_EXISTS);
    assert_value("c", "v2", 0);
    cr_assert_eq(memcached_cas(mc, "gone", 4, "v", 1, 0, 0, cas), MEMCACHED_NOTFOUND);
}

Test(libmemcached, delete)
{
    cr_assert_eq(set("d", "x", 0, 0), MEMCACHED_SUCCESS);
    cr_assert_eq(memcached_delete(mc, "d", 1, 0), MEMCACHED_SUCCESS);
    assert_miss("d");
    cr_assert_eq(memcached_delete(mc, "d", 1, 0), MEMCACHED_NOTFOUND);
}

Test(libmemcached, incr_decr)
{
    uint64_t v = 0;

    cr_assert_eq(set("n", "10", 0, 0), MEMCACHED_SUCCESS);
    cr_assert_eq(memcached_increment(mc, "n", 1, 5, &v), MEMCACHED_SUCCESS);
    cr_assert_eq(v, 15);
    cr_assert_eq(memcached_decrement(mc, "n", 1, 20, &v), MEMCACHED_SUCCESS);
    cr_assert_eq(v, 0);
    cr_assert_eq(memcached_increment(mc, "n", 1, 7, &v), MEMCACHED_SUCCESS);
    cr_assert_eq(v, 7);
    cr_assert_eq(memcached_increment(mc, "missing", 7, 1, &v), MEMCACHED_NOTFOUND);
    cr_assert_eq(set("s", "abc", 0, 0), MEMCACHED_SUCCESS);
    cr_assert_neq(memcached_increment(mc, "s", 1, 1, &v), MEMCACHED_SUCCESS);
}

Test(libmemcached, touch)
{
    cr_assert_eq(set("t", "x", 0, 0), MEMCACHED_SUCCESS);
    cr_assert_eq(memcached_touch(mc, "t", 1, 100), MEMCACHED_SUCCESS);
    assert_value("t", "x", 0);
    cr_assert_eq(memcached_touch(mc, "nope", 4, 100), MEMCACHED_NOTFOUND);
}

Test(libmemcached, flush)
{
    cr_assert_eq(set("f1", "x", 0, 0), MEMCACHED_SUCCESS);
    cr_assert_eq(set("f2", "y", 0, 0), MEMCACHED_SUCCESS);
    cr_assert_eq(memcached_flush(mc, 0), MEMCACHED_SUCCESS);
    assert_miss("f1");
    assert_miss("f2");
    /* storing right after a flush works (same second) */
    cr_assert_eq(set("f1", "z", 0, 0), MEMCACHED_SUCCESS);
    assert_value("f1", "z", 0);
}

Test(libmemcached, expiry)
{
    memcached_return_t rc;
    uint32_t flags;
    size_t len;
    char *v;

    cr_assert_eq(set("e", "soon", 1, 0), MEMCACHED_SUCCESS);
    cr_assert_eq(set("keep", "long", 1000, 0), MEMCACHED_SUCCESS);
    /* poll until the item expires: memcached's clock ticks once a second,
     * so this takes 1..2 s; give it 4 s */
    long long deadline = mcd_now_ms() + 4000;
    for (;;) {
        v = get("e", &len, &flags, &rc);
        if (v == NULL)
            break;
        free(v);
        cr_assert_lt(mcd_now_ms(), deadline, "item with exptime 1 still there after 4 s");
        mcd_poll_pause();
        mcd_poll_pause();
    }
    cr_assert_eq(rc, MEMCACHED_NOTFOUND);
    assert_value("keep", "long", 0);
}

static bool stat_cb_seen(const char *want, memcached_stat_st *st)
{
    memcached_return_t rc;
    char *v = memcached_stat_get_value(mc, st, want, &rc);
    bool ok = v != NULL && rc == MEMCACHED_SUCCESS;

    free(v);
    return ok;
}

Test(libmemcached, stats)
{
    static const char *names[] = {"curr_items", "total_items", "cmd_get", "get_hits", "get_misses", "bytes",
                                  "evictions", "curr_connections", "limit_maxbytes", "threads", "pid", "uptime"};
    memcached_return_t rc;

    cr_assert_eq(set("s1", "x", 0, 0), MEMCACHED_SUCCESS);
    assert_value("s1", "x", 0);
    assert_miss("s2");
    memcached_stat_st *st = memcached_stat(mc, NULL, &rc);
    cr_assert_eq(rc, MEMCACHED_SUCCESS, "memcached_stat: %s", memcached_strerror(mc, rc));
    cr_assert_not_null(st);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        cr_expect(stat_cb_seen(names[i], st), "stat %s missing", names[i]);
    cr_expect_eq(st[0].curr_items, 1);
    cr_expect_geq(st[0].total_items, 1);
    cr_expect_geq(st[0].get_hits, 1);
    cr_expect_geq(st[0].get_misses, 1);
    cr_expect_eq(st[0].limit_maxbytes, 64ULL * 1024 * 1024);
    cr_expect_eq(st[0].threads, 4);
    cr_expect_gt(st[0].pid, 0);
    memcached_stat_free(mc, st);
}

Test(libmemcached, version)
{
    cr_assert_eq(memcached_version(mc), MEMCACHED_SUCCESS);
    const memcached_instance_st *in = memcached_server_instance_by_position(mc, 0);
    cr_assert_not_null(in);
    /* any parsed version number will do, it just has to be "x.y.z" */
    cr_expect(memcached_server_major_version(in) != UINT8_MAX, "version not parsed");
}
