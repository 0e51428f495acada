/*
 * test_binary_cases.c - the binary protocol, packet by packet.
 *
 * 1. Replays cases/binary.cases (recorded from memcached 1.6.45; format at
 *    the top of that file) against the server under test. The text case
 *    runner (tests/lib/cases.c) ends a reply with a text sentinel, which a
 *    binary connection cannot carry, so this file has its own runner: after
 *    a case's sends it sends a Noop with the reserved opaque SYNC_OPAQUE and
 *    collects whole response packets up to that Noop's answer (or EOF).
 * 2. Protocol selection: -B binary refuses text, -B ascii reads 0x80 as
 *    text, -B auto serves both on separate connections.
 * 3. Errors that need a server of their own: out of memory under -M.
 *
 * Built twice: as the Criterion test, and with -DMCD_BINARY_RECORDER as
 * tests/integration/record_binary_cases, which replays the requests against
 * memcached and rewrites the table's "<" lines
 * (tests/integration/record-binary-cases.sh).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/buf.h"
#include "tests/lib/harness.h"

#ifndef MCD_CASES_DIR
#define MCD_CASES_DIR "tests/integration/cases"
#endif

#define HDR 24
#define SYNC_OPAQUE 0x53594e43u /* "SYNC" */
#define OP_NOOP 0x0a
#define OP_VERSION 0x0b
#define OP_STAT 0x10

static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t rd16(const unsigned char *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

/* ---- the table ------------------------------------------------------------ */

/* A reply pattern byte: literal, any byte, part of a {cas}, or {body}. */
enum pk { PK_LIT, PK_ANY, PK_CAS, PK_REST };

struct step {
    struct mcd_buf data;
    size_t *cas_at; /* offsets of {cas} placeholders (8 bytes each) */
    size_t ncas;
    bool bytewise;
};

struct expect {
    bool is_stats;
    struct mcd_buf pat;   /* bytes, with kinds[] alongside */
    unsigned char *kinds;
    uint32_t opaque;    /* <stats */
    char **names;       /* <stats */
    size_t nnames;
};

struct bcase {
    char *name;
    int line;
    struct step *steps;
    size_t nsteps;
    struct expect *exp;
    size_t nexp;
    bool expect_close;
    bool has_stats;
    char **raw;        /* comments, "===" and ">" lines, verbatim */
    size_t nraw;
    char **exp_lines;  /* the "<" lines, verbatim (kept for <stats cases) */
    size_t nexp_lines;
};

struct btable {
    struct bcase *cases;
    size_t n;
    char **trailer;
    size_t ntrailer;
};

/*
 * Compiles the tokens of one ">" or "<" line. For a request (kinds == NULL)
 * {cas} records a placeholder in *cas_at; for a reply every byte gets a
 * kind. Returns false with *err set on a bad token.
 */
static bool compile_tokens(const char *s, struct mcd_buf *out, struct mcd_buf *kinds, size_t **cas_at, size_t *ncas,
                           const char **err)
{
    while (*s != '\0') {
        if (isspace((unsigned char)*s) || *s == '|') {
            s++;
            continue;
        }
        if (*s == '"') {
            const char *e = strchr(s + 1, '"');

            if (e == NULL) {
                *err = "unterminated string";
                return false;
            }
            mcd_buf_add(out, s + 1, (size_t)(e - s - 1));
            for (const char *q = s + 1; kinds != NULL && q < e; q++)
                mcd_buf_addc(kinds, PK_LIT);
            s = e + 1;
        } else if (strncmp(s, "{cas}", 5) == 0) {
            if (kinds == NULL) {
                *cas_at = mcd_xrealloc(*cas_at, (*ncas + 1) * sizeof(**cas_at));
                (*cas_at)[(*ncas)++] = out->len;
            }
            for (int i = 0; i < 8; i++) {
                mcd_buf_addc(out, 0);
                if (kinds != NULL)
                    mcd_buf_addc(kinds, PK_CAS);
            }
            s += 5;
        } else if (strncmp(s, "{body}", 6) == 0) {
            if (kinds == NULL) {
                *err = "{body} in a request";
                return false;
            }
            mcd_buf_addc(out, 0);
            mcd_buf_addc(kinds, PK_REST);
            s += 6;
        } else {
            const char *t = s;
            size_t n = 0;

            while (mcd_hexval(*t) >= 0 || *t == '?') {
                t++;
                n++;
            }
            if (n == 0 || n % 2 != 0) {
                *err = "expected an even number of hex digits";
                return false;
            }
            if (*t == '*') {
                char *end;
                unsigned long rep = strtoul(t + 1, &end, 10);

                if (n != 2 || s[0] == '?' || end == t + 1) {
                    *err = "bad HH*N run";
                    return false;
                }
                unsigned char c = (unsigned char)(mcd_hexval(s[0]) * 16 + mcd_hexval(s[1]));
                for (unsigned long i = 0; i < rep; i++) {
                    mcd_buf_addc(out, c);
                    if (kinds != NULL)
                        mcd_buf_addc(kinds, PK_LIT);
                }
                s = end;
                continue;
            }
            for (const char *q = s; q < t; q += 2) {
                if (q[0] == '?' || q[1] == '?') {
                    if (q[0] != '?' || q[1] != '?' || kinds == NULL) {
                        *err = "bad ?? wildcard";
                        return false;
                    }
                    mcd_buf_addc(out, 0);
                    mcd_buf_addc(kinds, PK_ANY);
                } else {
                    mcd_buf_addc(out, (unsigned char)(mcd_hexval(q[0]) * 16 + mcd_hexval(q[1])));
                    if (kinds != NULL)
                        mcd_buf_addc(kinds, PK_LIT);
                }
            }
            s = t;
        }
    }
    return true;
}

static bool parse_stats_line(const char *s, struct expect *e)
{
    char *copy = mcd_xstrdup(s), *save = NULL, *tok;
    bool ok = false;

    tok = strtok_r(copy, " \t", &save);
    if (tok != NULL && strlen(tok) == 8) {
        char *end;

        e->opaque = (uint32_t)strtoul(tok, &end, 16);
        ok = *end == '\0';
        while ((tok = strtok_r(NULL, " \t", &save)) != NULL)
            mcd_strv_push(&e->names, &e->nnames, tok);
    }
    free(copy);
    e->is_stats = true;
    return ok;
}

static void table_free(struct btable *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->n; i++) {
        struct bcase *k = &t->cases[i];

        for (size_t j = 0; j < k->nsteps; j++) {
            free(k->steps[j].data.p);
            free(k->steps[j].cas_at);
        }
        free(k->steps);
        for (size_t j = 0; j < k->nexp; j++) {
            free(k->exp[j].pat.p);
            free(k->exp[j].kinds);
            for (size_t m = 0; m < k->exp[j].nnames; m++)
                free(k->exp[j].names[m]);
            free(k->exp[j].names);
        }
        free(k->exp);
        for (size_t j = 0; j < k->nraw; j++)
            free(k->raw[j]);
        free(k->raw);
        for (size_t j = 0; j < k->nexp_lines; j++)
            free(k->exp_lines[j]);
        free(k->exp_lines);
        free(k->name);
    }
    for (size_t j = 0; j < t->ntrailer; j++)
        free(t->trailer[j]);
    free(t->trailer);
    free(t->cases);
    free(t);
}

