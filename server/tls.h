/*
 * tls.h - TLS (-Z) for client connections, over OpenSSL: the server
 * context (certificate chain, key, client verification, ciphers, minimum
 * version, session cache) with its reload (`refresh_certs`, SIGHUP), and the
 * I/O seam server/conn.c calls instead of read() and sendmsg() for a TLS
 * connection. Built without OpenSSL (configure found no libssl), the
 * functions exist and tls_setup() refuses.
 */
#ifndef MCD_TLS_H
#define MCD_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct reply;
struct worker_tstats;
struct tls_conn;

/* Loads the context from the ssl_* settings (-Z). 0, or the exit status
 * (memcached 1.6.45's message and OpenSSL's error queue on stderr). Main
 * thread, before any worker starts and before privileges are dropped. */
int tls_setup(void);
void tls_teardown(void);

/*
 * Builds a new context from the same settings (certificate, key and CA
 * files re-read) and makes new connections use it; connections already
 * open keep theirs. On failure the current context stays (memcached
 * 1.6.45 half-updates its live one: see memcached-compat.md) and msg holds
 * memcached's message. 0 or -1. Any thread.
 */
int tls_refresh(char *msg, size_t msglen);

/* One connection's TLS state. mutual: the listener is `mtls:` (a client
 * certificate is required whatever ssl_verify_mode says). Counts into ws.
 * NULL when out of memory or built without TLS. Worker thread. */
struct tls_conn *tls_conn_create(struct worker_tstats *ws, bool mutual);
/* Sends close_notify if the socket takes it now, frees, NULLs *t. */
void tls_conn_destroy(struct tls_conn **t, int fd);

enum tls_io {
    TLS_IO_DATA,       /* plaintext arrived (*got > 0) */
    TLS_IO_NONE,       /* nothing now: the socket is dry or the handshake goes on */
    TLS_IO_EOF,        /* the peer closed (close_notify or end of stream) */
    TLS_IO_ERROR,      /* socket error or fatal TLS error (counted): close now */
};

/* Reads ciphertext from fd (as much as it has), advances the handshake,
 * decrypts into buf (at most len bytes; *got). */
enum tls_io tls_read(struct tls_conn *t, int fd, char *buf, size_t len, size_t *got);

/* Encrypts pending replies and writes them to fd as far as it takes them
 * (*plain: the plaintext bytes taken from out, which are consumed there).
 * 0, or -1 when the connection broke. */
int tls_write(struct tls_conn *t, int fd, struct reply *out, uint64_t *plain);

/* Output encrypted or staged but not yet taken by the socket. */
bool tls_out_pending(const struct tls_conn *t);
/* Input received (ciphertext or plaintext) that no tls_read() has
 * returned yet: the socket will not signal it again. */
bool tls_in_buffered(const struct tls_conn *t);
/* The handshake is not finished yet. */
bool tls_handshaking(const struct tls_conn *t);

#endif /* MCD_TLS_H */
