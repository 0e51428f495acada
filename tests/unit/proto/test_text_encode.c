/*
 * test_text_encode.c - the exact bytes of every text reply.
 */
#include "config.h"

#include "proto/reply.h"
#include "proto/text.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int releases;

static void count_release(void *owner)
{
    (void)owner;
    releases++;
}

static struct reply r;

static void setup(void)
{
    releases = 0;
    reply_init(&r, count_release);
}

static void teardown(void)
{
    reply_deinit(&r);
}

static void assert_reply(const char *want, size_t wantlen)
{
    size_t n, total = 0;
    const struct iovec *iov = reply_pending(&r, &n);
    char *got = malloc(r.bytes + 1);

    cr_assert_not_null(got);
    for (size_t i = 0; i < n; i++) {
        memcpy(got + total, iov[i].iov_base, iov[i].iov_len);
        total += iov[i].iov_len;
    }
    got[total] = '\0';
    cr_assert_eq(total, wantlen, "got %zu bytes [%s], want %zu [%s]", total, got, wantlen, want);
    cr_assert(memcmp(got, want, wantlen) == 0, "got [%s] want [%s]", got, want);
    free(got);
}

#define ASSERT_REPLY(lit) assert_reply((lit), sizeof(lit) - 1)

static void encode_status(enum mc_cmd cmd, enum mc_status st)
{
    struct mc_result res;

    memset(&res, 0, sizeof(res));
    res.status = st;
    cr_assert_eq(text_encode_result(&r, cmd, &res), 0);
}

TestSuite(text_encode, .init = setup, .fini = teardown);

