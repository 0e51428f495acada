/*
 * fuzz_tls.c - libFuzzer target for the server side of TLS (server/tls.c),
 * driven exactly as server/conn.c drives it: tls_read() into the space the
 * session names, session_run(), tls_write() of its replies, tls_out_pending()
 * / tls_in_buffered(), tls_conn_destroy(). No listener and no libevent: the
 * server's socket is one end of a non-blocking AF_UNIX socketpair (tls.c
 * reads and sends on a descriptor, so it needs no seam), the fuzzer writes
 * the client's bytes into the other end.
 *
 * The certificate: a P-256 key and a self-signed certificate made once, at
 * the first input, with OpenSSL's API, written to a temporary directory for
 * tls_setup() (which loads files, as -o ssl_chain_cert does) and removed
 * again. Nothing to commit, nothing that expires, no path to find at run
 * time (replay and the libFuzzer binary run from anywhere).
 *
 * The first input byte picks the mode:
 *   bit 0 clear, raw: the rest is what a client sends before or during the
 *     handshake (garbage, truncated or malformed records, ClientHellos with
 *     fuzzed fields), in chunks whose size comes from the first byte, then
 *     the end of stream.
 *   bit 0 set, session: an in-process OpenSSL client (TLS 1.3, or 1.2 when
 *     bit 1 is set) first completes a real handshake; the rest is a list of
 *     operations [op][len hi][len lo][len bytes]: application data (memcached
 *     requests, text/meta/binary) through the client's session; raw bytes;
 *     a record with a fuzzed type and body; close_notify; a key update
 *     (1.3) or renegotiation (1.2, which the server refuses); the end of
 *     stream; application data whose ciphertext has one byte flipped (a bad
 *     MAC), or is cut short. The client reads every reply (until its own
 *     state is broken by an injection; then its bytes are discarded raw).
 * The store is 4 MB with 64 KB items, so that a value of ssl_wbuf_size
 * (16 KB) or more takes tls_write()'s path that encrypts it from the item.
 * Invariants: nothing crashes or leaks (ASan/LSan), no loop (each pumping
 * loop is bounded), the handshake with a well-behaved client succeeds, and
 * after the end of stream the server always ends the connection (it never
 * waits for input that cannot come). In the session mode, a run of only
 * application data gets the replies a plain session gives the same bytes.
 */
#define _GNU_SOURCE /* memmem */
#include "config.h"

#include "fuzz/fuzz.h"

#ifdef HAVE_TLS

#include "proto/reply.h"
#include "server/log.h"
#include "server/session.h"
#include "server/settings.h"
#include "server/stats.h"
#include "server/tls.h"
#include "server/worker.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#define PUMP_MAX 4096 /* server steps per pump: more is a loop */

static struct store_tstats ts, scratch;
static struct worker_tstats ws;
static SSL_CTX *client_ctx12, *client_ctx13;

/* The server's connection, as struct conn holds it. */
struct srv {
    int fd;
    struct tls_conn *t;
    struct session s;
    bool eof, closed;
};

/* The client: SSL over its own BIO pair, so that the fuzzer sees (and can
 * damage) each ciphertext before it goes to the socket. */
struct cli {
    int fd;
    SSL *ssl;
    BIO *net;
    bool broken; /* an injection desynchronised it: its input is discarded */
    bool wr_shut;
    uint64_t hash;
    size_t bytes;
};

static uint64_t fnv(uint64_t h, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)p[i]) * 0x100000001b3ull;
    return h;
}

/* ---- the certificate, once ---- */

static void make_cert(char *dir, size_t dirlen, char *cert, char *key, size_t len)
{
    snprintf(dir, dirlen, "/tmp/mcd-fuzz-tls.XXXXXX");
    FUZZ_CHECK(mkdtemp(dir) != NULL);
    snprintf(cert, len, "%s/cert.pem", dir);
    snprintf(key, len, "%s/key.pem", dir);
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    FUZZ_CHECK(pk != NULL);
    X509 *x = X509_new();
    FUZZ_CHECK(x != NULL);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600L * 24 * 365 * 50);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"mcd-fuzz", -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509_set_pubkey(x, pk);
    FUZZ_CHECK(X509_sign(x, pk, EVP_sha256()) > 0);
    FILE *f = fopen(cert, "w");
    FUZZ_CHECK(f != NULL && PEM_write_X509(f, x) == 1);
    fclose(f);
    f = fopen(key, "w");
    FUZZ_CHECK(f != NULL && PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL) == 1);
    fclose(f);
    X509_free(x);
    EVP_PKEY_free(pk);
}

