/*
 * run.c - play one request sequence to one server and collect its replies.
 *
 * Owns the on-the-wire schedule: each batch's bytes (CAS placeholders
 * filled from this server's CAS map) go out in random-size send() chunks
 * drawn from the sequence's chunk seed, then a sentinel whose reply cannot
 * appear otherwise; the batch's replies are everything before the
 * sentinel's reply. The next batch is sent only then, so what a server
 * answers never depends on timing. A batch ends early at EOF (the server
 * closed the connection: read to the end), or when no byte arrives for
 * stall_ms while the sentinel is still missing (the server waits for
 * input it will never get: a "stall", compared like any other outcome).
 */
#include "config.h"

#include "tests/diff/diffgen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/harness.h"

const char *const dg_end_names[] = {"sentinel", "closed", "stall"};

/*
 * Text sentinel: a noreply set then a get of a private key; values never
 * hold 'S'. The value names the batch ("SYNC0007"), so that when a
 * malformed request eats the set, the get cannot find the value an
 * earlier batch left (which one server may still hold and the other may
 * have evicted under a small -m): the batch ends as a stall on both.
 */
#define TEXT_SYNC_REQ "set __dg_sync 0 0 8 noreply\r\nSYNC%04u\r\nget __dg_sync\r\n"
#define TEXT_SYNC_REPLY "VALUE __dg_sync 0 8\r\nSYNC%04u\r\nEND\r\n"
#define BIN_SYNC_OPAQUE 0x5eab0000u

void dg_result_free(struct dg_result *r)
{
    free(r->norm.p);
    free(r->raw.p);
    memset(r, 0, sizeof(*r));
}

void dg_batch_bytes(const struct dg_seq *s, size_t from, size_t to, const struct dg_casmap *m, struct mcd_buf *out)
{
    for (size_t i = from; i < to; i++) {
        const struct dg_req *q = &s->reqs[i];

        if (q->cas_ref < 0 || q->cas_off > q->len || (q->cas_bin && q->cas_off + 8 > q->len)) {
            mcd_buf_add(out, q->b, q->len);
            continue;
        }
        uint64_t v = (size_t)q->cas_ref < m->n ? m->v[q->cas_ref] : DG_CAS_UNKNOWN;
        if (q->cas_bin) {
            size_t at = out->len;
            mcd_buf_add(out, q->b, q->len);
            for (int k = 0; k < 8; k++)
                out->p[at + q->cas_off + (size_t)k] = (unsigned char)(v >> (56 - 8 * k));
        } else {
            mcd_buf_add(out, q->b, q->cas_off);
            mcd_buf_addf(out, "%llu", (unsigned long long)v);
            mcd_buf_add(out, q->b + q->cas_off, q->len - q->cas_off);
        }
    }
}

static void bin_noop(unsigned char *p, uint32_t opaque, bool reply)
{
    memset(p, 0, 24);
    p[0] = reply ? 0x81 : 0x80;
    p[1] = 0x0a;
    p[12] = (unsigned char)(opaque >> 24);
    p[13] = (unsigned char)(opaque >> 16);
    p[14] = (unsigned char)(opaque >> 8);
    p[15] = (unsigned char)opaque;
}

static const unsigned char *find(const unsigned char *h, size_t hl, const unsigned char *n, size_t nl)
{
    if (hl < nl)
        return NULL;
    for (size_t i = 0; i + nl <= hl; i++)
        if (h[i] == n[0] && memcmp(h + i, n, nl) == 0)
            return h + i;
    return NULL;
}

/* Sends b in chunks; false once the peer is gone (the rest is not sent). */
static bool send_chunked(struct mcd_conn *c, const unsigned char *b, size_t len, struct dg_rng *cr)
{
    size_t at = 0;

    while (at < len) {
        size_t n = len - at;

        if (cr != NULL) {
            static const uint32_t caps[] = {1, 3, 8, 64, 1500, 65536};
            size_t cap = 1 + dg_rng_below(cr, caps[dg_rng_below(cr, 6)]);
            if (n > cap)
                n = cap;
        }
        if (!mcd_send(c, b + at, n))
            return false;
        at += n;
    }
    return true;
}

bool dg_run(const struct mcd_server *srv, const struct dg_flagset *fs, const struct dg_seq *s, int stall_ms,
            struct dg_result *res)
{
    struct mcd_conn *c = mcd_conn_open(srv);
    struct dg_casmap m = {0};
    struct dg_rng cr;
    bool bin_sync = s->mode == DG_BINARY && fs->proto != DG_ONLY_ASCII;
    size_t from = 0;

    memset(res, 0, sizeof(*res));
    if (c == NULL)
        return false;
    dg_rng_seed(&cr, s->chunk_seed);
    res->end = DG_END_SYNC;
    while (from < s->n) {
        size_t to = from;
        struct mcd_buf out = {0};
        unsigned char want[64];
        size_t wlen;

        while (to < s->n && !s->reqs[to].batch_end)
            to++;
        to = to < s->n ? to + 1 : s->n;
        dg_batch_bytes(s, from, to, &m, &out);
        if (bin_sync) {
            unsigned char req[24];
            uint32_t opq = BIN_SYNC_OPAQUE | (uint32_t)(res->batches_done & 0xffff);
            bin_noop(req, opq, false);
            bin_noop(want, opq, true);
            wlen = 24;
            mcd_buf_add(&out, req, 24);
        } else {
            if (s->mode == DG_BINARY)
                mcd_buf_add(&out, "\r\n", 2); /* -B ascii: end a half line of packet bytes */
            unsigned tag = (unsigned)(res->batches_done % 10000);
            mcd_buf_addf(&out, TEXT_SYNC_REQ, tag);
            wlen = (size_t)snprintf((char *)want, sizeof(want), TEXT_SYNC_REPLY, tag);
        }
        send_chunked(c, out.p, out.len, s->chunk_seed != 0 ? &cr : NULL);
        free(out.p);

        /* read until the sentinel's reply, EOF, or stall_ms without a byte */
        size_t reply_len = 0;
        for (;;) {
            const unsigned char *hit = find((const unsigned char *)c->buf, c->len, want, wlen);

            if (hit != NULL) {
                reply_len = (size_t)(hit - (const unsigned char *)c->buf);
                break;
            }
            if (c->eof) {
                res->end = DG_END_EOF;
                reply_len = c->len;
                break;
            }
            if (mcd_fill(c, stall_ms) < 0 && !c->eof) {
                res->end = DG_END_STALL;
                reply_len = c->len;
                break;
            }
        }
        res->last_raw_from = res->raw.len;
        res->last_norm_from = res->norm.len;
        mcd_buf_add(&res->raw, c->buf, reply_len);
        dg_normalize((const unsigned char *)c->buf, reply_len, &m, &res->norm);
        res->batches_done++;
        if (res->end != DG_END_SYNC)
            break;
        mcd_consume(c, reply_len + wlen);
        from = to;
    }
    mcd_conn_close(c);
    dg_casmap_free(&m);
    return true;
}
