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

/* Every power of ten and its neighbours, in both widths; nothing is
 * written past the digits returned. */
Test(token, fmt_boundaries_and_no_overwrite)
{
    char buf[TOKEN_U64_DIGITS + 8];
    char want[32];
    uint64_t p = 1;

    for (int k = 0; k < 20; k++, p *= 10) {
        uint64_t vals[] = {p - 1, p, p + 1};
        for (size_t i = 0; i < 3; i++) {
            memset(buf, '#', sizeof(buf));
            size_t n = token_fmt_u64(buf, vals[i]);
            snprintf(want, sizeof(want), "%llu", (unsigned long long)vals[i]);
            cr_assert_eq(n, strlen(want), "%s: %zu digits", want, n);
            cr_assert(memcmp(buf, want, n) == 0, "%s", want);
            cr_assert_eq(buf[n], '#', "%s: wrote past its digits", want);
            if (vals[i] <= UINT32_MAX) {
                memset(buf, '#', sizeof(buf));
                n = token_fmt_u32(buf, (uint32_t)vals[i]);
                cr_assert_eq(n, strlen(want), "u32 %s: %zu digits", want, n);
                cr_assert(memcmp(buf, want, n) == 0, "u32 %s", want);
                cr_assert_eq(buf[n], '#', "u32 %s: wrote past its digits", want);
            }
        }
    }
    memset(buf, '#', sizeof(buf));
    cr_assert_eq(token_fmt_u64(buf, UINT64_MAX), 20);
    cr_assert(memcmp(buf, "18446744073709551615#", 21) == 0);
    cr_assert_eq(token_fmt_u32(buf, UINT32_MAX), 10);
    cr_assert(memcmp(buf, "4294967295", 10) == 0);
    cr_assert_eq(token_fmt_u32(buf, 0), 1);
    cr_assert_eq(buf[0], '0');
}

Test(token, fmt_u32_every_small_value)
{
    char buf[16];
    char want[16];

    for (uint32_t v = 0; v < 200000; v++) {
        size_t n = token_fmt_u32(buf, v);
        buf[n] = '\0';
        snprintf(want, sizeof(want), "%u", v);
        cr_assert_str_eq(buf, want);
    }
}

/* 19 digits take the fast path, 20 and more the checked one. */
Test(token, nineteen_and_twenty_digits)
{
    uint64_t u;
    uint32_t u32;
    int32_t i;

    cr_assert(token_parse_digits_u64("9999999999999999999", 19, &u) && u == 9999999999999999999u);
    cr_assert(token_parse_digits_u64("10000000000000000000", 20, &u) && u == 10000000000000000000u);
    cr_assert(token_parse_digits_u64("000000000000000000000000042", 27, &u) && u == 42);
    cr_assert_not(token_parse_digits_u64("99999999999999999999", 20, &u));
    cr_assert_not(token_parse_digits_u64("999999999999999999x", 19, &u));
    cr_assert_not(token_parse_digits_u32("9999999999999999999", 19, &u32));
    cr_assert(token_parse_digits_u32("0000000000000000000004294967295", 31, &u32) && u32 == UINT32_MAX);
    cr_assert_not(token_parse_digits_i32("0000000000000000000002147483648", 31, &i));
    cr_assert(u64("9999999999999999999", &u) && u == 9999999999999999999u);
    cr_assert(u64("  +000000000000000000000000018446744073709551615 x", &u) && u == UINT64_MAX);
    cr_assert_not(u64("000000000000000000000000018446744073709551616", &u));
    cr_assert(i32("-0000000000000000000000009223372036854775808", &i) && i == 0);
    cr_assert_not(i32("0000000000000000000000009223372036854775808", &i));
    cr_assert(i32("9223372036854775807", &i) && i == -1);
    cr_assert_not(i32("9999999999999999999", &i));
}

/* token_next against a byte-by-byte reference, on exact-size heap buffers
 * (a read past the end is a sanitizer finding), for tokens of every length
 * up to 260 at every offset within a word. */
static void next_like_reference(const char *s, size_t len)
{
    size_t pos = 0, rpos = 0;
    const char *tok;
    size_t ntok;

    for (;;) {
        while (rpos < len && s[rpos] == ' ')
            rpos++;
        size_t rstart = rpos;
        while (rpos < len && s[rpos] != ' ')
            rpos++;
        bool more = token_next(s, len, &pos, &tok, &ntok);
        cr_assert_eq(more, rstart < len);
        if (!more) {
            cr_assert_eq(pos, len);
            return;
        }
        cr_assert_eq(tok, s + rstart);
        cr_assert_eq(ntok, rpos - rstart);
        cr_assert_eq(pos, rpos);
    }
}

