/*
 * token.c - strict number parsing (memcached's safe_strto* rules, see
 * token.h) and fast decimal formatting for reply headers.
 */
#include "config.h"

#include "proto/token.h"

#include <string.h>

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/*
 * The common strtoull/strtol front half: white space, sign, digits, end
 * check. Returns false on no digits, a bad trailing byte, or when the
 * magnitude exceeds `limit`. *neg tells whether a '-' was seen.
 */
static bool parse_magnitude(const char *s, size_t n, uint64_t limit, uint64_t *mag, bool *neg)
{
    size_t i = 0;
    uint64_t v = 0;

    while (i < n && is_space(s[i]))
        i++;
    *neg = false;
    if (i < n && (s[i] == '+' || s[i] == '-')) {
        *neg = s[i] == '-';
        i++;
    }
    size_t digits = i;
    /* up to 19 digits cannot overflow 64 bits: check the limit once */
    size_t fast_end = n - i > 19 ? i + 19 : n;
    for (; i < fast_end; i++) {
        unsigned d = (unsigned)(unsigned char)s[i] - '0';
        if (d > 9)
            break;
        v = v * 10 + d;
    }
    if (v > limit)
        return false; /* ERANGE */
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (limit - d) / 10)
            return false; /* ERANGE */
        v = v * 10 + d;
    }
    if (i == digits)
        return false; /* no conversion */
    if (i < n && !is_space(s[i]))
        return false; /* trailing junk */
    *mag = v;
    return true;
}

bool token_parse_u64(const char *s, size_t n, uint64_t *out)
{
    uint64_t mag;
    bool neg;

    if (!parse_magnitude(s, n, UINT64_MAX, &mag, &neg))
        return false;
    uint64_t v = neg ? (uint64_t)0 - mag : mag;
    /* memcached rejects a '-' only when the result looks negative */
    if (neg && (v >> 63) != 0)
        return false;
    *out = v;
    return true;
}

bool token_parse_u32(const char *s, size_t n, uint32_t *out)
{
    uint64_t v;

    if (!token_parse_u64(s, n, &v))
        return false;
    *out = (uint32_t)v;
    return true;
}

bool token_parse_i32(const char *s, size_t n, int32_t *out)
{
    uint64_t mag;
    bool neg;

    if (!parse_magnitude(s, n, (uint64_t)INT64_MAX + 1, &mag, &neg))
        return false;
    if (!neg && mag > (uint64_t)INT64_MAX)
        return false; /* ERANGE on the positive side */
    uint64_t v = neg ? (uint64_t)0 - mag : mag;
    /* truncate to 32 bits, two's complement, as memcached's int32 store does */
    uint32_t low = (uint32_t)v;
    *out = low <= (uint32_t)INT32_MAX ? (int32_t)low : (int32_t)(low - 0x80000000u) + INT32_MIN;
    return true;
}

