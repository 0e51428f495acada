/*
 * test_libmemcached_binary.c - drives the server with libmemcached over the
 * binary protocol (MEMCACHED_BEHAVIOR_BINARY_PROTOCOL on): the opcodes a
 * real binary client sends, including the quiet ones it uses for noreply
 * and multi-gets. Each test starts its own server on its own port (-B auto,
 * the default).
 */
#include "config.h"

#include <criterion/criterion.h>
#include <libmemcached/memcached.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/libmc_client.h"

static void setup(void)
{
    libmc_start(true);
}

TestSuite(libmemcached_binary, .init = setup, .fini = libmc_stop, .timeout = 30);

/* The CAS of key, read with a one-key mget (a binary GetK). */
static uint64_t cas_of(const char *key)
{
    const char *keys[] = {key};
    size_t lens[] = {strlen(key)};
    memcached_return_t rc;
    uint64_t cas;

    cr_assert_eq(memcached_mget(mc, keys, lens, 1), MEMCACHED_SUCCESS);
    memcached_result_st *res = memcached_fetch_result(mc, NULL, &rc);
    cr_assert_not_null(res, "gets %s: %s", key, memcached_strerror(mc, rc));
    cas = memcached_result_cas(res);
    memcached_result_free(res);
    while ((res = memcached_fetch_result(mc, NULL, &rc)) != NULL)
        memcached_result_free(res);
    return cas;
}

Test(libmemcached_binary, set_get)
{
    cr_assert_eq(set("k1", "hello", 0, 42), MEMCACHED_SUCCESS);
    assert_value("k1", "hello", 42);
    cr_assert_eq(set("k1", "", 0, 0xffffffffu), MEMCACHED_SUCCESS);
    assert_value("k1", "", 0xffffffffu);
    assert_miss("nope");

    /* binary keys and values are raw bytes */
    static const char val[] = "a\r\nb\0c\x80";
    cr_assert_eq(memcached_set(mc, "bin", 3, val, sizeof(val), 0, 7), MEMCACHED_SUCCESS);
    memcached_return_t rc;
    uint32_t flags;
    size_t len;
    char *v = get("bin", &len, &flags, &rc);
    cr_assert_eq(rc, MEMCACHED_SUCCESS);
    cr_assert_eq(len, sizeof(val));
    cr_assert_arr_eq(v, val, sizeof(val));
    free(v);

    static char big[500000];
    memset(big, 'z', sizeof(big) - 1);
    cr_assert_eq(set("big", big, 0, 1), MEMCACHED_SUCCESS);
    assert_value("big", big, 1);
}

Test(libmemcached_binary, multiget)
{
    const char *keys[] = {"m1", "m2", "missing", "m3", "missing2"};
    size_t lens[] = {2, 2, 7, 2, 8};
    bool seen[4] = {false};
    memcached_return_t rc;
    int n = 0;

    cr_assert_eq(set("m1", "one", 0, 1), MEMCACHED_SUCCESS);
    cr_assert_eq(set("m2", "two", 0, 2), MEMCACHED_SUCCESS);
    cr_assert_eq(set("m3", "three", 0, 3), MEMCACHED_SUCCESS);
    memcached_result_st resbuf;
    memcached_result_st *res = memcached_result_create(mc, &resbuf);
    cr_assert_not_null(res);
    /* binary mget: GetKQ for every key, then a Noop to end the batch */
    cr_assert_eq(memcached_mget(mc, keys, lens, 5), MEMCACHED_SUCCESS);
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
        cr_assert_neq(memcached_result_cas(res), 0, "binary get replies carry the CAS");
        n++;
    }
    cr_assert_eq(n, 3);
    memcached_result_free(res);
    /* the connection is still in step */
    assert_value("m2", "two", 2);
}

