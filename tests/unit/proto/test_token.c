/*
 * test_token.c - number parsing with memcached's safe_strto* rules, and
 * decimal formatting.
 */
#include "config.h"

#include "proto/token.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static bool u64(const char *s, uint64_t *v)
{
    return token_parse_u64(s, strlen(s), v);
}

static bool u32(const char *s, uint32_t *v)
{
    return token_parse_u32(s, strlen(s), v);
}

static bool i32(const char *s, int32_t *v)
{
    return token_parse_i32(s, strlen(s), v);
}

Test(token, u64)
{
    uint64_t v = 7;

    cr_assert(u64("0", &v) && v == 0);
    cr_assert(u64("+1", &v) && v == 1);
    cr_assert(u64("-0", &v) && v == 0);
    cr_assert(u64("\t1", &v) && v == 1);
    cr_assert(u64("1\t", &v) && v == 1);
    cr_assert(u64("5\tjunk", &v) && v == 5);
    cr_assert(u64("18446744073709551615", &v) && v == UINT64_MAX);
    cr_assert(u64("-18446744073709551615", &v) && v == 1);
    v = 7;
    cr_assert_not(u64("18446744073709551616", &v));
    cr_assert_not(u64("-1", &v));
    cr_assert_not(u64("-9223372036854775808", &v));
    cr_assert_not(u64("", &v));
    cr_assert_not(u64("+", &v));
    cr_assert_not(u64("abc", &v));
    cr_assert_not(u64("1x", &v));
    cr_assert_not(u64("0x10", &v));
    cr_assert_not(u64("\t", &v));
    /* the length bounds the token: "12" of "123" */
    cr_assert(token_parse_u64("123", 2, &v) && v == 12);
}

Test(token, u32_truncates)
{
    uint32_t v;

    cr_assert(u32("4294967295", &v) && v == 4294967295u);
    cr_assert(u32("4294967296", &v) && v == 0);
    cr_assert(u32("4294967297", &v) && v == 1);
    cr_assert(u32("18446744073709551615", &v) && v == 4294967295u);
    cr_assert_not(u32("-1", &v));
    cr_assert_not(u32("18446744073709551616", &v));
}

Test(token, i32_truncates)
{
    int32_t v;

    cr_assert(i32("0", &v) && v == 0);
    cr_assert(i32("-1", &v) && v == -1);
    cr_assert(i32("2147483647", &v) && v == INT32_MAX);
    cr_assert(i32("2147483648", &v) && v == INT32_MIN);
    cr_assert(i32("4294967306", &v) && v == 10);
    cr_assert(i32("-2147483649", &v) && v == INT32_MAX);
    cr_assert(i32("9223372036854775807", &v) && v == -1);
    cr_assert(i32("-9223372036854775808", &v) && v == 0);
    cr_assert_not(i32("9223372036854775808", &v));
    cr_assert_not(i32("-9223372036854775809", &v));
    cr_assert_not(i32("1x", &v));
    cr_assert_not(i32("", &v));
    cr_assert(i32("+3", &v) && v == 3);
}

/* 1.6.45's strict rules for delta, cas unique, verbosity, touch/gat exptime */
Test(token, digits_only)
{
    uint64_t u;
    uint32_t u32;
    int32_t i;
    int64_t l;

    cr_assert(token_parse_digits_u64("18446744073709551615", 20, &u) && u == UINT64_MAX);
    cr_assert(token_parse_digits_u64("007", 3, &u) && u == 7);
    cr_assert_not(token_parse_digits_u64("18446744073709551616", 20, &u));
    cr_assert_not(token_parse_digits_u64("+1", 2, &u));
    cr_assert_not(token_parse_digits_u64("-0", 2, &u));
    cr_assert_not(token_parse_digits_u64("\t1", 2, &u));
    cr_assert_not(token_parse_digits_u64("1\t", 2, &u));
    cr_assert_not(token_parse_digits_u64("", 0, &u));
    cr_assert(token_parse_digits_u32("4294967295", 10, &u32) && u32 == UINT32_MAX);
    cr_assert_not(token_parse_digits_u32("4294967296", 10, &u32));
    cr_assert(token_parse_digits_i32("-2147483648", 11, &i) && i == INT32_MIN);
    cr_assert(token_parse_digits_i32("2147483647", 10, &i) && i == INT32_MAX);
    cr_assert(token_parse_digits_i32("-0", 2, &i) && i == 0);
    cr_assert_not(token_parse_digits_i32("2147483648", 10, &i));
    cr_assert_not(token_parse_digits_i32("-2147483649", 11, &i));
    cr_assert_not(token_parse_digits_i32("-", 1, &i));
    cr_assert_not(token_parse_digits_i32("+1", 2, &i));
    cr_assert(token_parse_digits_i64("-9223372036854775808", 20, &l) && l == INT64_MIN);
    cr_assert_not(token_parse_digits_i64("9223372036854775808", 19, &l));
}

Test(token, fmt_u64)
{
    char buf[TOKEN_U64_DIGITS + 1];
    char want[32];
    uint64_t vals[] = {0, 1, 9, 10, 99, 100, 101, 999, 1000, 12345, 4294967295u, 4294967296u,
                       10000000000000000000u, UINT64_MAX};

    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        size_t n = token_fmt_u64(buf, vals[i]);
        buf[n] = '\0';
        snprintf(want, sizeof(want), "%llu", (unsigned long long)vals[i]);
        cr_assert_str_eq(buf, want);
    }
    /* and every value up to 100000 */
    for (uint64_t v = 0; v < 100000; v++) {
        size_t n = token_fmt_u64(buf, v);
        buf[n] = '\0';
        snprintf(want, sizeof(want), "%llu", (unsigned long long)v);
        cr_assert_str_eq(buf, want);
    }
}
