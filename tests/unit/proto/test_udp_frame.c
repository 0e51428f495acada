/*
 * test_udp_frame.c - proto/udp_frame.c: the request header's checks, the
 * reply header's bytes, datagram counts, and the cutting of a reply's
 * iovecs into payloads (by reference, or copied when a datagram would need
 * too many slices).
 */
#include "config.h"

#include <criterion/criterion.h>
#include <string.h>

#include "proto/udp_frame.h"

Test(udp_frame, parse)
{
    struct udp_frame f;
    const uint8_t ok[] = {0x12, 0x34, 0x00, 0x05, 0x00, 0x01, 0xab, 0xcd, 'g'};
    cr_assert_eq(udp_frame_parse(ok, sizeof(ok), &f), UDP_FRAME_OK);
    cr_expect_eq(f.req_id, 0x1234);
    cr_expect_eq(f.seq, 5);
    cr_expect_eq(f.total, 1);
    cr_expect_eq(f.reserved, 0xabcd);
    cr_expect_eq(udp_frame_parse(ok, 8, &f), UDP_FRAME_OK, "a header alone is a frame");
    cr_expect_eq(udp_frame_parse(ok, 7, &f), UDP_FRAME_SHORT);
    cr_expect_eq(udp_frame_parse(ok, 0, &f), UDP_FRAME_SHORT);
    const uint8_t none[] = {0, 1, 0, 0, 0, 0, 0, 0};
    const uint8_t two[] = {0, 1, 0, 0, 0, 2, 0, 0};
    const uint8_t big[] = {0, 1, 0, 0, 0x01, 0x01, 0, 0};
    cr_expect_eq(udp_frame_parse(none, 8, &f), UDP_FRAME_MULTI);
    cr_expect_eq(udp_frame_parse(two, 8, &f), UDP_FRAME_MULTI);
    cr_expect_eq(udp_frame_parse(big, 8, &f), UDP_FRAME_MULTI);
}

Test(udp_frame, encode_and_count)
{
    uint8_t h[8];
    udp_frame_encode(h, 0xbeef, 71, 72);
    const uint8_t want[] = {0xbe, 0xef, 0x00, 0x47, 0x00, 0x48, 0x00, 0x00};
    cr_expect_arr_eq(h, want, 8);
    cr_expect_eq(udp_frame_count(1), 1);
    cr_expect_eq(udp_frame_count(1392), 1);
    cr_expect_eq(udp_frame_count(1393), 2);
    cr_expect_eq(udp_frame_count(100027), 72);      /* memcached's 100 KB get */
    cr_expect_eq(udp_frame_count((size_t)1392 * 65535), 65535);
    cr_expect_eq(udp_frame_count((size_t)1392 * 65535 + 1), 0);
}

/* Pieces as the reply builder makes them: small copies and a large value. */
Test(udp_frame, slices_reference_the_pieces)
{
    static char value[3000];
    memset(value, 'v', sizeof(value));
    struct iovec iov[] = {
        {"VALUE k 0 3000\r\n", 16}, {value, sizeof(value)}, {"", 0}, {"\r\nEND\r\n", 7},
    };
    struct udp_cursor c;
    udp_cursor_init(&c, iov, 4);
    struct iovec out[8];
    size_t n;
    cr_assert_eq(udp_cursor_slice(&c, UDP_PAYLOAD_MAX, out, 8, &n), UDP_PAYLOAD_MAX);
    cr_expect_eq(n, 2);
    cr_expect_eq(out[0].iov_base, iov[0].iov_base);
    cr_expect_eq(out[1].iov_base, value, "the value is referenced, not copied");
    cr_expect_eq(out[1].iov_len, UDP_PAYLOAD_MAX - 16);
    cr_assert_eq(udp_cursor_slice(&c, UDP_PAYLOAD_MAX, out, 8, &n), UDP_PAYLOAD_MAX);
    cr_expect_eq(n, 1);
    cr_expect_eq(out[0].iov_base, value + UDP_PAYLOAD_MAX - 16);
    size_t left = 16 + 3000 + 7 - 2 * UDP_PAYLOAD_MAX;
    cr_assert_eq(udp_cursor_slice(&c, UDP_PAYLOAD_MAX, out, 8, &n), left);
    cr_expect_eq(n, 2, "the empty piece is skipped");
    cr_expect_eq(udp_cursor_slice(&c, UDP_PAYLOAD_MAX, out, 8, &n), 0);
    cr_expect_eq(n, 0);
}

Test(udp_frame, copy_when_slices_run_out)
{
    struct iovec iov[100];
    char bytes[100];
    for (int i = 0; i < 100; i++) {
        bytes[i] = (char)('a' + i % 26);
        iov[i].iov_base = &bytes[i];
        iov[i].iov_len = 1;
    }
    struct udp_cursor c, keep;
    udp_cursor_init(&c, iov, 100);
    keep = c;
    struct iovec out[4];
    size_t n;
    cr_expect_eq(udp_cursor_slice(&c, 50, out, 4, &n), 4, "four slices of one byte");
    cr_expect_eq(n, 4);
    c = keep;
    char buf[UDP_PAYLOAD_MAX];
    cr_assert_eq(udp_cursor_copy(&c, 50, buf), 50);
    cr_expect_arr_eq(buf, bytes, 50);
    cr_assert_eq(udp_cursor_copy(&c, UDP_PAYLOAD_MAX, buf), 50);
    cr_expect_arr_eq(buf, bytes + 50, 50);
}
