/*
 * shrink.c - reduce a diverging sequence to a small reproduction.
 *
 * Every candidate is played on fresh servers (no state left over from the
 * previous try) and kept only when it still diverges with the same
 * signature, so the shrinker never wanders from one difference to another.
 * Passes, each repeated while it makes progress and the try budget lasts:
 *   1. drop the send chunking, then merge all batches into one;
 *   2. drop requests, in halves, quarters, ... down to single requests;
 *   3. shorten requests: drop one space-separated token of a text/meta
 *      command line, cut a data block (and the length that announces it)
 *      to 0, 1 or half, cut a binary packet's value the same way.
 * A divergence that needs state comes with the sequences played before it
 * (the prefix, each on its own connection, before every candidate).
 * dg_shrink_prefix first drops the prefix sequences it does not need (runs
 * of n/2, n/4, ... 1), then tries the rest and the diverging sequence back
 * to back on one connection, so that the passes above can cut through all
 * of it.
 */
#include "config.h"

#include "tests/diff/diffgen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct shrinker {
    const struct dg_flagset *fs;
    const struct dg_seq *prefix;
    size_t nprefix;
    const char *sig;
    int stall_ms;
    int tries, max_tries;
};

static bool still_diverges(struct shrinker *k, const struct dg_seq *cand)
{
    struct dg_verdict v;
    bool same;

    if (k->tries >= k->max_tries || cand->n == 0)
        return false;
    k->tries++;
    if (!dg_compare_fresh(k->fs, k->prefix, k->nprefix, cand, k->stall_ms, &v))
        return false;
    same = v.differs && strcmp(v.sig, k->sig) == 0;
    dg_verdict_free(&v);
    return same;
}

static void adopt(struct dg_seq *s, struct dg_seq *cand)
{
    dg_seq_free(s);
    *s = *cand;
    memset(cand, 0, sizeof(*cand));
}

/* s without requests [from, from+n); the new last request ends a batch. */
static void without(const struct dg_seq *s, size_t from, size_t n, struct dg_seq *out)
{
    memset(out, 0, sizeof(*out));
    out->mode = s->mode;
    out->chunk_seed = s->chunk_seed;
    for (size_t i = 0; i < s->n; i++)
        if (i < from || i >= from + n)
            dg_seq_push(out, &s->reqs[i]);
    if (out->n > 0)
        out->reqs[out->n - 1].batch_end = true;
}

static bool pass_drop(struct shrinker *k, struct dg_seq *s)
{
    bool progress = false;

    for (size_t chunk = s->n / 2 > 0 ? s->n / 2 : 1; chunk >= 1; chunk /= 2) {
        for (size_t i = 0; i < s->n && s->n > 1;) {
            struct dg_seq cand;

            without(s, i, chunk, &cand);
            if (still_diverges(k, &cand)) {
                adopt(s, &cand);
                progress = true;
            } else {
                dg_seq_free(&cand);
                i += chunk;
            }
        }
        if (chunk == 1)
            break;
    }
    return progress;
}

/* Replaces request i of a copy of s by bytes b[0..len) (cas ref adjusted by the caller). */
static void with_req(const struct dg_seq *s, size_t i, const struct dg_req *r, struct dg_seq *out)
{
    dg_seq_copy(out, s);
    free(out->reqs[i].b);
    out->reqs[i] = *r;
    out->reqs[i].b = mcd_xrealloc(NULL, r->len + 1);
    memcpy(out->reqs[i].b, r->b, r->len);
}

static bool try_req(struct shrinker *k, struct dg_seq *s, size_t i, const struct dg_req *r)
{
    struct dg_seq cand;

    with_req(s, i, r, &cand);
    if (still_diverges(k, &cand)) {
        adopt(s, &cand);
        return true;
    }
    dg_seq_free(&cand);
    return false;
}

