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

size_t token_fmt_u64(char *dst, uint64_t v)
{
    char tmp[TOKEN_U64_DIGITS];
    char *p = tmp + sizeof(tmp);

    while (v >= 100) {
        unsigned i = (unsigned)(v % 100) * 2;
        v /= 100;
        *--p = digit_pairs[i + 1];
        *--p = digit_pairs[i];
    }
    if (v >= 10) {
        unsigned i = (unsigned)v * 2;
        *--p = digit_pairs[i + 1];
        *--p = digit_pairs[i];
    } else {
        *--p = (char)('0' + v);
    }
    size_t len = (size_t)(tmp + sizeof(tmp) - p);
    memcpy(dst, p, len);
    return len;
}

bool token_next(const char *s, size_t len, size_t *pos, const char **tok, size_t *ntok)
{
    size_t i = *pos;

    while (i < len && s[i] == ' ')
        i++;
    if (i >= len) {
        *pos = len;
        return false;
    }
    size_t start = i;
    const char *sp = memchr(s + i, ' ', len - i);
    i = sp != NULL ? (size_t)(sp - s) : len;
    *tok = s + start;
    *ntok = i - start;
    *pos = i;
    return true;
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