static struct btable *table_load(const char *path)
{
    FILE *fp = fopen(path, "r");
    struct btable *t;
    struct bcase *cur = NULL;
    char **pending = NULL;
    size_t npending = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t ll;
    int lineno = 0;
    const char *err = NULL;

    if (fp == NULL) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return NULL;
    }
    t = calloc(1, sizeof(*t));
    if (t == NULL)
        abort();
    while ((ll = getline(&line, &lcap, fp)) >= 0) {
        lineno++;
        while (ll > 0 && (line[ll - 1] == '\n' || line[ll - 1] == '\r'))
            line[--ll] = '\0';
        if (line[0] == '#' || line[0] == '\0') {
            mcd_strv_push(&pending, &npending, line);
            continue;
        }
        if (strncmp(line, "=== ", 4) == 0) {
            for (size_t i = 0; i < t->n; i++)
                if (strcmp(t->cases[i].name, line + 4) == 0) {
                    err = "duplicate case name";
                    goto bad;
                }
            t->cases = mcd_xrealloc(t->cases, (t->n + 1) * sizeof(*t->cases));
            cur = &t->cases[t->n++];
            memset(cur, 0, sizeof(*cur));
            cur->name = mcd_xstrdup(line + 4);
            cur->line = lineno;
            cur->raw = pending;
            cur->nraw = npending;
            pending = NULL;
            npending = 0;
            mcd_strv_push(&cur->raw, &cur->nraw, line);
            continue;
        }
        if (cur == NULL) {
            err = "directive before the first case";
            goto bad;
        }
        if (line[0] == '>') {
            struct step st = {.bytewise = line[1] == '1'};

            if (!compile_tokens(line + (st.bytewise ? 2 : 1), &st.data, NULL, &st.cas_at, &st.ncas, &err))
                goto bad;
            if (st.data.p == NULL)
                mcd_buf_add(&st.data, "", 0);
            cur->steps = mcd_xrealloc(cur->steps, (cur->nsteps + 1) * sizeof(*cur->steps));
            cur->steps[cur->nsteps++] = st;
            for (size_t i = 0; i < npending; i++) {
                mcd_strv_push(&cur->raw, &cur->nraw, pending[i]);
                free(pending[i]);
            }
            free(pending);
            pending = NULL;
            npending = 0;
            mcd_strv_push(&cur->raw, &cur->nraw, line);
            continue;
        }
        if (line[0] != '<') {
            err = "unknown directive";
            goto bad;
        }
        if (strcmp(line, "<close") == 0) {
            cur->expect_close = true;
            continue;
        }
        mcd_strv_push(&cur->exp_lines, &cur->nexp_lines, line);
        cur->exp = mcd_xrealloc(cur->exp, (cur->nexp + 1) * sizeof(*cur->exp));
        struct expect *e = &cur->exp[cur->nexp++];
        memset(e, 0, sizeof(*e));
        if (strncmp(line, "<stats ", 7) == 0) {
            cur->has_stats = true;
            if (!parse_stats_line(line + 7, e)) {
                err = "bad <stats line";
                goto bad;
            }
            continue;
        }
        struct mcd_buf kinds = {0};
        if (!compile_tokens(line + 1, &e->pat, &kinds, NULL, NULL, &err)) {
            free(kinds.p);
            goto bad;
        }
        e->kinds = kinds.p;
        for (size_t i = 0; i + 1 < e->pat.len; i++)
            if (e->kinds[i] == PK_REST) {
                err = "{body} must end the packet";
                goto bad;
            }
    }
    free(line);
    fclose(fp);
    t->trailer = pending;
    t->ntrailer = npending;
    return t;
