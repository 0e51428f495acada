/*
 * tls.c - TLS (-Z) over OpenSSL: the server context and its reload, and
 * each connection's TLS state, which server/conn.c drives instead of
 * read() and sendmsg().
 *
 * Why a BIO pair and not bufferevent_openssl: conn.c reads straight into
 * the space the session names (its read buffer, or the item of a large
 * value) and writes the reply iovecs, which point into item memory, with
 * no intermediate buffer. A bufferevent would put two evbuffers in
 * between (one copy each way) and change the connection's whole event
 * model. Here SSL talks to one end of a BIO pair; the socket side moves
 * ciphertext between the pair's ring buffers and the socket with
 * BIO_nwrite0/BIO_nread0, in place. So: input is decrypted by SSL_read
 * straight into the session's read space (as plain read() does), and
 * output is encrypted by SSL_write from the reply's pieces: a value of
 * ssl_wbuf_size or more directly from the item, smaller pieces (headers,
 * "\r\n", short values) gathered into the ssl_wbuf_size staging buffer
 * first, because each SSL_write makes at least one record and a record per
 * 5-byte "END\r\n" would cost far more than the copy. That gathering copy
 * is the one TLS needs anyway (encryption reads the plaintext once).
 * Nothing here ever blocks: every SSL call meets a memory BIO, and the
 * socket side stops at EAGAIN.
 *
 * Kernel TLS (-o ssl_kernel_tls) needs OpenSSL's socket BIO (it hands the
 * keys to the socket), which this design does not use: the option is
 * accepted and shown in `stats settings` with no effect, as it has none
 * in 1.6.45 either where the kernel or OpenSSL lacks kTLS.
 *
 * The context: one current SSL_CTX behind ctx_lock, taken when a
 * connection is created and when certificates are reloaded, never per
 * request. A reload builds a whole new context and swaps it in only when
 * every file loaded, so a bad file never breaks new handshakes (1.6.45
 * half-updates its live context). Connections keep the context they were
 * made with (OpenSSL reference-counts it).
 */
#include "config.h"

#include "server/tls.h"

#include "proto/reply.h"
#include "server/log.h"
#include "server/settings.h"
#include "server/stats.h"
#include "server/worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#ifdef HAVE_TLS

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

/* The pair's input side holds a full record and its header; its output
 * side several, so that one send() carries a few records (the socket is
 * written when the pair is full or the replies are all encrypted). */
#define TLS_PAIR_IN (17 * 1024)
#ifndef TLS_PAIR_OUT
#define TLS_PAIR_OUT (48 * 1024)
#endif

static pthread_mutex_t ctx_lock = PTHREAD_MUTEX_INITIALIZER;
static SSL_CTX *current_ctx;   /* under ctx_lock */
static int conn_index = -1;    /* SSL ex_data slot: the struct tls_conn */

struct tls_conn {
    SSL *ssl;
    BIO *net;                  /* the socket's end of the pair */
    char *wbuf;                /* staged plaintext, allocated on first use */
    size_t woff, wlen;         /* wbuf[woff..wlen) not yet taken by SSL */
    struct worker_tstats *ws;
};

static int min_version(int v)
{
    switch (v) {
    case 0: return TLS1_VERSION;
    case 1: return TLS1_1_VERSION;
    case 3: return TLS1_3_VERSION;
    default: return TLS1_2_VERSION;
    }
}

static int verify_mode(int v)
{
    switch (v) {
    case 1: return SSL_VERIFY_PEER;
    case 2: return SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    case 3: return SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE;
    default: return SSL_VERIFY_NONE;
    }
}

/* Counts a session the server cache took (TLS 1.3: one per ticket sent),
 * memcached's ssl_new_sessions. */
static int new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
    (void)sess;
    struct tls_conn *t = SSL_get_ex_data(ssl, conn_index);
    if (t != NULL)
        STAT_INC(t->ws->ssl_new_sessions);
    return 0; /* the cache keeps its own reference */
}

/* memcached's message for a failed load: "<what>: <file> : <first
 * OpenSSL error>", the rest of OpenSSL's queue printed on stderr first.
 * No file at all: what OpenSSL says when 1.6.45 hands it NULL (fopen()
 * fails with EFAULT); mcd does not call fopen(NULL). */
static void load_error(char *msg, size_t msglen, const char *what, const char *file)
{
    unsigned long e = file != NULL ? ERR_get_error() : (unsigned long)ERR_SYSTEM_FLAG | EFAULT;
    char ebuf[256];
    ERR_error_string_n(e, ebuf, sizeof(ebuf));
    ERR_print_errors_fp(stderr);
    snprintf(msg, msglen, "%s: %s : %s", what, file != NULL ? file : "(null)", ebuf);
}

