/*
 * udpc.h - a small memcached UDP client for the tests: sends one request
 * datagram (frame header + payload), collects the datagrams that come back
 * with its request id, and reassembles one message from them.
 */
#ifndef MCD_TEST_UDPC_H
#define MCD_TEST_UDPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tests/lib/harness.h"

#define UDPC_MAX_DGRAMS 2048

/* The datagrams of one request id, in the order they arrived (header
 * included). */
struct udpc_reply {
    size_t n;
    size_t len[UDPC_MAX_DGRAMS];
    unsigned char *dgram[UDPC_MAX_DGRAMS];
};

/* A UDP socket bound to 127.0.0.1 (any port), or -1. */
int udpc_open(void);
/* A UDP port on 127.0.0.1 that was free a moment ago. */
int udpc_free_port(void);

/* Sends a datagram: the 8-byte header, then len payload bytes. */
bool udpc_send(int fd, int port, uint16_t rid, uint16_t seq, uint16_t total, uint16_t reserved,
               const void *payload, size_t len);
/* Sends raw bytes as one datagram (no header added). */
bool udpc_send_raw(int fd, int port, const void *buf, size_t len);

/*
 * Collects the datagrams with request id rid into *r (others are dropped):
 * waits up to first_ms for the first one, then until quiet_ms pass with
 * none (first_ms while the datagrams so far are fewer than the last one's
 * count). Returns r->n.
 */
size_t udpc_collect(int fd, uint16_t rid, int first_ms, int quiet_ms, struct udpc_reply *r);
void udpc_reply_free(struct udpc_reply *r);

/* True when r is exactly one message: every datagram has the same total T,
 * the sequence numbers are 0..T-1, each once, in order. On success
 * *payload (malloc'd, NUL-terminated) and *len get the payloads joined. */
bool udpc_message(const struct udpc_reply *r, char **payload, size_t *len);
/* Every payload joined in arrival order (malloc'd), headers dropped. */
char *udpc_joined(const struct udpc_reply *r, size_t *len);

/* Starts bin (NULL: mcd) with "-U PORT" and the NULL-terminated extra
 * flags, trying a few UDP ports; *udp_port gets the one it listens on. */
struct mcd_server *udpc_start(const char *bin, const char *const extra[], int *udp_port);

#endif /* MCD_TEST_UDPC_H */
