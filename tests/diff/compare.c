/*
 * compare.c - play a sequence to the oracle and to the server under test
 * and decide whether they diverge; name the divergence by a signature
 * (the first differing reply line on each side, numbers masked) that
 * survives shrinking and groups repeats of one difference.
 */
#include "config.h"

#include "tests/diff/diffgen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/harness.h"

struct mcd_server *dg_start(const char *bin, const struct dg_flagset *fs)
{
    if (fs->proto == DG_ONLY_BINARY)
        return mcd_start_bin_binary(bin, fs->args);
    return mcd_start_bin(bin, fs->args);
}

void dg_verdict_free(struct dg_verdict *v)
{
    dg_result_free(&v->r[0]);
    dg_result_free(&v->r[1]);
    memset(v, 0, sizeof(*v));
}

/* The line of b around offset at, numbers and key prefixes masked, at most 90 bytes. */
static void sig_line(const struct mcd_buf *b, size_t at, char *out, size_t cap)
{
    size_t s = at, e = at, o = 0;

    if (at >= b->len) {
        snprintf(out, cap, "<nothing>");
        return;
    }
    while (s > 0 && b->p[s - 1] != '\n')
        s--;
    while (e < b->len && b->p[e] != '\n')
        e++;
    bool bin = e - s > 4 && memcmp(b->p + s, "BIN ", 4) == 0;
    if (bin && e - s > 17)
        e = s + 17; /* "BIN op=xx st=xxxx" */
    for (size_t i = s; i < e && o + 2 < cap && o < 90; i++) {
        unsigned char ch = b->p[i];
        if (!bin && ch >= '0' && ch <= '9') {
            if (o == 0 || out[o - 1] != 'N')
                out[o++] = 'N';
        } else if (ch == '\r') {
            continue;
        } else {
            out[o++] = (char)ch;
        }
    }
    out[o] = '\0';
}

/*
 * Held replies are not a divergence. memcached 1.6.45 writes the replies it
 * has queued only once it has parsed all the input it has; while it waits
 * for the rest of a data block or a binary body (or swallows one it
 * refused, e.g. a `cas` line whose length token is huge) it sends nothing,
 * and when the connection closes in that state the queued replies are
 * dropped. mcd sends a reply as soon as its request is done. So when both
 * servers end the same batch the same way without the sentinel's reply
 * (both stalled in the middle of a request, or both closed), and all
 * earlier batches match, the oracle's replies to that last batch need only
 * be a prefix of mcd's that ends at a reply boundary: the rest is what
 * memcached held. Everything else about such a batch is still compared,
 * and a batch where only one server stalls or closes is a divergence.
 */
/* memcmp() over n bytes, n == 0 included (a buffer that never grew is NULL). */
static bool same_bytes(const void *a, const void *b, size_t n)
{
    return n == 0 || memcmp(a, b, n) == 0;
}

static bool held_replies(const struct dg_verdict *v)
{
    const struct dg_result *o = &v->r[0], *m = &v->r[1];

    if (o->end != m->end || o->end == DG_END_SYNC || o->batches_done != m->batches_done)
        return false;
    if (o->last_norm_from != m->last_norm_from || !same_bytes(o->norm.p, m->norm.p, o->last_norm_from))
        return false;
    size_t ol = o->norm.len - o->last_norm_from, ml = m->norm.len - m->last_norm_from;
    if (ol > ml || (ol > 0 && o->norm.p[o->norm.len - 1] != '\n'))
        return false;
    return ol == 0 || same_bytes(o->norm.p + o->last_norm_from, m->norm.p + m->last_norm_from, ol);
}

/*
 * Small -m: what must match, and only that. mcd evicts by CLOCK per slab
 * class and takes pages from other classes; memcached 1.6.45 uses a
 * segmented LRU and keeps each class's first page. So under memory
 * pressure which keys survive legitimately differs, and with it every
 * reply that depends on whether a key is present: a hit or a miss
 * (VALUE blocks, END alone), STORED / NOT_STORED / EXISTS / NOT_FOUND /
 * DELETED / TOUCHED, a number or NOT_FOUND from incr, the non-numeric
 * error, SERVER_ERROR out of memory, every meta return code with its
 * flags (and whether a q request answers at all), every binary status of
 * a quiet opcode (it answers only on some outcomes). What stays compared:
 * the parse (ERROR, every other CLIENT_ERROR, which request a reply
 * belongs to), END after each get, MN, OK, VERSION, binary packets of
 * non-quiet opcodes (opcode and opaque; status only when it is not one of
 * the presence-dependent ones), and no crash. Each reply line becomes one
 * line of the projection, data blocks are dropped.
 */
static bool presence_line(const unsigned char *p, size_t n)
{
    static const char *const words[] = {"STORED", "NOT_STORED", "EXISTS", "NOT_FOUND", "DELETED", "TOUCHED",
                                        "SERVER_ERROR out of memory",
                                        "CLIENT_ERROR cannot increment or decrement non-numeric value"};

    if (n > 0 && p[0] >= '0' && p[0] <= '9')
        return true; /* incr/decr result */
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        size_t wl = strlen(words[i]);
        if (n >= wl && memcmp(p, words[i], wl) == 0 && (n == wl || p[wl] == '\r' || p[wl] == ' '))
            return true;
    }
    return false;
}

static bool quiet_op(unsigned op)
{
    return op == 0x09 || op == 0x0d || (op >= 0x11 && op <= 0x1a) || op == 0x1e || op == 0x24;
}

