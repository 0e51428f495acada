/*
 * norm.c - one server's reply bytes in a form that compares equal across
 * servers when they behave the same.
 *
 * Owns the reply grammar the tester needs: text lines and VALUE data blocks,
 * meta return lines (VA blocks, flag tokens), binary response packets. What
 * is rewritten, and why:
 *  - CAS numbers (the 5th token of VALUE, meta "c" tokens, the binary
 *    header's CAS) become "#N", N the value's first-seen index on this
 *    server (0 stays 0): the two servers number their items differently
 *    but must hand out equal structure. The same map fills CAS
 *    placeholders in later requests (run.c).
 *  - "VERSION x" and the binary Version body become "*".
 *  - meta "t" (TTL left) above 0 becomes "t+", meta "l" (seconds since
 *    last access) "l*": both depend on when each server's clock ticked.
 *  - a value of digits, maybe padded with spaces (an incr/decr result
 *    padded in place), becomes its digits, its length "n": whether
 *    memcached pads in place depends on other threads' references
 *    (pad_digits).
 * Binary packets are rendered as one text line each, so reports read well.
 */
#include "config.h"

#include "tests/diff/diffgen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dg_casmap_free(struct dg_casmap *m)
{
    free(m->v);
    memset(m, 0, sizeof(*m));
}

size_t dg_casmap_index(struct dg_casmap *m, uint64_t v)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->v[i] == v)
            return i;
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 16;
        m->v = mcd_xrealloc(m->v, m->cap * sizeof(*m->v));
    }
    m->v[m->n] = v;
    return m->n++;
}

static bool parse_u64(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;

    if (n == 0 || n > 20)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static void add_cas(struct dg_casmap *m, uint64_t v, struct mcd_buf *out)
{
    if (v == 0)
        mcd_buf_add(out, "0", 1);
    else
        mcd_buf_addf(out, "#%zu", dg_casmap_index(m, v));
}

static void add_escaped(struct mcd_buf *out, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
            mcd_buf_addc(out, p[i]);
        else
            mcd_buf_addf(out, "\\x%02x", p[i]);
    }
}

/*
 * An incr/decr result stored in place keeps the item's length, padded with
 * spaces ("95 " after decr 100 5); memcached does this only while no other
 * reference holds the item, else it links a new item of the exact length.
 * Background threads on both sides (memcached's LRU maintainer and
 * crawler, mcd's sweep and CLOCK hand) take short references, so which of
 * the two forms a read sees is timing (seen once in 169,280 sequences,
 * never twice in a row). A value of digits followed by one or more spaces
 * therefore compares as its digits, its length as "n" (so does a value of
 * digits alone: the digits are still compared): returns the number of
 * digits when d[0..n) is digits then only spaces, else 0.
 */
static size_t pad_digits(const unsigned char *d, size_t n)
{
    size_t k = 0;

    while (k < n && d[k] >= '0' && d[k] <= '9')
        k++;
    if (k == 0)
        return 0;
    for (size_t j = k; j < n; j++)
        if (d[j] != ' ')
            return 0;
    return k;
}

/* --- binary ------------------------------------------------------------ */

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Returns the bytes used (0 when the packet is incomplete). */
static size_t norm_bin_packet(const unsigned char *p, size_t len, struct dg_casmap *m, struct mcd_buf *out)
{
    if (len < 24)
        return 0;
    size_t keylen = (size_t)p[2] << 8 | p[3], extlen = p[4];
    size_t body = get32(p + 8);
    uint64_t cas = (uint64_t)get32(p + 16) << 32 | get32(p + 20);

    if (len - 24 < body)
        return 0;
    mcd_buf_addf(out, "BIN op=%02x st=%02x%02x dt=%02x opq=%08x cas=", p[1], p[6], p[7], p[5], get32(p + 12));
    add_cas(m, cas, out);
    if (keylen + extlen > body) {
        mcd_buf_addf(out, " badlen body=%zu key=%zu ext=%zu raw=", body, keylen, extlen);
        add_escaped(out, p + 24, body);
    } else {
        mcd_buf_add(out, " ext=", 5);
        add_escaped(out, p + 24, extlen);
        mcd_buf_add(out, " key=", 5);
        add_escaped(out, p + 24 + extlen, keylen);
        mcd_buf_add(out, " val=", 5);
        size_t vlen = body - extlen - keylen, digits = pad_digits(p + 24 + extlen + keylen, vlen);
        if (p[1] == 0x0b && p[6] == 0 && p[7] == 0)
            mcd_buf_add(out, "*", 1);
        else if (digits > 0)
            add_escaped(out, p + 24 + extlen + keylen, digits); /* a padded number: see pad_digits */
        else
            add_escaped(out, p + 24 + extlen + keylen, vlen);
    }
    mcd_buf_add(out, "\n", 1);
    return 24 + body;
}

/* --- text -------------------------------------------------------------- */

/* Splits line [p, p+n) (no CRLF) into at most max space-separated tokens. */
static size_t tokens(const char *p, size_t n, const char **tok, size_t *tlen, size_t max)
{
    size_t k = 0, i = 0;

    while (i < n && k < max) {
        while (i < n && p[i] == ' ')
            i++;
        if (i == n)
            break;
        tok[k] = p + i;
        while (i < n && p[i] != ' ')
            i++;
        tlen[k] = (size_t)(p + i - tok[k]);
        k++;
    }
    return k;
}

static bool is_meta_code(const char *t, size_t n)
{
    static const char *const codes[] = {"VA", "HD", "EN", "NF", "NS", "EX", "MN", "ME"};

    if (n != 2)
        return false;
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        if (memcmp(t, codes[i], 2) == 0)
            return true;
    return false;
}