/*
 * A context from the settings, or NULL with msg set. Order as 1.6.45: the
 * certificate chain, the key, the CA file, then the ciphers.
 */
static SSL_CTX *ctx_build(char *msg, size_t msglen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        snprintf(msg, msglen, "Error creating the SSL context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, min_version(settings.ssl_min_version));
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    if (settings.ssl_chain_cert == NULL || !SSL_CTX_use_certificate_chain_file(ctx, settings.ssl_chain_cert)) {
        load_error(msg, msglen, "Error loading the certificate chain", settings.ssl_chain_cert);
        goto fail;
    }
    if (settings.ssl_key == NULL || !SSL_CTX_use_PrivateKey_file(ctx, settings.ssl_key, settings.ssl_keyformat)) {
        load_error(msg, msglen, "Error loading the key", settings.ssl_key);
        goto fail;
    }
    if (settings.ssl_ca_cert != NULL) {
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(settings.ssl_ca_cert);
        if (names == NULL || !SSL_CTX_load_verify_locations(ctx, settings.ssl_ca_cert, NULL)) {
            if (names != NULL)
                sk_X509_NAME_pop_free(names, X509_NAME_free);
            load_error(msg, msglen, "Error loading the CA certificate", settings.ssl_ca_cert);
            goto fail;
        }
        SSL_CTX_set_client_CA_list(ctx, names);
    }
    SSL_CTX_set_verify(ctx, verify_mode(settings.ssl_verify_mode), NULL);
    if (settings.ssl_ciphers != NULL && !SSL_CTX_set_cipher_list(ctx, settings.ssl_ciphers)) {
        ERR_clear_error();
        snprintf(msg, msglen, "Error setting the provided cipher(s): %s", settings.ssl_ciphers);
        goto fail;
    }
    if (settings.ssl_session_cache) {
        static const unsigned char sid_ctx[] = "mcd";
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
        SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
        SSL_CTX_sess_set_new_cb(ctx, new_session_cb);
    } else {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    }
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

int tls_setup(void)
{
    char msg[512];
    conn_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    SSL_CTX *ctx = ctx_build(msg, sizeof(msg));
    if (ctx == NULL) {
        fprintf(stderr, "%s\n", msg);
        return EX_USAGE;
    }
    current_ctx = ctx;
    stats_set_cert_refresh(time(NULL));
    return 0;
}

void tls_teardown(void)
{
    pthread_mutex_lock(&ctx_lock);
    SSL_CTX_free(current_ctx);
    current_ctx = NULL;
    pthread_mutex_unlock(&ctx_lock);
}

int tls_refresh(char *msg, size_t msglen)
{
    if (!settings.ssl_enabled) {
        snprintf(msg, msglen, "Error TLS not enabled");
        return -1;
    }
    SSL_CTX *ctx = ctx_build(msg, msglen);
    if (ctx == NULL) {
        log_msg(LOG_WARN, "%s", msg);
        return -1;
    }
    pthread_mutex_lock(&ctx_lock);
    SSL_CTX *old = current_ctx;
    current_ctx = ctx;
    pthread_mutex_unlock(&ctx_lock);
    SSL_CTX_free(old); /* freed when its last connection goes */
    stats_set_cert_refresh(time(NULL));
    return 0;
}

struct tls_conn *tls_conn_create(struct worker_tstats *ws, bool mutual)
{
    struct tls_conn *t = calloc(1, sizeof(*t));
    BIO *inner = NULL;
    if (t == NULL)
        return NULL;
    t->ws = ws;
    pthread_mutex_lock(&ctx_lock);
    t->ssl = current_ctx != NULL ? SSL_new(current_ctx) : NULL;
    pthread_mutex_unlock(&ctx_lock);
    if (t->ssl == NULL || !BIO_new_bio_pair(&inner, TLS_PAIR_OUT, &t->net, TLS_PAIR_IN)) {
        if (t->ssl != NULL)
            SSL_free(t->ssl);
        free(t);
        return NULL;
    }
    SSL_set_bio(t->ssl, inner, inner);
    SSL_set_ex_data(t->ssl, conn_index, t);
    SSL_set_accept_state(t->ssl);
    if (mutual)
        SSL_set_verify(t->ssl, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    return t;
}

/* Writes the ciphertext the pair holds to fd: 1 all written, 0 the socket
 * is full, -1 error. */
static int net_flush(struct tls_conn *t, int fd)
{
    for (;;) {
        char *p;
        int n = BIO_nread0(t->net, &p);
        if (n <= 0)
            return 1;
        ssize_t w = send(fd, p, (size_t)n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        }
        BIO_nread(t->net, &p, (int)w);
    }
}

/* Reads ciphertext from fd into the pair: 1 some, 0 none now, -1 end of
 * stream, -2 error. */
static int net_fill(struct tls_conn *t, int fd)
{
    char *p;
    int room = BIO_nwrite0(t->net, &p);
    if (room <= 0)
        return 0;
    for (;;) {
        ssize_t n = read(fd, p, (size_t)room);
        if (n > 0) {
            BIO_nwrite(t->net, &p, (int)n);
            return 1;
        }
        if (n == 0)
            return -1;
        if (errno == EINTR)
            continue;
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -2;
    }
}

void tls_conn_destroy(struct tls_conn **tp, int fd)
{
    struct tls_conn *t = *tp;
    if (t == NULL)
        return;
    if (SSL_is_init_finished(t->ssl)) {
        /* close_notify, if the socket takes it now (no waiting) */
        ERR_clear_error();
        if (SSL_shutdown(t->ssl) >= 0)
            (void)net_flush(t, fd);
    }
    ERR_clear_error();
    SSL_free(t->ssl); /* frees the inner BIO */
    BIO_free(t->net);
    free(t->wbuf);
    free(t);
    *tp = NULL;
}

/* A fatal TLS error. During the handshake (bytes that are not a TLS
 * handshake: plaintext, garbage, a broken ClientHello) it is an
 * ssl_handshake_error; after it, an ssl_proto_error. 1.6.45 splits the
 * first kind between both counters depending on timing (the same bytes
 * land in either, tested: memcached-compat.md); their sum is the same. */
static enum tls_io tls_fail(struct tls_conn *t)
{
    if (SSL_is_init_finished(t->ssl))
        STAT_INC(t->ws->ssl_proto_errors);
    else
        STAT_INC(t->ws->ssl_handshake_errors);
    if (log_verbosity >= LOG_INFO) {
        char ebuf[256];
        ERR_error_string_n(ERR_peek_error(), ebuf, sizeof(ebuf));
        log_msg(LOG_INFO, "TLS error: %s", ebuf);
    }
    ERR_clear_error();
    return TLS_IO_ERROR;
}

enum tls_io tls_read(struct tls_conn *t, int fd, char *buf, size_t len, size_t *got)
{
    *got = 0;
    for (;;) {
        size_t want = len - *got;
        ERR_clear_error();
        int r = SSL_read(t->ssl, buf + *got, want > INT_MAX ? INT_MAX : (int)want);
        if (r > 0) {
            *got += (size_t)r;
            if (*got == len)
                break;
            continue;
        }
        int e = SSL_get_error(t->ssl, r);
        if (e == SSL_ERROR_WANT_READ) {
            /* handshake messages SSL wants to send go out first */
            if (net_flush(t, fd) < 0)
                return TLS_IO_ERROR;
            int f = net_fill(t, fd);
            if (f == 1)
                continue;
            if (f == 0)
                break;
            if (f == -1 && *got == 0) {
                /* gone before the handshake finished: 1.6.45 counts a
                 * protocol error (its SSL_accept fails on the EOF) */
                if (!SSL_is_init_finished(t->ssl))
                    STAT_INC(t->ws->ssl_proto_errors);
                return TLS_IO_EOF;
            }
            if (f == -1)
                break; /* the next read sees the end again */
            return TLS_IO_ERROR;
        }
        if (e == SSL_ERROR_WANT_WRITE) {
            int f = net_flush(t, fd);
            if (f < 0)
                return TLS_IO_ERROR;
            if (f == 0)
                break; /* EV_WRITE: tls_out_pending() */
            continue;
        }
        if (e == SSL_ERROR_ZERO_RETURN)
            return *got > 0 ? TLS_IO_DATA : TLS_IO_EOF;
        return tls_fail(t);
    }
    if (net_flush(t, fd) < 0)
        return TLS_IO_ERROR;
    return *got > 0 ? TLS_IO_DATA : TLS_IO_NONE;
}

/* SSL_write of len bytes: how many it took (>= 0; 0 when the pair is full
 * and must drain first), or -1 on a fatal error. */
static ssize_t ssl_put(struct tls_conn *t, const void *p, size_t len)
{
    ERR_clear_error();
    int r = SSL_write(t->ssl, p, len > INT_MAX ? INT_MAX : (int)len);
    if (r > 0)
        return r;
    int e = SSL_get_error(t->ssl, r);
    if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
        return 0;
    (void)tls_fail(t);
    return -1;
}

/* Copies the first reply pieces that fit into wbuf, stopping before a
 * piece large enough to be written from where it is. Returns the bytes
 * copied (then consumed from out). */
static size_t gather(struct tls_conn *t, struct reply *out, size_t cap)
{
    size_t n, copied = 0;
    const struct iovec *iov = reply_pending(out, &n);
    for (size_t i = 0; i < n && copied < cap; i++) {
        if (iov[i].iov_len >= cap && copied > 0)
            break;
        size_t take = iov[i].iov_len < cap - copied ? iov[i].iov_len : cap - copied;
        memcpy(t->wbuf + copied, iov[i].iov_base, take);
        copied += take;
    }
    reply_consume(out, copied);
    return copied;
}

int tls_write(struct tls_conn *t, int fd, struct reply *out, uint64_t *plain)
{
    size_t cap = (size_t)settings.ssl_wbuf_size * 1024;
    if (cap == 0)
        cap = 1; /* -o ssl_wbuf_size=0: every piece goes straight to SSL_write */
    *plain = 0;
    for (;;) {
        ssize_t r;
        if (t->woff < t->wlen) {
            r = ssl_put(t, t->wbuf + t->woff, t->wlen - t->woff);
            if (r > 0) {
                t->woff += (size_t)r;
                if (t->woff == t->wlen)
                    t->woff = t->wlen = 0;
            }
        } else if (reply_empty(out)) {
            break;
        } else {
            size_t n;
            const struct iovec *iov = reply_pending(out, &n);
            if (iov[0].iov_len < cap) {
                if (t->wbuf == NULL && (t->wbuf = malloc(cap)) == NULL)
                    return -1;
                t->wlen = gather(t, out, cap);
                *plain += t->wlen;
                continue;
            }
            /* a large value: encrypted from the item itself */
            r = ssl_put(t, iov[0].iov_base, iov[0].iov_len);
            if (r > 0) {
                reply_consume(out, (size_t)r);
                *plain += (uint64_t)r;
            }
        }
        if (r < 0)
            return -1;
        if (r == 0) {
            /* the pair is full: to the socket with it */
            if (BIO_ctrl_pending(t->net) == 0)
                return 0; /* SSL waits for input (cannot happen without renegotiation) */
            int f = net_flush(t, fd);
            if (f <= 0)
                return f; /* 0: the socket is full, EV_WRITE */
        }
    }
    return net_flush(t, fd) < 0 ? -1 : 0;
}

bool tls_out_pending(const struct tls_conn *t)
{
    return t->woff < t->wlen || BIO_ctrl_pending(t->net) > 0;
}

bool tls_in_buffered(const struct tls_conn *t)
{
    /* not SSL_has_pending(): it counts a partial record too, which only
     * more bytes from the socket complete */
    return SSL_pending(t->ssl) > 0 || BIO_ctrl_pending(SSL_get_rbio(t->ssl)) > 0;
}

bool tls_handshaking(const struct tls_conn *t)
{
    return !SSL_is_init_finished(t->ssl);
}

#else /* !HAVE_TLS */

int tls_setup(void)
{
    fprintf(stderr, "This server is not built with TLS support.\n");
    return EX_USAGE;
}

void tls_teardown(void)
{
}

int tls_refresh(char *msg, size_t msglen)
{
    snprintf(msg, msglen, "Error TLS not enabled");
    return -1;
}

struct tls_conn *tls_conn_create(struct worker_tstats *ws, bool mutual)
{
    (void)ws;
    (void)mutual;
    return NULL;
}

void tls_conn_destroy(struct tls_conn **t, int fd)
{
    (void)fd;
    *t = NULL;
}

enum tls_io tls_read(struct tls_conn *t, int fd, char *buf, size_t len, size_t *got)
{
    (void)t, (void)fd, (void)buf, (void)len;
    *got = 0;
    return TLS_IO_ERROR;
}

int tls_write(struct tls_conn *t, int fd, struct reply *out, uint64_t *plain)
{
    (void)t, (void)fd, (void)out;
    *plain = 0;
    return -1;
}

bool tls_out_pending(const struct tls_conn *t)
{
    (void)t;
    return false;
}

bool tls_in_buffered(const struct tls_conn *t)
{
    (void)t;
    return false;
}

bool tls_handshaking(const struct tls_conn *t)
{
    (void)t;
    return false;
}

#endif /* HAVE_TLS */