Test(text_encode, statuses)
{
    static const struct {
        enum mc_cmd cmd;
        enum mc_status st;
        const char *want;
    } cases[] = {
        {MC_CMD_SET, MC_STORED, "STORED\r\n"},
        {MC_CMD_ADD, MC_NOT_STORED, "NOT_STORED\r\n"},
        {MC_CMD_CAS, MC_EXISTS, "EXISTS\r\n"},
        {MC_CMD_CAS, MC_NOT_FOUND, "NOT_FOUND\r\n"},
        {MC_CMD_DELETE, MC_DELETED, "DELETED\r\n"},
        {MC_CMD_DELETE, MC_NOT_FOUND, "NOT_FOUND\r\n"},
        {MC_CMD_TOUCH, MC_TOUCHED, "TOUCHED\r\n"},
        {MC_CMD_GET, MC_MISS, ""},
        {MC_CMD_GET, MC_END, "END\r\n"},
        {MC_CMD_INCR, MC_NON_NUMERIC, "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"},
        {MC_CMD_INCR, MC_INVALID_DELTA, "CLIENT_ERROR invalid numeric delta argument\r\n"},
        {MC_CMD_SET, MC_TOO_LARGE, "SERVER_ERROR object too large for cache\r\n"},
        {MC_CMD_SET, MC_NO_MEMORY, "SERVER_ERROR out of memory storing object\r\n"},
        {MC_CMD_FLUSH_ALL, MC_FLUSHED, "OK\r\n"},
        {MC_CMD_VERBOSITY, MC_OK, "OK\r\n"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        reply_clear(&r);
        encode_status(cases[i].cmd, cases[i].st);
        assert_reply(cases[i].want, strlen(cases[i].want));
    }
}

Test(text_encode, numbers)
{
    struct mc_result res;

    memset(&res, 0, sizeof(res));
    res.status = MC_NUMBER;
    res.number = 0;
    cr_assert_eq(text_encode_result(&r, MC_CMD_INCR, &res), 0);
    res.number = 18446744073709551615u;
    cr_assert_eq(text_encode_result(&r, MC_CMD_DECR, &res), 0);
    res.number = 42;
    cr_assert_eq(text_encode_result(&r, MC_CMD_INCR, &res), 0);
    ASSERT_REPLY("0\r\n18446744073709551615\r\n42\r\n");
}

static struct mc_result value(const char *key, uint32_t flags, const char *data, uint64_t cas, void *owner)
{
    struct mc_result res;

    memset(&res, 0, sizeof(res));
    res.status = MC_VALUE;
    res.key = key;
    res.nkey = strlen(key);
    res.flags = flags;
    res.data = data;
    res.nbytes = (uint32_t)strlen(data);
    res.cas = cas;
    res.owner = owner;
    return res;
}

Test(text_encode, value_without_cas)
{
    static int owner;
    const char *data = "hello";
    struct mc_result res = value("foo", 4294967295u, data, 99, &owner);
    size_t n;

    cr_assert_eq(text_encode_result(&r, MC_CMD_GET, &res), 0);
    encode_status(MC_CMD_GET, MC_END);
    ASSERT_REPLY("VALUE foo 4294967295 5\r\nhello\r\nEND\r\n");
    /* the value is referenced, not copied; "\r\nEND\r\n" is one merged copy */
    const struct iovec *iov = reply_pending(&r, &n);
    cr_assert_eq(n, 3);
    cr_assert_eq(iov[1].iov_base, (void *)data);
    cr_assert_eq(r.owner[r.head + 1], &owner);
    cr_assert_eq(releases, 0);
    reply_consume(&r, r.bytes);
    cr_assert_eq(releases, 1);
}

Test(text_encode, value_with_cas)
{
    struct mc_result a = value("a", 0, "1", 18446744073709551615u, NULL);
    struct mc_result b = value("bb", 7, "", 24, NULL);

    cr_assert_eq(text_encode_result(&r, MC_CMD_GETS, &a), 0);
    cr_assert_eq(text_encode_result(&r, MC_CMD_GATS, &b), 0);
    encode_status(MC_CMD_GATS, MC_END);
    ASSERT_REPLY("VALUE a 0 1 18446744073709551615\r\n1\r\nVALUE bb 7 0 24\r\n\r\nEND\r\n");
    reply_clear(&r);
    cr_assert_eq(text_encode_result(&r, MC_CMD_GAT, &b), 0);
    ASSERT_REPLY("VALUE bb 7 0\r\n\r\n");
}

Test(text_encode, value_with_long_key)
{
    char key[251];
    char want[400];
    int owner;

    memset(key, 'k', 250);
    key[250] = '\0';
    struct mc_result res = value(key, 1, "v", 5, &owner);
    cr_assert_eq(text_encode_result(&r, MC_CMD_GETS, &res), 0);
    int n = snprintf(want, sizeof(want), "VALUE %s 1 1 5\r\nv\r\n", key);
    assert_reply(want, (size_t)n);
    reply_deinit(&r);
    cr_assert_eq(releases, 1);
    reply_init(&r, count_release);
}

Test(text_encode, many_values_merge_between_refs)
{
    struct mc_result res = value("k", 0, "v", 0, NULL);
    size_t n;

    for (int i = 0; i < 100; i++)
        cr_assert_eq(text_encode_result(&r, MC_CMD_GET, &res), 0);
    encode_status(MC_CMD_GET, MC_END);
    reply_pending(&r, &n);
    /* header, value, then ("\r\n" + next header) merged: 2 per hit + end */
    cr_assert_eq(n, 201, "got %zu iovecs", n);
    cr_assert_eq(r.bytes, 100 * (13 + 3) + 5);
}

Test(text_encode, version)
{
    struct mc_result res;

    cr_assert_eq(text_encode_version(&r, "1.6.18"), 0);
    memset(&res, 0, sizeof(res));
    res.status = MC_VERSION;
    res.data = "9.9.9-mcd";
    res.nbytes = 9;
    cr_assert_eq(text_encode_result(&r, MC_CMD_VERSION, &res), 0);
    ASSERT_REPLY("VERSION 1.6.18\r\nVERSION 9.9.9-mcd\r\n");
    reply_clear(&r);
    res.data = NULL;
    cr_assert_eq(text_encode_result(&r, MC_CMD_VERSION, &res), 0);
    ASSERT_REPLY("VERSION " PACKAGE_VERSION "\r\n");
}

Test(text_encode, errors_and_stats)
{
    cr_assert_eq(text_encode_error(&r), 0);
    cr_assert_eq(text_encode_client_error(&r, "bad command line format"), 0);
    cr_assert_eq(text_encode_server_error(&r, "out of memory writing get response"), 0);
    cr_assert_eq(text_encode_stat(&r, "pid", "%d", 1234), 0);
    cr_assert_eq(text_encode_stat(&r, "version", "%s", "1.6.18"), 0);
    ASSERT_REPLY("ERROR\r\n"
                 "CLIENT_ERROR bad command line format\r\n"
                 "SERVER_ERROR out of memory writing get response\r\n"
                 "STAT pid 1234\r\n"
                 "STAT version 1.6.18\r\n");
}

Test(text_encode, long_stat_value)
{
    char big[1000];

    memset(big, 'q', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    cr_assert_eq(text_encode_stat(&r, "x", "%s", big), 0);
    cr_assert_eq(r.bytes, 5 + 1 + 1 + 999 + 2);
}

/* Keys of every length from 1 to 250 (the short-key copy), every width of
 * flags, length and cas, across many arena blocks: the bytes of snprintf. */
Test(text_encode, value_headers_match_printf)
{
    static char key[251];
    static char data[300];
    static char want[1000];
    static const uint32_t flagv[] = {0, 9, 10, 99, 100, 65535, 4294967295u};
    static const uint64_t casv[] = {0, 1, 10, 4294967296u, 18446744073709551615u};
    int owner;
    size_t nvalues = 0;

    memset(data, 'd', sizeof(data));
    for (size_t nkey = 1; nkey <= 250; nkey++) {
        for (size_t i = 0; i < nkey; i++)
            key[i] = (char)('a' + (nkey + i) % 26);
        key[nkey] = '\0';
        uint32_t flags = flagv[nkey % 7];
        uint32_t nbytes = (uint32_t)(nkey % 3 == 0 ? 0 : nkey);
        uint64_t cas = casv[nkey % 5];
        bool with_cas = nkey % 2 == 0;
        struct mc_result res = value(key, flags, "", cas, &owner);
        res.data = data;
        res.nbytes = nbytes;
        reply_clear(&r);
        cr_assert_eq(text_encode_result(&r, with_cas ? MC_CMD_GETS : MC_CMD_GET, &res), 0);
        int n = with_cas ? snprintf(want, sizeof(want), "VALUE %s %u %u %llu\r\n%.*s\r\n", key, flags, nbytes,
                                    (unsigned long long)cas, (int)nbytes, data)
                         : snprintf(want, sizeof(want), "VALUE %s %u %u\r\n%.*s\r\n", key, flags, nbytes,
                                    (int)nbytes, data);
        assert_reply(want, (size_t)n);
        nvalues++;
    }
    reply_clear(&r);
    cr_assert_eq(releases, (int)nvalues);
    /* 2,000 values with 250-byte keys in one reply: 100+ arena blocks */
    releases = 0;
    memset(key, 'k', 250);
    key[250] = '\0';
    struct mc_result big = value(key, 4294967295u, "v", 18446744073709551615u, &owner);
    for (int i = 0; i < 2000; i++)
        cr_assert_eq(text_encode_result(&r, MC_CMD_GETS, &big), 0);
    encode_status(MC_CMD_GETS, MC_END);
    int one = snprintf(want, sizeof(want), "VALUE %s 4294967295 1 18446744073709551615\r\nv\r\n", key);
    char *all = malloc((size_t)one * 2000 + 6);
    cr_assert_not_null(all);
    for (int i = 0; i < 2000; i++)
        memcpy(all + (size_t)i * (size_t)one, want, (size_t)one);
    memcpy(all + (size_t)one * 2000, "END\r\n", 5);
    assert_reply(all, (size_t)one * 2000 + 5);
    free(all);
    cr_assert_gt(reply_arena_bytes(&r), 100 * 4096);
    reply_consume(&r, r.bytes);
    cr_assert_eq(releases, 2000);
}