/*
 * Normalises one text line (without its CRLF, which the caller adds) and
 * returns the length of a data block that follows it, or -1 for none.
 */
static long norm_text_line(const char *p, size_t n, struct dg_casmap *m, struct mcd_buf *out, bool padded)
{
    const char *tok[64];
    size_t tlen[64];
    size_t k = tokens(p, n, tok, tlen, 64);
    uint64_t v;

    if (k >= 4 && tlen[0] == 5 && memcmp(tok[0], "VALUE", 5) == 0 && parse_u64(tok[3], tlen[3], &v)) {
        if (k >= 5) {
            size_t at = (size_t)(tok[4] - p);
            uint64_t c;

            if (padded) {
                mcd_buf_add(out, p, (size_t)(tok[3] - p));
                mcd_buf_add(out, "n", 1);
                mcd_buf_add(out, tok[3] + tlen[3], at - (size_t)(tok[3] + tlen[3] - p));
            } else {
                mcd_buf_add(out, p, at);
            }
            if (parse_u64(tok[4], tlen[4], &c))
                add_cas(m, c, out);
            else
                mcd_buf_add(out, tok[4], tlen[4]);
            mcd_buf_add(out, p + at + tlen[4], n - at - tlen[4]);
        } else if (padded) {
            mcd_buf_add(out, p, (size_t)(tok[3] - p));
            mcd_buf_add(out, "n", 1);
            mcd_buf_add(out, tok[3] + tlen[3], n - (size_t)(tok[3] + tlen[3] - p));
        } else {
            mcd_buf_add(out, p, n);
        }
        return v <= 64u * 1024 * 1024 ? (long)v : -1;
    }
    if (k >= 1 && tlen[0] == 7 && memcmp(tok[0], "VERSION", 7) == 0) {
        mcd_buf_addf(out, "VERSION *");
        return -1;
    }
    if (k >= 1 && is_meta_code(tok[0], tlen[0])) {
        long block = -1;
        size_t from = 1;

        mcd_buf_add(out, tok[0], 2);
        if (memcmp(tok[0], "VA", 2) == 0 && k >= 2 && parse_u64(tok[1], tlen[1], &v)) {
            mcd_buf_addc(out, ' ');
            if (padded)
                mcd_buf_add(out, "n", 1);
            else
                mcd_buf_add(out, tok[1], tlen[1]);
            block = v <= 64u * 1024 * 1024 ? (long)v : -1;
            from = 2;
        }
        for (size_t i = from; i < k; i++) {
            uint64_t c;
            mcd_buf_addc(out, ' ');
            if (tok[i][0] == 'c' && parse_u64(tok[i] + 1, tlen[i] - 1, &c)) {
                mcd_buf_addc(out, 'c');
                add_cas(m, c, out);
            } else if (tok[i][0] == 't' && tlen[i] > 1 && tok[i][1] != '-' && parse_u64(tok[i] + 1, tlen[i] - 1, &c) &&
                       c > 0) {
                mcd_buf_add(out, "t+", 2);
            } else if (tok[i][0] == 'l' && parse_u64(tok[i] + 1, tlen[i] - 1, &c)) {
                mcd_buf_add(out, "l*", 2);
            } else {
                mcd_buf_add(out, tok[i], tlen[i]);
            }
        }
        /* keep trailing spaces or odd spacing visible */
        if (n > 0 && p[n - 1] == ' ')
            mcd_buf_addc(out, ' ');
        return block;
    }
    mcd_buf_add(out, p, n);
    return -1;
}

static void norm_text(const unsigned char *raw, size_t len, struct dg_casmap *m, struct mcd_buf *out)
{
    size_t i = 0;

    while (i < len) {
        const unsigned char *nl = memchr(raw + i, '\n', len - i);

        if (nl == NULL) {
            add_escaped(out, raw + i, len - i);
            return;
        }
        size_t end = (size_t)(nl - raw);
        size_t n = end - i;
        bool cr = n > 0 && raw[end - 1] == '\r';
        /* a first pass into a scratch buffer only to learn the block length */
        struct mcd_buf scratch = {0};
        struct dg_casmap sm = {0};
        long block = norm_text_line((const char *)raw + i, cr ? n - 1 : n, &sm, &scratch, false);
        free(scratch.p);
        dg_casmap_free(&sm);
        size_t digits = block > 0 && (size_t)block <= len - end - 1 ? pad_digits(raw + end + 1, (size_t)block) : 0;
        norm_text_line((const char *)raw + i, cr ? n - 1 : n, m, out, digits > 0);
        mcd_buf_add(out, cr ? "\r\n" : "\n", cr ? 2 : 1);
        i = end + 1;
        if (block >= 0) {
            size_t b = (size_t)block + 2;
            if (b > len - i)
                b = len - i;
            if (digits > 0 && b == (size_t)block + 2) {
                /* padded number: its digits and the CRLF, without the spaces */
                add_escaped(out, raw + i, digits);
                add_escaped(out, raw + i + block, 2);
                mcd_buf_add(out, "\n", 1);
                i += b;
                continue;
            }
            add_escaped(out, raw + i, b);
            mcd_buf_add(out, "\n", 1);
            i += b;
        }
    }
}

void dg_normalize(const unsigned char *raw, size_t len, struct dg_casmap *m, struct mcd_buf *out)
{
    size_t i = 0;

    while (i < len && raw[i] == 0x81) {
        size_t used = norm_bin_packet(raw + i, len - i, m, out);
        if (used == 0)
            break;
        i += used;
    }
    if (i < len && i > 0) {
        mcd_buf_add(out, "RAW ", 4);
        add_escaped(out, raw + i, len - i);
        mcd_buf_add(out, "\n", 1);
        return;
    }
    if (i < len)
        norm_text(raw + i, len - i, m, out);
}