Test(token, next_at_buffer_ends)
{
    for (size_t lead = 0; lead < 9; lead++) {
        for (size_t klen = 1; klen <= 260; klen++) {
            for (size_t trail = 0; trail < 3; trail++) {
                size_t len = lead + klen + trail;
                char *s = malloc(len);
                cr_assert_not_null(s);
                memset(s, ' ', len);
                memset(s + lead, 'k', klen);
                if (klen > 2)
                    s[lead + klen / 2] = '\t'; /* not a separator */
                next_like_reference(s, len);
                cr_assert_eq(token_span(s, lead, len), lead + klen);
                free(s);
            }
        }
    }
    /* many short keys, separated by one to three spaces */
    char line[600];
    size_t n = 0;
    for (int k = 0; n < sizeof(line) - 40; k++) {
        n += (size_t)snprintf(line + n, sizeof(line) - n, "key:%0*d", 1 + k % 17, k);
        for (int sp = 0; sp <= k % 3; sp++)
            line[n++] = ' ';
    }
    char *s = malloc(n);
    cr_assert_not_null(s);
    memcpy(s, line, n);
    next_like_reference(s, n);
    next_like_reference(s, n - 1);
    next_like_reference(s, 0);
    free(s);
}

static bool has_longer_reference(const char *s, size_t len, size_t max)
{
    size_t run = 0;

    for (size_t i = 0; i < len; i++) {
        run = s[i] == ' ' ? 0 : run + 1;
        if (run > max)
            return true;
    }
    return false;
}

Test(token, has_longer)
{
    char buf[1200];

    /* a 250-byte key passes, 251 does not, at the start, middle and end */
    for (size_t klen = 249; klen <= 252; klen++) {
        for (size_t at = 0; at <= 600; at += 150) {
            memset(buf, ' ', sizeof(buf));
            for (size_t i = 0; i + 10 < sizeof(buf); i += 10)
                memcpy(buf + i, "abcdefghi", 9);
            memset(buf + at, 'K', klen);
            buf[at + klen] = ' ';
            if (at > 0)
                buf[at - 1] = ' ';
            size_t len = at + klen;
            cr_assert_eq(token_has_longer(buf, len, 250), klen > 250, "klen %zu at %zu (end)", klen, at);
            cr_assert_eq(token_has_longer(buf, sizeof(buf), 250), klen > 250, "klen %zu at %zu", klen, at);
        }
    }
    cr_assert_not(token_has_longer("", 0, 250));
    cr_assert(token_has_longer("ab", 2, 1));
    cr_assert_not(token_has_longer("a b", 3, 1));
    /* random lines of runs and spaces against the reference */
    unsigned seed = 12345;
    for (int round = 0; round < 3000; round++) {
        size_t len = 0;
        size_t want = (size_t)(round % 1100) + 1;
        while (len < want) {
            seed = seed * 1103515245u + 12345u;
            size_t run = (seed >> 16) % (round % 2 ? 260 : 40);
            for (size_t i = 0; i < run && len < want; i++)
                buf[len++] = 'x';
            seed = seed * 1103515245u + 12345u;
            size_t sp = 1 + (seed >> 16) % 3;
            for (size_t i = 0; i < sp && len < want; i++)
                buf[len++] = ' ';
        }
        for (size_t max = 1; max <= 251; max += 25)
            cr_assert_eq(token_has_longer(buf, len, max), has_longer_reference(buf, len, max), "round %d max %zu",
                         round, max);
    }
}

/* token_span against a byte loop on every string of up to 10 bytes over
 * ' ', '!' (0x21: one above a space, the byte a borrow from a masked-out
 * space would turn into a false match) and 'a', from every start. */
Test(token, span_exhaustive_short)
{
    static const char alpha[3] = {' ', '!', 'a'};
    char s[10];

    for (size_t len = 1; len <= 10; len++) {
        size_t combos = 1;
        for (size_t k = 0; k < len; k++)
            combos *= 3;
        for (size_t c = 0; c < combos; c++) {
            size_t x = c;
            for (size_t k = 0; k < len; k++, x /= 3)
                s[k] = alpha[x % 3];
            for (size_t i = 0; i <= len; i++) {
                size_t want = i;
                while (want < len && s[want] != ' ')
                    want++;
                cr_assert_eq(token_span(s, i, len), want, "len %zu combo %zu from %zu", len, c, i);
            }
        }
    }
    cr_assert_eq(token_span("ab !!!!!", 3, 8), 8);
    cr_assert_eq(token_span("ab !!!! ", 3, 8), 7);
}

Test(token, fmt_u32_wide_small_values)
{
    char buf[16];
    char want[16];

    for (uint32_t v = 0; v < 2000; v++) {
        size_t n = token_fmt_u32_wide(buf, v);
        buf[n] = '\0';
        snprintf(want, sizeof(want), "%u", v);
        cr_assert_str_eq(buf, want);
    }
}