static void shape_of(const unsigned char *p, size_t len, struct mcd_buf *out)
{
    size_t i = 0;
    bool skip_block = false;

    while (i < len) {
        const unsigned char *nl = memchr(p + i, '\n', len - i);
        size_t e = nl != NULL ? (size_t)(nl - p) : len, n = e - i;
        const unsigned char *l = p + i;

        i = e + 1;
        if (skip_block) {
            skip_block = false;
            continue;
        }
        if (n >= 6 && memcmp(l, "VALUE ", 6) == 0) {
            skip_block = true;
            continue;
        }
        if (n >= 2 && (memcmp(l, "VA", 2) == 0) && (n == 2 || l[2] == ' ' || l[2] == '\r')) {
            skip_block = true;
            continue;
        }
        if (n >= 2 && (n == 2 || l[2] == ' ' || l[2] == '\r') &&
            (memcmp(l, "HD", 2) == 0 || memcmp(l, "EN", 2) == 0 || memcmp(l, "NF", 2) == 0 ||
             memcmp(l, "NS", 2) == 0 || memcmp(l, "EX", 2) == 0))
            continue;
        if (presence_line(l, n))
            continue;
        if (n > 16 && memcmp(l, "BIN op=", 7) == 0) {
            unsigned op = 0, st = 0;
            char opq[9] = "";
            const unsigned char *q = memmem(l, n, "opq=", 4);
            if (sscanf((const char *)l, "BIN op=%2x st=%4x", &op, &st) != 2 || quiet_op(op))
                continue;
            if (q != NULL && (size_t)(q + 12 - l) <= n)
                memcpy(opq, q + 4, 8);
            bool presence = st == 0 || st == 1 || st == 2 || st == 5 || st == 6 || st == 0x82;
            if (presence)
                mcd_buf_addf(out, "BIN op=%02x opq=%s\n", op, opq);
            else
                mcd_buf_addf(out, "BIN op=%02x st=%04x opq=%s\n", op, st, opq);
            continue;
        }
        mcd_buf_add(out, l, n);
        mcd_buf_addc(out, '\n');
    }
}

/* Replaces r's normalised replies by their small -m projection. */
static void project_shapes(struct dg_result *r)
{
    struct mcd_buf a = {0};

    shape_of(r->norm.p, r->last_norm_from, &a);
    size_t from = a.len;
    shape_of(r->norm.p + r->last_norm_from, r->norm.len - r->last_norm_from, &a);
    free(r->norm.p);
    r->norm = a;
    r->last_norm_from = from;
}

void dg_judge(struct dg_verdict *v, const struct dg_flagset *fs)
{
    const struct mcd_buf *a = &v->r[0].norm, *b = &v->r[1].norm;
    size_t at = 0;

    if (fs->evictions) {
        project_shapes(&v->r[0]);
        project_shapes(&v->r[1]);
    }
    while (at < a->len && at < b->len && a->p[at] == b->p[at])
        at++;
    v->differs = at != a->len || at != b->len || v->r[0].end != v->r[1].end;
    v->sig[0] = '\0';
    if (v->differs && held_replies(v))
        v->differs = false;
    if (!v->differs)
        return;
    if (at == a->len && at == b->len) {
        snprintf(v->sig, sizeof(v->sig), "[end] %s | %s", dg_end_names[v->r[0].end], dg_end_names[v->r[1].end]);
        return;
    }
    char la[100], lb[100];
    sig_line(a, at, la, sizeof(la));
    sig_line(b, at, lb, sizeof(lb));
    snprintf(v->sig, sizeof(v->sig), "%s | %s", la, lb);
}

bool dg_compare_fresh(const struct dg_flagset *fs, const struct dg_seq *prefix, size_t nprefix,
                      const struct dg_seq *s, int stall_ms, struct dg_verdict *v)
{
    struct mcd_server *srv[2];
    bool ok = true;

    memset(v, 0, sizeof(*v));
    srv[0] = dg_start(mcd_oracle_bin(), fs);
    srv[1] = dg_start(NULL, fs);
    if (srv[0] == NULL || srv[1] == NULL)
        ok = false;
    /* the state: earlier sequences, each on its own connection as in the run */
    for (size_t p = 0; ok && p < nprefix; p++) {
        for (int i = 0; ok && i < 2; i++) {
            struct dg_result r;
            ok = dg_run(srv[i], fs, &prefix[p], stall_ms, &r);
            dg_result_free(&r);
            if (ok && mcd_wait_exit(srv[i], 0)) {
                v->exited[i] = true;
                ok = false;
            }
        }
    }
    if (!ok && (v->exited[0] || v->exited[1])) {
        /* a prefix sequence stopped a server: report that */
        ok = true;
        v->differs = v->exited[0] != v->exited[1];
        snprintf(v->sig, sizeof(v->sig), "[process exited] %s", v->exited[1] ? "server under test" : "oracle");
        mcd_kill(srv[0]);
        mcd_kill(srv[1]);
        return ok;
    }
    for (int i = 0; ok && i < 2; i++)
        ok = dg_run(srv[i], fs, s, stall_ms, &v->r[i]);
    for (int i = 0; ok && i < 2; i++)
        v->exited[i] = mcd_wait_exit(srv[i], 0);
    mcd_kill(srv[0]);
    mcd_kill(srv[1]);
    if (ok)
        dg_judge(v, fs);
    if (ok && v->exited[0] != v->exited[1]) {
        v->differs = true;
        snprintf(v->sig, sizeof(v->sig), "[process exited] %s", v->exited[1] ? "server under test" : "oracle");
    }
    return ok;
}