bad:
    fprintf(stderr, "%s:%d: %s\n", path, lineno, err != NULL ? err : "parse error");
    free(line);
    fclose(fp);
    for (size_t i = 0; i < npending; i++)
        free(pending[i]);
    free(pending);
    table_free(t);
    return NULL;
}

/* ---- collecting replies ------------------------------------------------- */

struct packet {
    unsigned char *p;
    size_t len; /* a whole packet, or the trailing fragment before EOF */
};

struct replies {
    struct packet *v;
    size_t n;
    bool closed;
};

static void replies_push(struct replies *r, const void *p, size_t len)
{
    r->v = mcd_xrealloc(r->v, (r->n + 1) * sizeof(*r->v));
    r->v[r->n].p = malloc(len + 1);
    if (r->v[r->n].p == NULL)
        abort();
    memcpy(r->v[r->n].p, p, len);
    r->v[r->n].len = len;
    r->n++;
}

static void replies_free(struct replies *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->v[i].p);
    free(r->v);
    memset(r, 0, sizeof(*r));
}

/* Reads one whole packet: 1 (pushed or, for the sync Noop, *sync set), 0 on
 * EOF (a fragment is pushed), -1 on timeout. */
static int read_packet(struct mcd_conn *c, struct replies *r, bool *sync)
{
    long long deadline = mcd_now_ms() + MCD_IO_TIMEOUT_MS;

    *sync = false;
    for (;;) {
        if (c->len >= HDR) {
            size_t need = HDR + (size_t)rd32((unsigned char *)c->buf + 8);

            if (c->len >= need) {
                const unsigned char *p = (unsigned char *)c->buf;

                if (p[0] == 0x81 && p[1] == OP_NOOP && rd32(p + 12) == SYNC_OPAQUE)
                    *sync = true;
                else
                    replies_push(r, c->buf, need);
                mcd_consume(c, need);
                return 1;
            }
        }
        long left = (long)(deadline - mcd_now_ms());
        if (c->eof || left <= 0 || mcd_fill(c, (int)(left > 0 ? left : 0)) <= 0) {
            if (!c->eof && mcd_now_ms() < deadline)
                continue; /* interrupted fill: try again */
            if (!c->eof)
                return -1;
            if (c->len > 0) {
                replies_push(r, c->buf, c->len);
                mcd_consume(c, c->len);
            }
            r->closed = true;
            return 0;
        }
    }
}

static const unsigned char sync_noop[HDR] = {0x80, OP_NOOP, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x53, 0x59, 0x4e, 0x43};

/* Sends the sync Noop and collects replies up to its answer or EOF. */
static bool sync_replies(struct mcd_conn *c, struct replies *r)
{
    bool sync;

    if (r->closed)
        return true;
    (void)mcd_send(c, sync_noop, sizeof(sync_noop)); /* a closed peer shows as EOF below */
    for (;;) {
        int rc = read_packet(c, r, &sync);

        if (rc < 0)
            return false;
        if (rc == 0 || sync)
            return true;
    }
}