static SSL_CTX *client_ctx(int version)
{
    SSL_CTX *c = SSL_CTX_new(TLS_client_method());
    FUZZ_CHECK(c != NULL);
    SSL_CTX_set_verify(c, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_min_proto_version(c, version);
    SSL_CTX_set_max_proto_version(c, version);
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
    return c;
}

static void setup_once(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    if (settings.ssl_wbuf_size == 0) { /* nothing parsed the settings yet */
        char *argv[] = {"mcd", "-A", NULL};
        FUZZ_CHECK(settings_parse(2, argv) == SETTINGS_RUN);
    }
    stats_set_one_thread(&ts, &ws);
    char dir[64], cert[128], key[128];
    make_cert(dir, sizeof(dir), cert, key, sizeof(cert));
    const char *oc = settings.ssl_chain_cert, *ok = settings.ssl_key;
    settings.ssl_chain_cert = cert;
    settings.ssl_key = key;
    FUZZ_CHECK(tls_setup() == 0);
    settings.ssl_chain_cert = oc;
    settings.ssl_key = ok;
    unlink(cert);
    unlink(key);
    rmdir(dir);
    client_ctx12 = client_ctx(TLS1_2_VERSION);
    client_ctx13 = client_ctx(TLS1_3_VERSION);
}

/* ---- the server side, as conn.c's event callback ---- */

/* Flushes the replies; false when the connection broke. */
static bool srv_flush(struct srv *v)
{
    uint64_t plain;
    return tls_write(v->t, v->fd, &v->s.out, &plain) == 0;
}

/* One event callback's worth of work. Returns true when something
 * happened (input taken, a request run, the connection ended). */
static bool srv_step(struct srv *v)
{
    if (v->closed)
        return false;
    bool moved = false;
    if (!srv_flush(v)) {
        v->closed = true;
        return true;
    }
    if (v->s.state == SESSION_CLOSING) {
        (void)srv_flush(v);
        v->closed = true;
        return true;
    }
    if (!v->eof && session_wants_input(&v->s)) {
        size_t room, got;
        char *p = session_read_space(&v->s, &room);
        if (p != NULL) {
            switch (tls_read(v->t, v->fd, p, room, &got)) {
            case TLS_IO_DATA:
                FUZZ_CHECK(got > 0 && got <= room);
                session_read_done(&v->s, got);
                moved = true;
                break;
            case TLS_IO_NONE: FUZZ_CHECK(got == 0); break;
            case TLS_IO_EOF:
                v->eof = true;
                moved = true;
                break;
            case TLS_IO_ERROR: v->closed = true; return true;
            }
        }
    }
    unsigned budget = settings.reqs_per_event;
    uint64_t commands = v->s.commands;
    enum session_result run;
    for (;;) {
        run = session_run(&v->s, &budget);
        if (!srv_flush(v)) {
            v->closed = true;
            return true;
        }
        if (run != SESSION_OUTPUT_FULL || session_out_full(&v->s))
            break;
    }
    if (v->s.commands != commands)
        moved = true;
    switch (run) {
    case SESSION_SHUTDOWN:
    case SESSION_GRACEFUL:
    case SESSION_WATCH: /* conn.c refuses watch over TLS in the command layer */
    case SESSION_CLOSE:
        (void)srv_flush(v);
        v->closed = true;
        return true;
    case SESSION_NEED_INPUT:
        if (v->eof) {
            (void)srv_flush(v);
            v->closed = true;
            return true;
        }
        break;
    case SESSION_BUDGET: moved = true; break;
    case SESSION_OUTPUT_FULL: break;
    }
    session_trim(&v->s);
    /* conn.c re-arms EV_READ by hand while input is buffered */
    if (!v->eof && session_wants_input(&v->s) && tls_in_buffered(v->t))
        moved = true;
    return moved;
}

/* ---- the client side ---- */

/* Moves the client's ciphertext to the socket (as far as it takes it). */
static void cli_push(struct cli *c)
{
    char *p;
    int n;
    while (c->net != NULL && !c->wr_shut && (n = BIO_nread0(c->net, &p)) > 0) {
        ssize_t w = send(c->fd, p, (size_t)n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        BIO_nread(c->net, &p, (int)w);
    }
}

/* Takes what the server sent: into the client's SSL, or discarded once it
 * is broken. Returns true when bytes came. */
static bool cli_pull(struct cli *c)
{
    bool any = false;
    char buf[16384];
    for (;;) {
        char *p;
        int room = c->broken ? 0 : BIO_nwrite0(c->net, &p);
        ssize_t n;
        if (room > 0) {
            n = read(c->fd, p, (size_t)room);
            if (n > 0)
                BIO_nwrite(c->net, &p, (int)n);
        } else if (c->broken) {
            n = read(c->fd, buf, sizeof(buf));
        } else {
            n = -1; /* the pair is full: SSL_read first */
        }
        if (n <= 0)
            break;
        any = true;
    }
    if (c->broken)
        return any;
    for (;;) {
        ERR_clear_error();
        int r = SSL_read(c->ssl, buf, sizeof(buf));
        if (r > 0) {
            c->hash = fnv(c->hash, buf, (size_t)r);
            c->bytes += (size_t)r;
            any = true;
            continue;
        }
        int e = SSL_get_error(c->ssl, r);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
            c->broken = true; /* from now on its input is discarded */
        break;
    }
    ERR_clear_error();
    cli_push(c); /* key update replies, alerts */
    return any;
}

/* Runs server and client until neither moves. */
static void pump(struct srv *v, struct cli *c)
{
    for (unsigned i = 0;; i++) {
        FUZZ_CHECK(i < PUMP_MAX);
        cli_push(c);
        bool moved = srv_step(v);
        moved |= cli_pull(c);
        if (!moved)
            break;
    }
}

static void raw_send(struct srv *v, struct cli *c, const uint8_t *p, size_t n)
{
    while (n > 0 && !c->wr_shut) {
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (v->closed)
            return; /* nobody reads any more */
        unsigned before = (unsigned)n;
        pump(v, c);
        if (v->closed || (unsigned)n == before) {
            /* the server reads nothing more now (output full): try once more */
            w = send(c->fd, p, n, MSG_NOSIGNAL);
            if (w <= 0)
                return;
            p += w;
            n -= (size_t)w;
        }
    }
}

/* Application data through the client's SSL; `damage`: 1 flip a byte of
 * the ciphertext at `at`, 2 send only part of it. */
static void cli_write(struct srv *v, struct cli *c, const uint8_t *p, size_t n, int damage, size_t at)
{
    if (c->broken) {
        raw_send(v, c, p, n);
        return;
    }
    cli_push(c);
    while (n > 0) {
        ERR_clear_error();
        int r = SSL_write(c->ssl, p, n > 4096 ? 4096 : (int)n);
        if (r <= 0) {
            ERR_clear_error();
            c->broken = true;
            return;
        }
        p += r;
        n -= (size_t)r;
        char *q;
        int have = BIO_nread0(c->net, &q);
        if (damage != 0 && have > 0) {
            size_t len = (size_t)have;
            uint8_t *copy = malloc(len);
            FUZZ_CHECK(copy != NULL);
            memcpy(copy, q, len);
            BIO_nread(c->net, &q, have);
            if (damage == 1)
                copy[at % len] ^= (uint8_t)(1u << (at % 8));
            else
                len = at % len;
            raw_send(v, c, copy, len);
            free(copy);
            damage = 0;
        }
        cli_push(c);
        pump(v, c);
    }
}

static void end_stream(struct cli *c)
{
    cli_push(c);
    shutdown(c->fd, SHUT_WR);
    c->wr_shut = true;
}

/* ---- one input ---- */

static void ops(struct srv *v, struct cli *c, const uint8_t *d, size_t n, bool *only_data)
{
    size_t i = 0;
    while (i < n && !v->closed) {
        uint8_t op = d[i++] % 8;
        size_t len = 0;
        if (i + 2 <= n)
            len = (size_t)d[i] << 8 | d[i + 1];
        i += 2;
        if (i > n)
            i = n;
        if (len > n - i)
            len = n - i;
        const uint8_t *p = d + i;
        i += len;
        if (op != 0)
            *only_data = false;
        switch (op) {
        case 0: cli_write(v, c, p, len, 0, 0); break;
        case 1: raw_send(v, c, p, len); break;
        case 2: {
            /* one record: fuzzed type (first byte) and body, right length */
            uint8_t hdr[5] = {len > 0 ? p[0] : 23, 3, 3, 0, 0};
            size_t body = len > 0 ? len - 1 : 0;
            hdr[3] = (uint8_t)(body >> 8);
            hdr[4] = (uint8_t)body;
            raw_send(v, c, hdr, 5);
            raw_send(v, c, p + (len > 0), body);
            break;
        }
        case 3:
            if (!c->broken) {
                ERR_clear_error();
                (void)SSL_shutdown(c->ssl);
                ERR_clear_error();
            }
            break;
        case 4:
            if (!c->broken) {
                ERR_clear_error();
                if (SSL_version(c->ssl) == TLS1_3_VERSION)
                    (void)SSL_key_update(c->ssl, len % 2 ? SSL_KEY_UPDATE_REQUESTED : SSL_KEY_UPDATE_NOT_REQUESTED);
                else
                    (void)SSL_renegotiate(c->ssl);
                (void)SSL_do_handshake(c->ssl);
                ERR_clear_error();
            }
            break;
        case 5: end_stream(c); return;
        case 6:
        case 7: cli_write(v, c, p, len, op == 6 ? 1 : 2, len > 0 ? p[0] : 0); break;
        }
        pump(v, c);
    }
}

/* The replies a plain session gives the same bytes, all at once (-R as
 * the server). */
static void plain_replies(const uint8_t *d, size_t n, uint64_t *hash, size_t *bytes)
{
    struct session s;
    FUZZ_CHECK(session_init(&s, settings.binding_protocol, &ts, &scratch, &ws) == 0);
    *hash = 0xcbf29ce484222325ull;
    *bytes = 0;
    size_t i = 0;
    for (;;) {
        /* the same framing as ops(): only op 0 records */
        if (i >= n)
            break;
        i++;
        size_t len = i + 2 <= n ? (size_t)d[i] << 8 | d[i + 1] : 0;
        i = i + 2 > n ? n : i + 2;
        if (len > n - i)
            len = n - i;
        size_t off = 0;
        while (off < len) {
            size_t took = session_feed(&s, (const char *)d + i + off, len - off);
            off += took;
            enum session_result r;
            do {
                unsigned budget = settings.reqs_per_event;
                r = session_run(&s, &budget);
                size_t nout;
                const struct iovec *iov = reply_pending(&s.out, &nout);
                size_t total = 0;
                for (size_t k = 0; k < nout; k++) {
                    *hash = fnv(*hash, iov[k].iov_base, iov[k].iov_len);
                    total += iov[k].iov_len;
                }
                *bytes += total;
                reply_consume(&s.out, total);
            } while (r == SESSION_BUDGET || r == SESSION_OUTPUT_FULL);
            if (r != SESSION_NEED_INPUT) {
                session_deinit(&s);
                return;
            }
            if (took == 0)
                break;
        }
        i += len;
    }
    session_deinit(&s);
}

/* False when the replies may differ between two runs of the same
 * requests: a line longer than a text line may be (refused or not by
 * how much has arrived), `stats` (CPU time), `lru_crawler` (its thread),
 * `watch` (refused while replies are pending), or bytes after a
 * `quit`-like end that the two runs cut at different points. */
static bool comparable(const uint8_t *d, size_t n)
{
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        run = d[i] == '\n' ? 0 : run + 1;
        if (run > 2048)
            return false;
    }
    /* a crawl runs on the crawler's thread: a second one may find it BUSY
     * or not, depending on timing (see fuzz_wait_crawler); `watch` is
     * refused while earlier replies are still unsent, which depends on
     * where the reads (TLS records) end */
    /* (a binary Stat request, magic 0x80 opcode 0x10, is `stats` too) */
    return memmem(d, n, "stats", 5) == NULL && memmem(d, n, "\x80\x10", 2) == NULL &&
           memmem(d, n, "shutdown", 8) == NULL && memmem(d, n, "lru_crawler", 11) == NULL &&
           memmem(d, n, "watch", 5) == NULL;
}

int fuzz_tls_input(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    setup_once();
    static const struct store_options opts = {
        .mem_limit = 4u << 20, .item_size_max = 64u << 10, .factor = 1.25, .chunk_size = 48,
        .use_cas = true, .evict_to_free = true, .hashpower = 4, .background_threads = false,
    };
    memset(&ts, 0, sizeof(ts));
    memset(&ws, 0, sizeof(ws));
    FUZZ_CHECK(store_setup(&opts) == 0);
    store_clock_set(2);
    log_verbosity = 0;

    int sv[2];
    FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    for (int k = 0; k < 2; k++)
        FUZZ_CHECK(fcntl(sv[k], F_SETFL, fcntl(sv[k], F_GETFL) | O_NONBLOCK) == 0);
    struct srv v = {.fd = sv[0]};
    struct cli c = {.fd = sv[1], .hash = 0xcbf29ce484222325ull};
    v.t = tls_conn_create(&ws, false);
    FUZZ_CHECK(v.t != NULL);
    FUZZ_CHECK(session_init(&v.s, settings.binding_protocol, &ts, &scratch, &ws) == 0);

    uint8_t mode = data[0];
    const uint8_t *rest = data + 1;
    size_t nrest = size - 1;
    bool only_data = false;
    if ((mode & 1) == 0) {
        /* raw: chunks of 1, 7, 64 or all bytes; the client never reads */
        c.broken = true;
        size_t chunk = (mode >> 1) % 4 == 0 ? 1 : (mode >> 1) % 4 == 1 ? 7 : (mode >> 1) % 4 == 2 ? 64 : nrest;
        for (size_t off = 0; off < nrest && !v.closed; off += chunk) {
            size_t k = nrest - off < chunk ? nrest - off : chunk;
            raw_send(&v, &c, rest + off, k);
            pump(&v, &c);
        }
    } else {
        c.ssl = SSL_new(mode & 2 ? client_ctx12 : client_ctx13);
        FUZZ_CHECK(c.ssl != NULL);
        BIO *inner;
        FUZZ_CHECK(BIO_new_bio_pair(&inner, 0, &c.net, 0) == 1);
        SSL_set_bio(c.ssl, inner, inner);
        SSL_set_connect_state(c.ssl);
        for (unsigned i = 0;; i++) {
            FUZZ_CHECK(i < 64);
            ERR_clear_error();
            int r = SSL_do_handshake(c.ssl);
            FUZZ_CHECK(r == 1 || SSL_get_error(c.ssl, r) == SSL_ERROR_WANT_READ);
            pump(&v, &c);
            FUZZ_CHECK(!v.closed);
            if (r == 1 && !tls_handshaking(v.t))
                break;
        }
        only_data = true;
        ops(&v, &c, rest, nrest, &only_data);
    }
    end_stream(&c);
    pump(&v, &c);
    /* the end of stream always ends the connection */
    FUZZ_CHECK(v.closed);

    tls_conn_destroy(&v.t, v.fd);
    session_deinit(&v.s);
    if (c.ssl != NULL) {
        SSL_free(c.ssl);
        BIO_free(c.net);
    }
    close(sv[0]);
    close(sv[1]);
    ERR_clear_error();

    fuzz_check_chunks_and_teardown(); /* only linked items hold chunks */

    if (only_data && !c.broken && comparable(rest, nrest)) {
        /* the same requests on a plain session over a fresh store */
        uint64_t h;
        size_t b;
        FUZZ_CHECK(store_setup(&opts) == 0);
        store_clock_set(2);
        plain_replies(rest, nrest, &h, &b);
        store_teardown();
        FUZZ_CHECK(b == c.bytes && h == c.hash);
    }
    return 0;
}

#else /* !HAVE_TLS: nothing to fuzz */

int fuzz_tls_input(const uint8_t *data, size_t size)
{
    (void)data;
    (void)size;
    return 0;
}

#endif /* HAVE_TLS */

#ifdef MCD_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_tls_input(data, size);
}
#endif
