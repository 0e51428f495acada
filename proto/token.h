/*
 * token.h - tokens, number parsing and formatting shared by the text and meta
 * front ends.
 *
 * The parsers reproduce, on a (pointer, length) token, exactly what memcached
 * 1.6's safe_strtoul/safe_strtol/safe_strtoull accept on a NUL-terminated
 * token, because clients observe the difference:
 *   - leading white space (isspace: \t \n \v \f \r) is skipped, one '+' or '-'
 *     sign is allowed, at least one decimal digit is required;
 *   - the digits must end the token or be followed by a white-space byte
 *     (anything after that is ignored: "5\tx" parses as 5);
 *   - overflow of the 64-bit type fails (strtoull/strtol ERANGE);
 *   - unsigned: a '-' sign is accepted only when the negated value is not
 *     negative as a signed 64-bit number ("-0" is 0, "-1" fails, and
 *     "-18446744073709551615" is 1, as with strtoull);
 *   - the 32-bit variants parse 64 bits and then truncate (wrap), as memcached
 *     does by storing a long into a uint32_t/int32_t: flags 4294967296 is 0,
 *     exptime 4294967306 is 10.
 * Pure functions, no locale, no errno, thread safe.
 */
#ifndef MCD_TOKEN_H
#define MCD_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* memcached safe_strtoull: a uint64 (delta, cas unique). */
bool token_parse_u64(const char *s, size_t n, uint64_t *out);
/* memcached safe_strtoul on LP64: parsed as 64 bits, truncated (flags,
 * verbosity level). */
bool token_parse_u32(const char *s, size_t n, uint32_t *out);
/* memcached safe_strtol on LP64: a signed 64-bit value truncated to 32 bits
 * (exptime, value length, flush_all delay). */
bool token_parse_i32(const char *s, size_t n, int32_t *out);

/*
 * The stricter number rules of memcached 1.6.45's text commands outside the
 * storage header: decimal digits only (no white space, no '+'), and a '-'
 * only where a negative value is allowed.
 *   token_parse_digits_u64: 0..2^64-1, no sign (incr/decr delta, cas unique).
 *   token_parse_digits_u32: 0..2^32-1, no sign (verbosity level).
 *   token_parse_digits_i32: INT32_MIN..INT32_MAX, optional '-' (exptime of
 *     touch/gat/gats, flush_all delay).
 *   token_parse_digits_i64: optional '-', no overflow (storage value length,
 *     which the caller range-checks).
 */
bool token_parse_digits_u64(const char *s, size_t n, uint64_t *out);
bool token_parse_digits_u32(const char *s, size_t n, uint32_t *out);
bool token_parse_digits_i32(const char *s, size_t n, int32_t *out);
bool token_parse_digits_i64(const char *s, size_t n, int64_t *out);

/* A space-delimited token of a command line: p[0..n). */
struct token {
    const char *p;
    size_t n;
};

/*
 * The index of the first ' ' in s[i..len), or len when there is none. Reads
 * only s[i..len): eight bytes at a time (as one 64-bit word, on
 * little-endian hosts), then byte by byte. Inline: it runs once per key of
 * a multiget.
 */
static inline size_t token_span(const char *s, size_t i, size_t len)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && defined(__GNUC__)
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    while (len - i >= 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        w ^= 0x2020202020202020ull; /* a ' ' byte becomes 0 */
        /* the lowest set high bit marks the first zero byte (a borrow can
         * set bits only above a zero byte, never below it) */
        uint64_t z = (w - ones) & ~w & highs;
        if (z != 0)
            return i + ((size_t)__builtin_ctzll(z) >> 3);
        i += 8;
    }
    if (i < len && len >= 8) {
        /* the last 1..7 bytes: the word that ends at len, its bytes before
         * i forced non-zero (so that they neither match nor borrow) */
        size_t base = len - 8;
        uint64_t w;
        memcpy(&w, s + base, 8);
        w ^= 0x2020202020202020ull;
        w |= ((uint64_t)1 << (8 * (i - base))) - 1;
        uint64_t z = (w - ones) & ~w & highs;
        return z != 0 ? base + ((size_t)__builtin_ctzll(z) >> 3) : len;
    }
#endif
    while (i < len && s[i] != ' ')
        i++;
    return i;
}

/*
 * The next token of s[0..len) from *pos on: tokens are separated by runs of
 * spaces only (memcached splits on ' ', not on tabs). Returns false at the
 * end of the line. Reads only s[*pos..len).
 */
static inline bool token_next(const char *s, size_t len, size_t *pos, const char **tok, size_t *ntok)
{
    size_t i = *pos;

    while (i < len && s[i] == ' ')
        i++;
    if (i >= len) {
        *pos = len;
        return false;
    }
    size_t end = token_span(s, i + 1, len); /* s[i] is not a space */
    *tok = s + i;
    *ntok = end - i;
    *pos = end;
    return true;
}

/*
 * Whether s[0..len) holds a token of more than `max` bytes (a run of more
 * than `max` bytes none of which is ' '). Looks at about one byte in
 * (max / average token length): from the start of a candidate run it
 * checks the byte `max` further on and walks back to the last space, the
 * next candidate's start.
 */
bool token_has_longer(const char *s, size_t len, size_t max);

/* The part of a command line of `linelen` bytes (its "\n" excluded) that
 * counts, as memcached reads it: one trailing "\r" dropped, and cut at the
 * first NUL byte. */
size_t token_line_len(const char *line, size_t linelen);

/* Splits line[0..len) into at most `max` tokens. Returns how many, or
 * max + 1 when there are more (the count is then only "too many"). */
size_t token_split(const char *line, size_t len, struct token *t, size_t max);

/* Longest decimal rendering of a uint64_t. */
#define TOKEN_U64_DIGITS 20

/* Writes v in decimal at dst (no NUL); returns the number of bytes (1..20).
 * Writes only dst[0..returned). */
size_t token_fmt_u64(char *dst, uint64_t v);
/* The same for a 32-bit value (1..10 bytes), in 32-bit arithmetic; inline
 * up to three digits (client flags and value lengths mostly are). */
size_t token_fmt_u32_wide(char *dst, uint32_t v);
static inline size_t token_fmt_u32(char *dst, uint32_t v)
{
    if (v < 10) {
        dst[0] = (char)('0' + v);
        return 1;
    }
    if (v < 100) {
        dst[0] = (char)('0' + v / 10);
        dst[1] = (char)('0' + v % 10);
        return 2;
    }
    if (v < 1000) {
        dst[0] = (char)('0' + v / 100);
        dst[1] = (char)('0' + v / 10 % 10);
        dst[2] = (char)('0' + v % 10);
        return 3;
    }
    return token_fmt_u32_wide(dst, v);
}

#endif /* MCD_TOKEN_H */