/* The CAS of the last reply that carried a non-zero one (0 when none). */
static const unsigned char *last_cas(const struct replies *r)
{
    static const unsigned char zero[8];

    for (size_t i = r->n; i-- > 0;)
        if (r->v[i].len >= HDR && memcmp(r->v[i].p + 16, zero, 8) != 0)
            return r->v[i].p + 16;
    return zero;
}

/*
 * Runs case k on c: its sends (collecting the replies so far before a step
 * that uses {cas}), then the sync Noop (or, for a "<close" case, reads to
 * EOF). False when a reply never came within the deadline.
 */
static bool run_case(struct mcd_conn *c, const struct bcase *k, struct replies *r)
{
    memset(r, 0, sizeof(*r));
    for (size_t i = 0; i < k->nsteps; i++) {
        const struct step *st = &k->steps[i];

        if (st->ncas > 0) {
            if (!sync_replies(c, r))
                return false;
            for (size_t j = 0; j < st->ncas; j++)
                memcpy(st->data.p + st->cas_at[j], last_cas(r), 8);
        }
        if (r->closed)
            break;
        if (st->bytewise)
            (void)mcd_send_bytewise(c, st->data.p, st->data.len);
        else
            (void)mcd_send(c, st->data.p, st->data.len);
    }
    if (!k->expect_close)
        return sync_replies(c, r);
    while (!r->closed) {
        bool sync;

        if (read_packet(c, r, &sync) < 0)
            return false;
    }
    return true;
}

/* ---- formatting (recorder output and mismatch reports) ------------------ */

static bool printable(unsigned char c)
{
    return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
}

static void format_bytes(struct mcd_buf *o, const unsigned char *p, size_t n)
{
    size_t i = 0;

    while (i < n) {
        size_t j = i;

        while (j < n && p[j] == p[i])
            j++;
        if (j - i >= 16) {
            mcd_buf_addf(o, " %02x*%zu", p[i], j - i);
            i = j;
            continue;
        }
        mcd_buf_addc(o, ' ');
        if (printable(p[i])) {
            mcd_buf_addc(o, '"');
            while (i < n && printable(p[i]))
                mcd_buf_addc(o, p[i++]);
            mcd_buf_addc(o, '"');
        } else {
            while (i < n && !printable(p[i])) {
                mcd_buf_addf(o, "%02x", p[i]);
                i++;
            }
        }
    }
}

/* One "<" line for a reply packet, with the CAS and version masked. */
static char *format_packet(const struct packet *pk)
{
    struct mcd_buf o = {0};
    const unsigned char *p = pk->p;
    static const unsigned char zero[8];

    mcd_buf_add(&o, "<", 1);
    if (pk->len < HDR || pk->len != HDR + (size_t)rd32(p + 8)) {
        mcd_buf_add(&o, " # fragment:", 12);
        format_bytes(&o, p, pk->len);
        return (char *)o.p;
    }
    uint16_t keylen = rd16(p + 2);
    uint8_t extlen = p[4];
    uint32_t bodylen = rd32(p + 8);
    bool version = p[1] == OP_VERSION && rd16(p + 6) == 0;

    mcd_buf_addf(&o, " %02x %02x %04x %02x %02x %04x", p[0], p[1], keylen, extlen, p[5], rd16(p + 6));
    if (version)
        mcd_buf_addf(&o, " ????????");
    else
        mcd_buf_addf(&o, " %08x", bodylen);
    mcd_buf_addf(&o, " %08x", rd32(p + 12));
    if (memcmp(p + 16, zero, 8) != 0)
        mcd_buf_addf(&o, " {cas}");
    else
        mcd_buf_addf(&o, " 0000000000000000");
    if (bodylen == 0)
        return (char *)o.p;
    mcd_buf_add(&o, " |", 2);
    if (version) {
        mcd_buf_add(&o, " {body}", 7);
    } else if ((size_t)extlen + keylen > bodylen) {
        format_bytes(&o, p + HDR, bodylen);
    } else if ((p[1] == 0x05 || p[1] == 0x06 || p[1] == 0x15 || p[1] == 0x16) && bodylen == 8) {
        mcd_buf_addc(&o, ' '); /* an incr/decr result: a 64-bit number, in hex */
        for (size_t i = 0; i < 8; i++)
            mcd_buf_addf(&o, "%02x", p[HDR + i]);
    } else {
        if (extlen > 0) {
            mcd_buf_addc(&o, ' ');
            for (size_t i = 0; i < extlen; i++)
                mcd_buf_addf(&o, "%02x", p[HDR + i]);
        }
        format_bytes(&o, p + HDR + extlen, keylen);
        format_bytes(&o, p + HDR + extlen + keylen, bodylen - extlen - keylen);
    }
    return (char *)o.p;
}

/* ---- matching ----------------------------------------------------------- */