Test(libmemcached_binary, add_replace)
{
    cr_assert_eq(memcached_add(mc, "a", 1, "1", 1, 0, 0), MEMCACHED_SUCCESS);
    cr_assert_eq(memcached_add(mc, "a", 1, "2", 1, 0, 0), MEMCACHED_DATA_EXISTS);
    assert_value("a", "1", 0);
    cr_assert_eq(memcached_replace(mc, "b", 1, "2", 1, 0, 0), MEMCACHED_NOTFOUND);
    assert_miss("b");
    cr_assert_eq(memcached_replace(mc, "a", 1, "3", 1, 0, 5), MEMCACHED_SUCCESS);
    assert_value("a", "3", 5);
}

Test(libmemcached_binary, append_prepend)
{
    cr_assert_eq(set("ap", "mid", 0, 9), MEMCACHED_SUCCESS);
    cr_assert_eq(memcached_append(mc, "ap", 2, "-end", 4, 0, 0), MEMCACHED_SUCCESS);
    cr_assert_eq(memcached_prepend(mc, "ap", 2, "start-", 6, 0, 0), MEMCACHED_SUCCESS);
    assert_value("ap", "start-mid-end", 9);
    cr_assert_eq(memcached_append(mc, "none", 4, "x", 1, 0, 0), MEMCACHED_NOTSTORED);
    cr_assert_eq(memcached_prepend(mc, "none", 4, "x", 1, 0, 0), MEMCACHED_NOTSTORED);
    assert_miss("none");
}

Test(libmemcached_binary, cas)
{
    uint64_t cas;

    cr_assert_eq(memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_SUPPORT_CAS, 1), MEMCACHED_SUCCESS);
    cr_assert_eq(set("c", "v1", 0, 0), MEMCACHED_SUCCESS);
    cas = cas_of("c");
    cr_assert_neq(cas, 0);

    cr_assert_eq(memcached_cas(mc, "c", 1, "v2", 2, 0, 3, cas), MEMCACHED_SUCCESS);
    assert_value("c", "v2", 3);
    cr_assert_neq(cas_of("c"), cas, "a store must change the CAS");
    /* the old CAS is stale now */
    cr_assert_eq(memcached_cas(mc, "c", 1, "v3", 2, 0, 0, cas), MEMCACHED_DATA_EXISTS);
    assert_value("c", "v2", 3);
    cr_assert_eq(memcached_cas(mc, "gone", 4, "v", 1, 0, 0, cas), MEMCACHED_NOTFOUND);
    assert_miss("gone");
}

Test(libmemcached_binary, delete)
{
    cr_assert_eq(set("d", "x", 0, 0), MEMCACHED_SUCCESS);
    cr_assert_eq(memcached_delete(mc, "d", 1, 0), MEMCACHED_SUCCESS);
    assert_miss("d");
    cr_assert_eq(memcached_delete(mc, "d", 1, 0), MEMCACHED_NOTFOUND);
}

Test(libmemcached_binary, incr_decr)
{
    uint64_t v = 0;

    cr_assert_eq(set("n", "10", 0, 0), MEMCACHED_SUCCESS);
    cr_assert_eq(memcached_increment(mc, "n", 1, 5, &v), MEMCACHED_SUCCESS);
    cr_assert_eq(v, 15);
    cr_assert_eq(memcached_decrement(mc, "n", 1, 20, &v), MEMCACHED_SUCCESS);
    cr_assert_eq(v, 0, "decr floors at 0");
    cr_assert_eq(memcached_increment(mc, "n", 1, 7, &v), MEMCACHED_SUCCESS);
    cr_assert_eq(v, 7);
    /* plain increment in binary sends exptime 0xffffffff: no create */
    cr_assert_eq(memcached_increment(mc, "missing", 7, 1, &v), MEMCACHED_NOTFOUND);
    assert_miss("missing");
    cr_assert_eq(set("big", "18446744073709551615", 0, 0), MEMCACHED_SUCCESS);
    cr_assert_eq(memcached_increment(mc, "big", 3, 2, &v), MEMCACHED_SUCCESS);
    cr_assert_eq(v, 1, "incr wraps at 2^64");
    cr_assert_eq(set("s", "abc", 0, 0), MEMCACHED_SUCCESS);
    cr_assert_neq(memcached_increment(mc, "s", 1, 1, &v), MEMCACHED_SUCCESS);
    assert_value("s", "abc", 0);
}

