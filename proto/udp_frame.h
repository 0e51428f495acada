/*
 * udp_frame.h - memcached's UDP frame on plain buffers: the 8-byte header
 * of a request datagram (request id, sequence number, datagram count,
 * reserved; 16-bit big-endian each), the header of each reply datagram, and
 * the cutting of a reply (an iovec list) into datagram payloads without
 * copying it. No socket here: server/udp.c does the I/O.
 */
#ifndef MCD_UDP_FRAME_H
#define MCD_UDP_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define UDP_FRAME_HDR 8
/* A reply datagram, header included: memcached 1.6.45 cuts replies into
 * datagrams of 1400 bytes (1392 of payload), the last one shorter. */
#define UDP_DGRAM_MAX 1400
#define UDP_PAYLOAD_MAX (UDP_DGRAM_MAX - UDP_FRAME_HDR)
/* The largest reply one message can carry: the count is 16 bits. */
#define UDP_MSG_DGRAMS_MAX 65535u

struct udp_frame {
    uint16_t req_id;
    uint16_t seq;
    uint16_t total;
    uint16_t reserved;
};

enum udp_frame_status {
    UDP_FRAME_OK,        /* a request: its payload starts at UDP_FRAME_HDR */
    UDP_FRAME_SHORT,     /* shorter than the header: dropped */
    UDP_FRAME_MULTI,     /* total != 1: a request in several datagrams (or none),
                            which memcached does not take either: dropped */
};

/* Reads the header of a request datagram of len bytes. As memcached 1.6.45,
 * the sequence number and the reserved bytes are not checked. */
enum udp_frame_status udp_frame_parse(const void *buf, size_t len, struct udp_frame *f);

/* Writes the header of reply datagram `seq` of `total`. */
void udp_frame_encode(uint8_t out[UDP_FRAME_HDR], uint16_t req_id, uint16_t seq, uint16_t total);

/* How many datagrams a reply of n bytes takes (n > 0); 0 when more than
 * UDP_MSG_DGRAMS_MAX (the reply cannot be sent as one message). */
size_t udp_frame_count(size_t n);

/* A cursor over an iovec list being cut into payloads. */
struct udp_cursor {
    const struct iovec *iov;
    size_t niov;
    size_t idx;                    /* current piece */
    size_t off;                    /* bytes of it already taken */
};

static inline void udp_cursor_init(struct udp_cursor *c, const struct iovec *iov, size_t niov)
{
    c->iov = iov;
    c->niov = niov;
    c->idx = 0;
    c->off = 0;
}

/*
 * Takes the next payload, up to `max` bytes, from the cursor as at most
 * `out_max` slices (iovecs pointing into the cursor's pieces; empty pieces
 * are skipped). Returns the bytes taken; *nout is the slices used. It stops
 * short of `max` only at the end of the list or when `out_max` slices are
 * used up: the caller then goes back to a copy of the cursor it kept and
 * copies that payload instead (udp_cursor_copy()).
 */
size_t udp_cursor_slice(struct udp_cursor *c, size_t max, struct iovec *out, size_t out_max, size_t *nout);
/* Copies the next payload, up to `max` bytes, into buf. Returns the bytes. */
size_t udp_cursor_copy(struct udp_cursor *c, size_t max, char *buf);

#endif /* MCD_UDP_FRAME_H */