static bool packet_matches(const struct expect *e, const struct packet *pk)
{
    size_t i;

    for (i = 0; i < e->pat.len; i++) {
        if (e->kinds[i] == PK_REST)
            return true;
        if (i >= pk->len)
            return false;
        if (e->kinds[i] == PK_LIT && e->pat.p[i] != pk->p[i])
            return false;
        if (e->kinds[i] == PK_CAS && (i == 0 || e->kinds[i - 1] != PK_CAS)) {
            static const unsigned char zero[8];

            if (i + 8 > pk->len || memcmp(pk->p + i, zero, 8) == 0)
                return false;
        }
    }
    return i == pk->len;
}

static bool is_stat_packet(const struct packet *pk, uint32_t opaque)
{
    return pk->len >= HDR && pk->len == HDR + (size_t)rd32(pk->p + 8) && pk->p[0] == 0x81 && pk->p[1] == OP_STAT &&
           rd16(pk->p + 6) == 0 && rd32(pk->p + 12) == opaque && pk->p[4] == 0;
}

/* Consumes a stat listing at r->v[*pos]; false with a reason on mismatch. */
static bool stats_match(const struct expect *e, const struct replies *r, size_t *pos, char *why, size_t whylen)
{
    bool *seen = calloc(e->nnames + 1, sizeof(*seen));

    if (seen == NULL)
        abort();
    for (; *pos < r->n; (*pos)++) {
        const struct packet *pk = &r->v[*pos];

        if (!is_stat_packet(pk, e->opaque)) {
            snprintf(why, whylen, "packet %zu is not a stat packet with opaque %08x", *pos, e->opaque);
            free(seen);
            return false;
        }
        uint16_t keylen = rd16(pk->p + 2);
        if (keylen == 0) {
            (*pos)++;
            if (rd32(pk->p + 8) != 0) {
                snprintf(why, whylen, "stat terminator has a body");
                free(seen);
                return false;
            }
            for (size_t i = 0; i < e->nnames; i++)
                if (!seen[i]) {
                    snprintf(why, whylen, "stat %s missing", e->names[i]);
                    free(seen);
                    return false;
                }
            free(seen);
            return true;
        }
        for (size_t i = 0; i < e->nnames; i++)
            if (strlen(e->names[i]) == keylen && memcmp(e->names[i], pk->p + HDR, keylen) == 0)
                seen[i] = true;
    }
    snprintf(why, whylen, "no empty stat packet ends the listing");
    free(seen);
    return false;
}

/* True when the replies match the case; else prints both sides to stderr. */
static bool case_matches(const struct bcase *k, const struct replies *r)
{
    size_t pos = 0;
    char why[200] = "";
    bool ok = true;

    for (size_t i = 0; i < k->nexp && ok; i++) {
        const struct expect *e = &k->exp[i];

        if (e->is_stats) {
            ok = stats_match(e, r, &pos, why, sizeof(why));
        } else if (pos >= r->n) {
            snprintf(why, sizeof(why), "reply %zu missing", i + 1);
            ok = false;
        } else if (!packet_matches(e, &r->v[pos])) {
            snprintf(why, sizeof(why), "packet %zu differs", pos + 1);
            ok = false;
        } else {
            pos++;
        }
    }
    if (ok && pos != r->n) {
        snprintf(why, sizeof(why), "%zu unexpected packet(s)", r->n - pos);
        ok = false;
    }
    if (ok && r->closed != k->expect_close) {
        snprintf(why, sizeof(why), "%s", k->expect_close ? "connection not closed" : "connection closed");
        ok = false;
    }
    if (ok)
        return true;
    fprintf(stderr, "binary case %s (line %d): %s\n  expected:\n", k->name, k->line, why);
    for (size_t i = 0; i < k->nexp_lines; i++)
        fprintf(stderr, "    %s\n", k->exp_lines[i]);
    if (k->expect_close)
        fprintf(stderr, "    <close\n");
    fprintf(stderr, "  actual:\n");
    for (size_t i = 0; i < r->n; i++) {
        char *s = format_packet(&r->v[i]);

        fprintf(stderr, "    %s\n", s);
        free(s);
    }
    if (r->closed)
        fprintf(stderr, "    <close\n");
    return false;
}

#ifdef MCD_BINARY_RECORDER
/* ======================================================================== */
/* record_binary_cases IN.cases [OUT.cases]: rewrite "<" lines from memcached */

