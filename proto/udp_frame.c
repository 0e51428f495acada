/*
 * udp_frame.c - memcached's UDP frame header and the cutting of a reply
 * into datagram payloads (see udp_frame.h).
 */
#include "config.h"

#include "proto/udp_frame.h"

#include <string.h>

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

enum udp_frame_status udp_frame_parse(const void *buf, size_t len, struct udp_frame *f)
{
    const uint8_t *p = buf;
    if (len < UDP_FRAME_HDR)
        return UDP_FRAME_SHORT;
    f->req_id = get16(p);
    f->seq = get16(p + 2);
    f->total = get16(p + 4);
    f->reserved = get16(p + 6);
    return f->total == 1 ? UDP_FRAME_OK : UDP_FRAME_MULTI;
}

void udp_frame_encode(uint8_t out[UDP_FRAME_HDR], uint16_t req_id, uint16_t seq, uint16_t total)
{
    put16(out, req_id);
    put16(out + 2, seq);
    put16(out + 4, total);
    put16(out + 6, 0);
}

size_t udp_frame_count(size_t n)
{
    size_t count = (n + UDP_PAYLOAD_MAX - 1) / UDP_PAYLOAD_MAX;
    return count > UDP_MSG_DGRAMS_MAX ? 0 : count;
}

/* Skips empty pieces and finished ones. */
static void settle(struct udp_cursor *c)
{
    while (c->idx < c->niov && c->off == c->iov[c->idx].iov_len) {
        c->idx++;
        c->off = 0;
    }
}

size_t udp_cursor_slice(struct udp_cursor *c, size_t max, struct iovec *out, size_t out_max, size_t *nout)
{
    size_t got = 0, n = 0;
    settle(c);
    while (got < max && n < out_max && c->idx < c->niov) {
        const struct iovec *v = &c->iov[c->idx];
        size_t take = v->iov_len - c->off;
        if (take > max - got)
            take = max - got;
        out[n].iov_base = (char *)v->iov_base + c->off;
        out[n].iov_len = take;
        n++;
        got += take;
        c->off += take;
        settle(c);
    }
    *nout = n;
    return got;
}

size_t udp_cursor_copy(struct udp_cursor *c, size_t max, char *buf)
{
    size_t got = 0;
    settle(c);
    while (got < max && c->idx < c->niov) {
        const struct iovec *v = &c->iov[c->idx];
        size_t take = v->iov_len - c->off;
        if (take > max - got)
            take = max - got;
        memcpy(buf + got, (const char *)v->iov_base + c->off, take);
        got += take;
        c->off += take;
        settle(c);
    }
    return got;
}