/* Text: the first line's tokens, and a data block announced by one of them. */
static bool shorten_text(struct shrinker *k, struct dg_seq *s, size_t i)
{
    const struct dg_req *q = &s->reqs[i];
    const unsigned char *nl = memchr(q->b, '\n', q->len);
    size_t line = nl != NULL ? (size_t)(nl - q->b) + 1 : q->len;
    bool progress = false;

    /* drop token j (with the space before it), last token first */
    for (size_t at = line; at > 0; at--) {
        q = &s->reqs[i];
        if (at >= q->len || q->b[at - 1] != ' ')
            continue;
        size_t e = at;
        while (e < line && q->b[e] != ' ' && q->b[e] != '\r' && q->b[e] != '\n')
            e++;
        struct dg_req r = *q;
        struct mcd_buf nb = {0};
        mcd_buf_add(&nb, q->b, at - 1);
        mcd_buf_add(&nb, q->b + e, q->len - e);
        r.b = nb.p;
        r.len = nb.len;
        if (r.cas_ref >= 0 && !r.cas_bin) {
            if (r.cas_off >= at - 1 && r.cas_off <= e)
                r.cas_ref = -1;
            else if (r.cas_off > e)
                r.cas_off -= e - (at - 1);
        }
        if (try_req(k, s, i, &r)) {
            progress = true;
            line -= e - (at - 1);
        }
        free(nb.p);
    }

    /* a data block "<line>\r\n<L bytes>\r\n" whose L is a token of the line */
    q = &s->reqs[i];
    if (line >= q->len || q->len - line < 2)
        return progress;
    size_t blk = q->len - line - 2;
    char want[24];
    snprintf(want, sizeof(want), " %zu", blk);
    size_t wl = strlen(want);
    for (size_t at = 0; at + wl <= line; at++) {
        if (memcmp(q->b + at, want, wl) != 0 || (q->b[at + wl] != ' ' && q->b[at + wl] != '\r'))
            continue;
        static const int divs[] = {0, 1, 2};
        for (int d = 0; d < 3; d++) {
            size_t nl2 = divs[d] == 0 ? 0 : divs[d] == 1 ? (blk > 1 ? 1 : 0) : blk / 2;
            if (nl2 >= blk)
                continue;
            struct mcd_buf nb = {0};
            struct dg_req r = *q;
            mcd_buf_add(&nb, q->b, at);
            mcd_buf_addf(&nb, " %zu", nl2);
            size_t ntl = nb.len - at;
            mcd_buf_add(&nb, q->b + at + wl, line - at - wl);
            mcd_buf_add(&nb, q->b + line, nl2);
            mcd_buf_add(&nb, "\r\n", 2);
            r.b = nb.p;
            r.len = nb.len;
            if (r.cas_ref >= 0 && !r.cas_bin && r.cas_off > at)
                r.cas_off = r.cas_off - wl + ntl;
            bool ok = try_req(k, s, i, &r);
            free(nb.p);
            if (ok)
                return true;
        }
        break;
    }
    return progress;
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Binary: cut the value of a well-framed packet. */
static bool shorten_bin(struct shrinker *k, struct dg_seq *s, size_t i)
{
    const struct dg_req *q = &s->reqs[i];

    if (q->len < 24)
        return false;
    size_t keylen = (size_t)q->b[2] << 8 | q->b[3], ext = q->b[4], body = get32(q->b + 8);
    if (24 + body != q->len || ext + keylen > body)
        return false;
    size_t val = body - ext - keylen;
    for (int d = 0; d < 2 && val > 0; d++) {
        size_t nv = d == 0 ? 0 : val / 2;
        struct dg_req r = *q;
        struct mcd_buf nb = {0};
        mcd_buf_add(&nb, q->b, 24 + ext + keylen + nv);
        uint32_t nbody = (uint32_t)(ext + keylen + nv);
        nb.p[8] = (unsigned char)(nbody >> 24);
        nb.p[9] = (unsigned char)(nbody >> 16);
        nb.p[10] = (unsigned char)(nbody >> 8);
        nb.p[11] = (unsigned char)nbody;
        r.b = nb.p;
        r.len = nb.len;
        bool ok = try_req(k, s, i, &r);
        free(nb.p);
        if (ok)
            return true;
    }
    return false;
}

static bool pass_shorten(struct shrinker *k, struct dg_seq *s)
{
    bool progress = false;

    for (size_t i = 0; i < s->n && k->tries < k->max_tries; i++) {
        if (s->reqs[i].len > 0 && s->reqs[i].b[0] == 0x80)
            progress |= shorten_bin(k, s, i);
        else
            progress |= shorten_text(k, s, i);
    }
    return progress;
}

void dg_shrink(const struct dg_flagset *fs, const struct dg_seq *prefix, size_t nprefix, struct dg_seq *s,
               const char *sig, int stall_ms, int max_tries)
{
    struct shrinker k = {.fs = fs, .prefix = prefix, .nprefix = nprefix, .sig = sig, .stall_ms = stall_ms,
                         .max_tries = max_tries};
    struct dg_seq cand;

    if (s->chunk_seed != 0) {
        dg_seq_copy(&cand, s);
        cand.chunk_seed = 0;
        if (still_diverges(&k, &cand))
            adopt(s, &cand);
        else
            dg_seq_free(&cand);
    }
    dg_seq_copy(&cand, s);
    for (size_t i = 0; i + 1 < cand.n; i++)
        cand.reqs[i].batch_end = false;
    if (still_diverges(&k, &cand))
        adopt(s, &cand);
    else
        dg_seq_free(&cand);
    for (int round = 0; round < 4 && k.tries < k.max_tries; round++) {
        bool p = pass_drop(&k, s);
        p |= pass_shorten(&k, s);
        if (!p)
            break;
    }
}

/* s after the prefix sequences whose bit in `keep` is set. */
static bool prefix_diverges(struct shrinker *k, struct dg_seq *all, size_t n, const bool *keep,
                            const struct dg_seq *s)
{
    struct dg_seq *sel = mcd_xrealloc(NULL, (n + 1) * sizeof(*sel));
    size_t m = 0;
    struct dg_verdict v;
    bool same = false;

    for (size_t i = 0; i < n; i++)
        if (keep[i])
            sel[m++] = all[i];
    if (k->tries < k->max_tries) {
        k->tries++;
        if (dg_compare_fresh(k->fs, sel, m, s, k->stall_ms, &v)) {
            same = v.differs && strcmp(v.sig, k->sig) == 0;
            dg_verdict_free(&v);
        }
    }
    free(sel);
    return same;
}

int dg_shrink_prefix(const struct dg_flagset *fs, struct dg_seq *prefix, size_t *nprefix, struct dg_seq *s,
                     const char *sig, int stall_ms, int max_tries)
{
    struct shrinker k = {.fs = fs, .sig = sig, .stall_ms = stall_ms, .max_tries = max_tries};
    size_t n = *nprefix;
    bool *keep = mcd_xrealloc(NULL, n + 1);

    memset(keep, 1, n + 1);
    /* drop prefix sequences: runs of n/2, n/4, ... 1, each left out when it is not needed */
    bool *was = mcd_xrealloc(NULL, n + 1);
    for (size_t chunk = n / 2 > 0 ? n / 2 : 1; n > 0; chunk /= 2) {
        for (size_t i = 0; i < n; i += chunk) {
            bool any = false;
            memcpy(was, keep, n);
            for (size_t j = i; j < i + chunk && j < n; j++) {
                any |= keep[j];
                keep[j] = false;
            }
            if (any && !prefix_diverges(&k, prefix, n, keep, s))
                memcpy(keep, was, n);
        }
        if (chunk <= 1)
            break;
    }
    free(was);
    /* the kept ones to the front, in order; the others are freed */
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (keep[i]) {
            struct dg_seq t = prefix[m];
            prefix[m] = prefix[i];
            prefix[i] = t;
            m++;
        }
    }
    for (size_t i = m; i < n; i++)
        dg_seq_free(&prefix[i]);
    *nprefix = m;
    free(keep);

    /* one connection: the kept sequences and s back to back, when they speak one protocol */
    bool one_mode = true;
    for (size_t i = 0; i < m; i++)
        one_mode &= prefix[i].mode == s->mode;
    if (m > 0 && one_mode && k.tries < k.max_tries) {
        struct dg_seq merged = {.mode = s->mode};
        for (size_t i = 0; i <= m; i++) {
            const struct dg_seq *p = i < m ? &prefix[i] : s;
            for (size_t j = 0; j < p->n; j++) {
                struct dg_req r = p->reqs[j];
                r.batch_end = r.batch_end || j + 1 == p->n;
                dg_seq_push(&merged, &r);
            }
        }
        k.tries++;
        struct dg_verdict v;
        if (dg_compare_fresh(fs, NULL, 0, &merged, stall_ms, &v) && v.differs && strcmp(v.sig, sig) == 0) {
            dg_seq_free(s);
            *s = merged;
            for (size_t i = 0; i < m; i++)
                dg_seq_free(&prefix[i]);
            *nprefix = 0;
        } else {
            dg_seq_free(&merged);
        }
        dg_verdict_free(&v);
    }
    return k.tries;
}