static bool write_table(const struct btable *t, const char *path, const struct replies *rs)
{
    FILE *fp = fopen(path, "w");

    if (fp == NULL) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return false;
    }
    for (size_t i = 0; i < t->n; i++) {
        const struct bcase *k = &t->cases[i];

        for (size_t j = 0; j < k->nraw; j++)
            fprintf(fp, "%s\n", k->raw[j]);
        if (k->has_stats) {
            for (size_t j = 0; j < k->nexp_lines; j++)
                fprintf(fp, "%s\n", k->exp_lines[j]);
        } else {
            for (size_t j = 0; j < rs[i].n; j++) {
                char *s = format_packet(&rs[i].v[j]);

                fprintf(fp, "%s\n", s);
                free(s);
            }
        }
        if (rs[i].closed)
            fprintf(fp, "<close\n");
    }
    for (size_t j = 0; j < t->ntrailer; j++)
        fprintf(fp, "%s\n", t->trailer[j]);
    return fclose(fp) == 0;
}

int main(int argc, char **argv)
{
    const char *bin = mcd_oracle_bin();
    struct mcd_server *srv;
    struct btable *t;
    struct replies *rs;
    int rc = 0;

    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s IN.cases [OUT.cases]\n", argv[0]);
        return 2;
    }
    if (bin == NULL) {
        fprintf(stderr, "memcached not found (set MEMCACHED_BIN)\n");
        return 2;
    }
    t = table_load(argv[1]);
    if (t == NULL)
        return 1;
    srv = mcd_start_bin(bin, NULL);
    if (srv == NULL)
        return 1;
    rs = calloc(t->n + 1, sizeof(*rs));
    if (rs == NULL)
        abort();
    for (size_t i = 0; i < t->n; i++) {
        const struct bcase *k = &t->cases[i];
        struct mcd_conn *c = mcd_conn_open(srv);

        if (c == NULL || !run_case(c, k, &rs[i])) {
            fprintf(stderr, "case %s: %s\n", k->name, c == NULL ? "cannot connect" : "no reply before the deadline");
            rc = 1;
        } else if (k->has_stats && !case_matches(k, &rs[i])) {
            fprintf(stderr, "case %s: the hand-written <stats check fails against memcached\n", k->name);
            rc = 1;
        }
        mcd_conn_close(c);
    }
    mcd_stop(srv);
    if (rc == 0 && !write_table(t, argc == 3 ? argv[2] : argv[1], rs))
        rc = 1;
    for (size_t i = 0; i < t->n; i++)
        replies_free(&rs[i]);
    free(rs);
    table_free(t);
    return rc;
}

#else
/* ======================================================================== */
/* the tests                                                                 */

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

Test(binary_cases, table, .timeout = 60)
{
    const char *dir = getenv("MCD_CASES_DIR");
    char path[1024];
    struct btable *t;
    struct mcd_server *srv;
    size_t failed = 0;

    snprintf(path, sizeof(path), "%s/binary.cases", dir != NULL && *dir != '\0' ? dir : MCD_CASES_DIR);
    t = table_load(path);
    cr_assert_not_null(t, "cannot load %s", path);
    cr_assert_gt(t->n, 0, "%s has no cases", path);
    srv = mcd_start(NULL);
    cr_assert_not_null(srv, "server %s did not start", mcd_bin());
    for (size_t i = 0; i < t->n; i++) {
        const struct bcase *k = &t->cases[i];
        struct mcd_conn *c = mcd_conn_open(srv);
        struct replies r;

        cr_assert_not_null(c, "case %s: cannot connect", k->name);
        cr_expect(k->nexp > 0 || k->expect_close, "case %s (line %d) has no recorded reply", k->name, k->line);
        bool done = run_case(c, k, &r);
        if (!done || !case_matches(k, &r)) {
            failed++;
            cr_expect_fail("binary case %s (binary.cases:%d) differs from memcached%s", k->name, k->line,
                           done ? " (details on stderr)" : ": no reply before the deadline");
        }
        replies_free(&r);
        mcd_conn_close(c);
    }
    cr_log_info("binary.cases: %zu of %zu cases passed", t->n - failed, t->n);
    mcd_stop(srv);
    table_free(t);
}

/* ---- protocol selection (-B) -------------------------------------------- */

/* One binary request header (no body). */
static void bin_header(unsigned char *h, uint8_t opcode, uint32_t opaque)
{
    memset(h, 0, HDR);
    h[0] = 0x80;
    h[1] = opcode;
    h[12] = (unsigned char)(opaque >> 24);
    h[13] = (unsigned char)(opaque >> 16);
    h[14] = (unsigned char)(opaque >> 8);
    h[15] = (unsigned char)opaque;
}

/* Sends a binary Version and checks the reply's header; true on success. */
static bool bin_version_ok(struct mcd_conn *c, uint32_t opaque)
{
    unsigned char h[HDR];
    struct replies r = {0};
    bool sync, ok;

    bin_header(h, OP_VERSION, opaque);
    if (!mcd_send(c, h, sizeof(h)))
        return false;
    ok = read_packet(c, &r, &sync) == 1 && r.n == 1 && r.v[0].len > HDR && r.v[0].p[0] == 0x81 &&
         r.v[0].p[1] == OP_VERSION && rd16(r.v[0].p + 6) == 0 && rd32(r.v[0].p + 12) == opaque;
    replies_free(&r);
    return ok;
}