Test(libmemcached_binary, incr_decr_with_initial)
{
    uint64_t v = 0;

    /* a missing key is created with the initial value (no delta applied) */
    cr_assert_eq(memcached_increment_with_initial(mc, "i", 1, 5, 100, 0, &v), MEMCACHED_SUCCESS);
    cr_assert_eq(v, 100);
    assert_value("i", "100", 0);
    cr_assert_eq(memcached_increment_with_initial(mc, "i", 1, 5, 100, 0, &v), MEMCACHED_SUCCESS);
    cr_assert_eq(v, 105);
    cr_assert_eq(memcached_decrement_with_initial(mc, "d", 1, 5, 42, 0, &v), MEMCACHED_SUCCESS);
    cr_assert_eq(v, 42);
    cr_assert_eq(memcached_decrement_with_initial(mc, "d", 1, 5, 42, 0, &v), MEMCACHED_SUCCESS);
    cr_assert_eq(v, 37);
    assert_value("d", "37", 0);

    /* MEMCACHED_EXPIRATION_NOT_ADD (0xffffffff): do not create */
    cr_assert_eq(memcached_increment_with_initial(mc, "ni", 2, 1, 9, MEMCACHED_EXPIRATION_NOT_ADD, &v),
                 MEMCACHED_NOTFOUND);
    assert_miss("ni");
    cr_assert_eq(memcached_decrement_with_initial(mc, "nd", 2, 1, 9, MEMCACHED_EXPIRATION_NOT_ADD, &v),
                 MEMCACHED_NOTFOUND);
    assert_miss("nd");
    /* ... but an existing key is still changed */
    cr_assert_eq(memcached_increment_with_initial(mc, "i", 1, 1, 9, MEMCACHED_EXPIRATION_NOT_ADD, &v),
                 MEMCACHED_SUCCESS);
    cr_assert_eq(v, 106);
}

Test(libmemcached_binary, touch)
{
    cr_assert_eq(set("t", "x", 1, 3), MEMCACHED_SUCCESS);
    cr_assert_eq(memcached_touch(mc, "t", 1, 1000), MEMCACHED_SUCCESS);
    assert_value("t", "x", 3);
    cr_assert_eq(memcached_touch(mc, "nope", 4, 100), MEMCACHED_NOTFOUND);
    /* the new exptime holds: the item outlives its original 1 s */
    long long until = mcd_now_ms() + 2100;
    while (mcd_now_ms() < until)
        mcd_poll_pause();
    assert_value("t", "x", 3);
}

Test(libmemcached_binary, flush)
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

