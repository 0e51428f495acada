/*
 * fuzz_udp.c - libFuzzer target for memcached's UDP frame on plain buffers
 * (proto/udp_frame.c): the input is one request datagram.
 *
 * Checks what proto/udp_frame.h promises:
 *   - a datagram shorter than the header is SHORT, a count other than 1 is
 *     MULTI, anything else OK; the fields read back as encoded;
 *   - cutting a reply into payloads: the input after the header is split
 *     into pieces (their lengths taken from the input itself, empty pieces
 *     included) and cut as server/udp.c cuts a reply, at most
 *     UDP_PAYLOAD_MAX bytes a datagram and a slice budget also taken from
 *     the input, falling back to a copy when the slices run out: every
 *     payload but the last is full, the count is udp_frame_count(), and the
 *     payloads joined are the pieces joined, byte for byte.
 */
#include "config.h"

#include "fuzz/fuzz.h"

#include "proto/udp_frame.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_UDP_PIECES 512

static void check_header(const uint8_t *data, size_t size)
{
    struct udp_frame f;
    enum udp_frame_status st = udp_frame_parse(data, size, &f);
    if (size < UDP_FRAME_HDR) {
        FUZZ_CHECK(st == UDP_FRAME_SHORT);
        return;
    }
    FUZZ_CHECK(st == (f.total == 1 ? UDP_FRAME_OK : UDP_FRAME_MULTI));
    uint8_t back[UDP_FRAME_HDR];
    udp_frame_encode(back, f.req_id, f.seq, f.total);
    FUZZ_CHECK(memcmp(back, data, 6) == 0);
    FUZZ_CHECK(back[6] == 0 && back[7] == 0);
}

/* Cuts `pieces` into payloads and checks them against `whole`. */
static void check_cut(const struct iovec *pieces, size_t npieces, const uint8_t *whole, size_t n,
                      size_t slices_max)
{
    static char out[UDP_PAYLOAD_MAX * 4 + 16];
    static char bounce[UDP_PAYLOAD_MAX];
    struct iovec slices[UDP_FRAME_HDR + 64];
    struct udp_cursor cur;
    size_t got = 0, dgrams = 0;

    udp_cursor_init(&cur, pieces, npieces);
    while (got < n) {
        size_t want = n - got < UDP_PAYLOAD_MAX ? n - got : UDP_PAYLOAD_MAX;
        struct udp_cursor keep = cur;
        size_t nslices;
        size_t took = udp_cursor_slice(&cur, want, slices, slices_max, &nslices);
        FUZZ_CHECK(took <= want && nslices <= slices_max);
        if (took < want) {
            FUZZ_CHECK(nslices == slices_max);
            cur = keep;
            took = udp_cursor_copy(&cur, want, bounce);
            FUZZ_CHECK(took == want);
            FUZZ_CHECK(got + took <= sizeof(out));
            memcpy(out + got, bounce, took);
        } else {
            size_t at = got;
            for (size_t i = 0; i < nslices; i++) {
                FUZZ_CHECK(slices[i].iov_len > 0);
                FUZZ_CHECK(at + slices[i].iov_len <= sizeof(out));
                memcpy(out + at, slices[i].iov_base, slices[i].iov_len);
                at += slices[i].iov_len;
            }
            FUZZ_CHECK(at - got == took);
        }
        got += took;
        dgrams++;
    }
    FUZZ_CHECK(n == 0 || dgrams == udp_frame_count(n));
    FUZZ_CHECK(got == n && (n == 0 || memcmp(out, whole, n) == 0));
    size_t rest;
    FUZZ_CHECK(udp_cursor_slice(&cur, UDP_PAYLOAD_MAX, slices, slices_max, &rest) == 0 && rest == 0);
}

int fuzz_udp_input(const uint8_t *data, size_t size)
{
    check_header(data, size);
    if (size <= UDP_FRAME_HDR)
        return 0;

    /* the payload, repeated up to 4 datagrams' worth, is the "reply";
     * byte i of the input picks the length of piece i (0..63, or up to
     * 4 KB when its top bits are set) */
    const uint8_t *p = data + UDP_FRAME_HDR;
    size_t np = size - UDP_FRAME_HDR;
    if (np > UDP_PAYLOAD_MAX * 4)
        np = UDP_PAYLOAD_MAX * 4;
    size_t n = np;
    while (n < 3 * UDP_PAYLOAD_MAX && n + np <= UDP_PAYLOAD_MAX * 4)
        n += np;
    uint8_t *whole = malloc(n);
    FUZZ_CHECK(whole != NULL);
    for (size_t i = 0; i < n; i++)
        whole[i] = p[i % np];

    struct iovec pieces[FUZZ_UDP_PIECES];
    size_t npieces = 0, off = 0;
    for (size_t i = 0; off < n && npieces < FUZZ_UDP_PIECES - 1; i++) {
        uint8_t b = p[i % np];
        size_t len = (b & 0xc0) == 0xc0 ? (size_t)(b & 0x3f) * 64 : (size_t)(b & 0x3f);
        if (len > n - off)
            len = n - off;
        pieces[npieces].iov_base = whole + off;
        pieces[npieces].iov_len = len;
        npieces++;
        off += len;
    }
    pieces[npieces].iov_base = whole + off;
    pieces[npieces].iov_len = n - off;
    npieces++;

    size_t slices_max = 1 + data[0] % 64;
    check_cut(pieces, npieces, whole, n, slices_max);
    free(whole);
    return 0;
}

#ifdef MCD_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_udp_input(data, size);
}
#endif