/*
 * Starts the server with -B binary. The harness's readiness probe speaks
 * text, which such a server refuses, so this starts the child itself and
 * polls with a binary Version instead; the result is an ordinary
 * mcd_server for mcd_stop().
 */
static struct mcd_server *start_binary_only(void)
{
    for (int attempt = 0; attempt < 6; attempt++) {
        struct mcd_server *srv = calloc(1, sizeof(*srv));
        struct mcd_conn *probe = NULL;
        char port[16];
        const char *tmp = getenv("TMPDIR");
        int lfd = -1;

        cr_assert_not_null(srv);
        /* a free port: bind port 0, read it, close (a lost race is retried) */
        int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t slen = sizeof(sa);
        cr_assert_geq(s, 0);
        cr_assert_eq(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
        cr_assert_eq(getsockname(s, (struct sockaddr *)&sa, &slen), 0);
        close(s);
        srv->port = ntohs(sa.sin_port);
        snprintf(port, sizeof(port), "%d", srv->port);
        snprintf(srv->log_path, sizeof(srv->log_path), "%s/mcd-test-binonly-%d-%d.log",
                 tmp != NULL && *tmp != '\0' ? tmp : "/tmp", (int)getpid(), attempt);

        /* "-u root" only as root (the NULL ends argv early otherwise) */
        const char *argv[] = {mcd_bin(), "-p", port, "-l", "127.0.0.1", "-U", "0", "-B", "binary",
                              geteuid() == 0 ? "-u" : NULL, "root", NULL};
        pid_t parent = getpid();
        lfd = open(srv->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        srv->pid = fork();
        cr_assert_geq(srv->pid, 0);
        if (srv->pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != parent)
                _exit(127);
            if (lfd >= 0) {
                dup2(lfd, STDOUT_FILENO);
                dup2(lfd, STDERR_FILENO);
            }
            execv(argv[0], (char *const *)argv);
            _exit(127);
        }
        if (lfd >= 0)
            close(lfd);
        for (long long deadline = mcd_now_ms() + 10000; mcd_now_ms() < deadline; mcd_poll_pause()) {
            if (mcd_wait_exit(srv, 0))
                break; /* died: most likely the port was taken */
            probe = mcd_conn_open(srv);
            if (probe != NULL && bin_version_ok(probe, 0x0000b00b)) {
                mcd_conn_close(probe);
                return srv;
            }
            mcd_conn_close(probe);
        }
        mcd_stop(srv);
    }
    cr_assert_fail("server %s -B binary did not start", mcd_bin());
    return NULL;
}

/* A text request of at least 24 bytes: a binary-only server reads a whole
 * header before it looks at the magic byte, as memcached does. */
#define TEXT_REQ "get key-one key-two key-three\r\n"

Test(protocol_select, binary_refuses_text, .timeout = 30)
{
    struct mcd_server *srv = start_binary_only();
    struct mcd_conn *c = mcd_conn_open(srv);

    cr_assert_not_null(c);
    cr_assert(bin_version_ok(c, 0x01020304), "-B binary: binary Version failed");
    mcd_conn_close(c);

    c = mcd_conn_open(srv);
    cr_assert_not_null(c);
    cr_assert(mcd_sendstr(c, TEXT_REQ));
    cr_expect(mcd_expect_eof(c, MCD_IO_TIMEOUT_MS), "-B binary: a text request must close the connection, no reply");
    mcd_conn_close(c);

    /* the server itself is fine */
    c = mcd_conn_open(srv);
    cr_assert_not_null(c);
    cr_expect(bin_version_ok(c, 0x05060708), "-B binary: server gone after a text client");
    mcd_conn_close(c);
    mcd_stop(srv);
}

Test(protocol_select, ascii_reads_binary_as_text, .timeout = 30)
{
    static const char *const args[] = {"-B", "ascii", NULL};
    struct mcd_server *srv = mcd_start(args);
    unsigned char h[HDR + 1];
    struct mcd_conn *c;

    cr_assert_not_null(srv, "server %s -B ascii did not start", mcd_bin());
    c = mcd_conn_open(srv);
    cr_assert_not_null(c);
    /* a binary Get of key "k" (no 0x0a byte in it), ended by a newline */
    bin_header(h, 0x00, 0x01020304);
    h[3] = 1;  /* keylen */
    h[11] = 1; /* bodylen */
    h[HDR] = 'k';
    cr_assert(mcd_send(c, h, sizeof(h)));
    cr_assert(mcd_roundtrip(c, "\r\n", "ERROR\r\n"), "-B ascii: 0x80 must read as an unknown text command");
    cr_assert(mcd_roundtrip(c, "version\r\n", "VERSION {str}\r\n"), "-B ascii: connection not kept");
    mcd_conn_close(c);
    mcd_stop(srv);
}

Test(protocol_select, auto_serves_both, .timeout = 30)
{
    static const char *const args[] = {"-B", "auto", NULL};
    struct mcd_server *srv = mcd_start(args);
    struct mcd_conn *text, *bin;

    cr_assert_not_null(srv, "server %s -B auto did not start", mcd_bin());
    text = mcd_conn_open(srv);
    bin = mcd_conn_open(srv);
    cr_assert(text != NULL && bin != NULL);
    cr_assert(bin_version_ok(bin, 0x11111111), "-B auto: binary Version failed");
    cr_assert(mcd_roundtrip(text, "set ps 0 0 2\r\nhi\r\n", "STORED\r\n"));
    cr_assert(bin_version_ok(bin, 0x22222222));
    cr_assert(mcd_roundtrip(text, "get ps\r\n", "VALUE ps 0 2\r\nhi\r\nEND\r\n"));
    /* the first byte fixes a connection's protocol: text is not read on a
     * binary connection, binary not on a text one */
    cr_assert(mcd_sendstr(bin, TEXT_REQ));
    cr_expect(mcd_expect_eof(bin, MCD_IO_TIMEOUT_MS), "-B auto: text on a binary connection must close it");
    cr_assert(mcd_roundtrip(text, "version\r\n", "VERSION {str}\r\n"));
    mcd_conn_close(text);
    mcd_conn_close(bin);
    mcd_stop(srv);
}

/* ---- out of memory (-M) --------------------------------------------------- */

/*
 * Fills a -M -m 2 server with 100 KB values until a Set fails: the reply is
 * 0x82 with memcached 1.6.45's text for a failed item allocation, the value
 * is swallowed and the connection kept. Run against memcached too when it is
 * installed, to keep the expectation honest.
 */
static void set_until_out_of_memory(const char *bin)
{
    static const char *const args[] = {"-M", "-m", "2", NULL};
    static const char text[] = "Out of memory allocating item";
    enum { VLEN = 100000 };
    struct mcd_server *srv = mcd_start_bin(bin, args);
    cr_assert_not_null(srv, "%s -M -m 2 did not start", bin != NULL ? bin : mcd_bin());
    struct mcd_conn *c = mcd_conn_open(srv);
    cr_assert_not_null(c);
    unsigned char *req = calloc(1, HDR + 8 + 8 + VLEN);
    cr_assert_not_null(req);
    bool failed = false;

    for (uint32_t i = 0; i < 200 && !failed; i++) {
        struct replies r = {0};
        bool sync;
        bin_header(req, 0x01, i);
        req[3] = 8;  /* keylen */
        req[4] = 8;  /* extlen */
        uint32_t body = 8 + 8 + VLEN;
        req[8] = (unsigned char)(body >> 24);
        req[9] = (unsigned char)(body >> 16);
        req[10] = (unsigned char)(body >> 8);
        req[11] = (unsigned char)body;
        snprintf((char *)req + HDR + 8, 9, "oom%05u", (unsigned)i);
        memset(req + HDR + 16, 'v', VLEN);
        cr_assert(mcd_send(c, req, HDR + 16 + VLEN));
        cr_assert_eq(read_packet(c, &r, &sync), 1, "set %u: no reply", (unsigned)i);
        cr_assert_eq(r.n, 1);
        const unsigned char *p = r.v[0].p;
        uint16_t status = rd16(p + 6);
        if (status != 0) {
            failed = true;
            cr_expect_eq(status, 0x82, "set %u: status 0x%x", (unsigned)i, status);
            cr_expect_eq(rd32(p + 12), i, "opaque");
            cr_expect_eq(rd32(p + 8), sizeof(text) - 1, "body length");
            cr_expect(r.v[0].len == HDR + sizeof(text) - 1 && memcmp(p + HDR, text, sizeof(text) - 1) == 0,
                      "body is not \"%s\"", text);
        }
        replies_free(&r);
    }
    cr_expect(failed, "200 sets of 100 KB all fit in -m 2");
    cr_expect(bin_version_ok(c, 0x0000c0de), "connection not kept after out of memory");
    free(req);
    mcd_conn_close(c);
    mcd_stop(srv);
}

Test(binary_errors, out_of_memory_text, .timeout = 60)
{
    set_until_out_of_memory(NULL);
    if (!mcd_target_is_memcached() && mcd_oracle_bin() != NULL)
        set_until_out_of_memory(mcd_oracle_bin());
}
#endif