/* Digits only from s[0]; false when empty, not all digits or over limit. */
static bool parse_digits(const char *s, size_t n, uint64_t limit, uint64_t *out)
{
    uint64_t v = 0;

    if (n == 0)
        return false;
    if (n <= 19) {
        /* 19 digits cannot overflow 64 bits: check the limit once */
        for (size_t i = 0; i < n; i++) {
            unsigned d = (unsigned)(unsigned char)s[i] - '0';
            if (d > 9)
                return false;
            v = v * 10 + d;
        }
        if (v > limit)
            return false;
        *out = v;
        return true;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (limit - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

bool token_parse_digits_u64(const char *s, size_t n, uint64_t *out)
{
    return parse_digits(s, n, UINT64_MAX, out);
}

bool token_parse_digits_u32(const char *s, size_t n, uint32_t *out)
{
    uint64_t v;

    if (!parse_digits(s, n, UINT32_MAX, &v))
        return false;
    *out = (uint32_t)v;
    return true;
}

/* An optional '-' then digits, within [-limit_neg, limit_pos]. */
static bool parse_signed(const char *s, size_t n, uint64_t limit_pos, uint64_t limit_neg, int64_t *out)
{
    bool neg = n > 0 && s[0] == '-';
    uint64_t mag;

    if (!parse_digits(s + neg, n - neg, neg ? limit_neg : limit_pos, &mag))
        return false;
    *out = neg ? (mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag) : (int64_t)mag;
    return true;
}

bool token_parse_digits_i32(const char *s, size_t n, int32_t *out)
{
    int64_t v;

    if (!parse_signed(s, n, INT32_MAX, (uint64_t)INT32_MAX + 1, &v))
        return false;
    *out = (int32_t)v;
    return true;
}

bool token_parse_digits_i64(const char *s, size_t n, int64_t *out)
{
    return parse_signed(s, n, INT64_MAX, (uint64_t)INT64_MAX + 1, out);
}

static const char digit_pairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

static const uint64_t pow10_u64[20] = {
    1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull, 10000000ull, 100000000ull,
    1000000000ull, 10000000000ull, 100000000000ull, 1000000000000ull, 10000000000000ull,
    100000000000000ull, 1000000000000000ull, 10000000000000000ull, 100000000000000000ull,
    1000000000000000000ull, 10000000000000000000ull,
};

/* Decimal digits of v >= 10: floor(log10) estimated from the bit length
 * (bits * 1233 / 4096 is floor(bits * log10(2))), then corrected by one
 * comparison with a power of ten. */
static size_t digits_u64(uint64_t v)
{
#if defined(__GNUC__)
    unsigned bits = 64u - (unsigned)__builtin_clzll(v);
    size_t t = (bits * 1233u) >> 12;
    return t + (v >= pow10_u64[t]);
#else
    size_t n = 1;
    while (n < 20 && v >= pow10_u64[n])
        n++;
    return n;
#endif
}

size_t token_fmt_u64(char *dst, uint64_t v)
{
    if (v < 10) {
        dst[0] = (char)('0' + v);
        return 1;
    }
    size_t n = digits_u64(v);
    char *p = dst + n;
    while (v >= 100) {
        unsigned i = (unsigned)(v % 100) * 2;
        v /= 100;
        p -= 2;
        memcpy(p, digit_pairs + i, 2);
    }
    if (v >= 10)
        memcpy(p - 2, digit_pairs + v * 2, 2);
    else
        p[-1] = (char)('0' + v);
    return n;
}

size_t token_fmt_u32_wide(char *dst, uint32_t v)
{
    if (v < 10) {
        dst[0] = (char)('0' + v);
        return 1;
    }
    size_t n = digits_u64(v);
    char *p = dst + n;
    while (v >= 100) {
        unsigned i = (v % 100) * 2;
        v /= 100;
        p -= 2;
        memcpy(p, digit_pairs + i, 2);
    }
    if (v >= 10)
        memcpy(p - 2, digit_pairs + v * 2, 2);
    else
        p[-1] = (char)('0' + v);
    return n;
}

bool token_has_longer(const char *s, size_t len, size_t max)
{
    size_t start = 0; /* a run starts here: s[start - 1] is ' ' (or start is 0) */

    while (len - start > max) {
        /* s[start..start + max]: max + 1 bytes; walk back to its last ' ' */
        size_t k = start + max + 1;
        while (k > start && s[k - 1] != ' ')
            k--;
        if (k == start)
            return true; /* no space in max + 1 bytes from a run's start */
        /* every run starting before k ended by k - 1, within max bytes */
        start = k;
    }
    return false;
}

size_t token_split(const char *line, size_t len, struct token *t, size_t max)
{
    size_t pos = 0, n = 0;
    const char *p;
    size_t np;

    while (token_next(line, len, &pos, &p, &np)) {
        if (n == max)
            return max + 1;
        t[n].p = p;
        t[n].n = np;
        n++;
    }
    return n;
}

size_t token_line_len(const char *line, size_t linelen)
{
    size_t n = linelen;
    if (n > 1 && line[n - 1] == '\r')
        n--;
    const char *nul = memchr(line, '\0', n);
    return nul != NULL ? (size_t)(nul - line) : n;
}