Test(libmemcached_binary, expiry)
{
    memcached_return_t rc;
    uint32_t flags;
    size_t len;
    char *v;

    cr_assert_eq(set("e", "soon", 1, 0), MEMCACHED_SUCCESS);
    cr_assert_eq(set("keep", "long", 1000, 0), MEMCACHED_SUCCESS);
    /* poll until the item expires: the server clock ticks once a second,
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

static long long stat_value(memcached_stat_st *st, const char *name)
{
    memcached_return_t rc;
    char *v = memcached_stat_get_value(mc, st, name, &rc);
    long long n;

    cr_assert_not_null(v, "stat %s missing", name);
    cr_assert_eq(rc, MEMCACHED_SUCCESS);
    n = atoll(v);
    free(v);
    return n;
}

Test(libmemcached_binary, stat)
{
    memcached_return_t rc;
    memcached_stat_st *st;
    long long items0, hits0, misses0;

    st = memcached_stat(mc, NULL, &rc);
    cr_assert_eq(rc, MEMCACHED_SUCCESS, "memcached_stat: %s", memcached_strerror(mc, rc));
    cr_assert_not_null(st);
    items0 = stat_value(st, "curr_items");
    hits0 = stat_value(st, "get_hits");
    misses0 = stat_value(st, "get_misses");
    cr_expect_gt(stat_value(st, "pid"), 0);
    cr_expect_eq(st[0].limit_maxbytes, 64ULL * 1024 * 1024);
    memcached_stat_free(mc, st);

    cr_assert_eq(set("s1", "x", 0, 0), MEMCACHED_SUCCESS);
    cr_assert_eq(set("s2", "y", 0, 0), MEMCACHED_SUCCESS);
    assert_value("s1", "x", 0);
    assert_value("s2", "y", 0);
    assert_value("s1", "x", 0);
    assert_miss("s3");

    st = memcached_stat(mc, NULL, &rc);
    cr_assert_eq(rc, MEMCACHED_SUCCESS, "memcached_stat: %s", memcached_strerror(mc, rc));
    cr_expect_eq(stat_value(st, "curr_items"), items0 + 2);
    cr_expect_eq(stat_value(st, "get_hits"), hits0 + 3);
    cr_expect_eq(stat_value(st, "get_misses"), misses0 + 1);
    cr_expect_eq(st[0].curr_items, (uint32_t)(items0 + 2));
    cr_expect_eq(st[0].get_hits, (uint64_t)(hits0 + 3));
    memcached_stat_free(mc, st);

    /* a stat group by name: the "settings" listing ends like any other */
    st = memcached_stat(mc, (char *)"settings", &rc);
    cr_expect_eq(rc, MEMCACHED_SUCCESS, "stat settings: %s", memcached_strerror(mc, rc));
    memcached_stat_free(mc, st);
    /* and the connection is still in step */
    assert_value("s2", "y", 0);
}

Test(libmemcached_binary, version)
{
    cr_assert_eq(memcached_version(mc), MEMCACHED_SUCCESS);
    const memcached_instance_st *in = memcached_server_instance_by_position(mc, 0);
    cr_assert_not_null(in);
    cr_expect(memcached_server_major_version(in) != UINT8_MAX, "version not parsed");
    cr_expect_eq(memcached_server_major_version(in), 1);
}

/* noreply in binary mode: libmemcached sends the quiet opcodes (SetQ,
 * DeleteQ, ...) and expects silence on success. */
Test(libmemcached_binary, noreply_quiet)
{
    char key[32], val[32];
    const int n = 200;

    cr_assert_eq(memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_NOREPLY, 1), MEMCACHED_SUCCESS);
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "q%d", i);
        snprintf(val, sizeof(val), "value-%d", i);
        memcached_return_t rc = set(key, val, 0, (uint32_t)i);
        cr_assert(rc == MEMCACHED_SUCCESS || rc == MEMCACHED_BUFFERED, "quiet set %d: %s", i,
                  memcached_strerror(mc, rc));
    }
    cr_assert_eq(memcached_delete(mc, "q7", 2, 0), MEMCACHED_SUCCESS);
    cr_assert_eq(memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_NOREPLY, 0), MEMCACHED_SUCCESS);

    /* every quiet store landed (and nothing extra is queued on the connection) */
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "q%d", i);
        snprintf(val, sizeof(val), "value-%d", i);
        if (i == 7)
            assert_miss(key);
        else
            assert_value(key, val, (uint32_t)i);
    }
    memcached_return_t rc;
    memcached_stat_st *st = memcached_stat(mc, NULL, &rc);
    cr_assert_eq(rc, MEMCACHED_SUCCESS);
    cr_expect_eq(stat_value(st, "curr_items"), n - 1);
    memcached_stat_free(mc, st);
}
