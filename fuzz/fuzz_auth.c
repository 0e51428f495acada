/*
 * fuzz_auth.c - libFuzzer target for authentication's parsers: the first
 * byte picks what the rest of the input is.
 *   0, 1  an auth file (-Y): auth_table_parse(); every entry it keeps must
 *         check, with its exact user and password, and a changed password
 *         must not.
 *   2, 3  what an unauthenticated text connection sends: auth_line_parse()
 *         step after step, as the session runs it (progress, bounds).
 *   4..7  a -S session (binary only) fed the input in chunks: SASL list /
 *         auth / step with any mechanism, lengths and bodies, through Cyrus
 *         SASL (no password database: only a mechanism such as ANONYMOUS
 *         can succeed). Replies are whole packets, and until a reply says
 *         "Authenticated" no request but Version and the SASL ones is served.
 *   8..   a -Y session (text) the same way, with the table "alice:secret":
 *         until a "STORED" no reply but the auth replies goes out.
 */
#include "config.h"

#include "fuzz/fuzz.h"

#include "proto/binary.h"
#include "proto/reply.h"
#include "server/auth_file.h"
#include "server/sasl.h"
#include "server/session.h"
#include "server/settings.h"
#include "server/stats.h"
#include "server/worker.h"
#include "store/store.h"

#include <stdbool.h>
#include <string.h>

static struct store_tstats ts, scratch;
static struct worker_tstats ws;

static void table_input(const char *d, size_t n)
{
    struct auth_table *t = auth_table_parse(d, n);
    if (t == NULL)
        return;
    /* every line has a colon (or the table would be NULL): check each */
    const char *p = d, *end = d + n;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl != NULL ? nl : end;
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        FUZZ_CHECK(colon != NULL);
        const char *pend = eol > colon + 1 && eol[-1] == '\r' ? eol - 1 : eol;
        size_t ulen = (size_t)(colon - p), plen = (size_t)(pend - colon - 1);
        FUZZ_CHECK(auth_table_check(t, p, ulen, colon + 1, plen));
        if (plen > 0) {
            char wrong[64];
            size_t k = plen < sizeof(wrong) ? plen : sizeof(wrong);
            memcpy(wrong, colon + 1, k);
            wrong[k - 1] ^= 0x55;   /* may still match another entry: no check */
            (void)auth_table_check(t, p, ulen, wrong, k);
        }
        p = nl != NULL ? nl + 1 : end;
    }
    auth_table_free(t);
}

static void line_input(const char *d, size_t n)
{
    size_t pos = 0;
    while (pos < n) {
        size_t consumed = 0;
        struct auth_token tok;
        enum auth_step st = auth_line_parse(d + pos, n - pos, &consumed, &tok);
        if (st == AUTH_NEED_MORE || st == AUTH_CLOSE) {
            FUZZ_CHECK(consumed == 0);
            break;
        }
        FUZZ_CHECK(consumed > 0 && consumed <= n - pos);
        FUZZ_CHECK(auth_step_reply(st, false) != NULL);
        if (st == AUTH_TOKEN) {
            FUZZ_CHECK(tok.user >= d + pos && tok.user + tok.ulen <= d + pos + consumed);
            FUZZ_CHECK(tok.pass >= tok.user && tok.pass + tok.plen <= d + pos + consumed);
            FUZZ_CHECK(tok.ulen + tok.plen + 1 <= AUTH_TOKEN_MAX);
        }
        pos += consumed;
    }
}

/* The replies a -Y connection may get before it is authenticated. */
static bool ascii_auth_reply(const char *line, size_t n)
{
    static const char *const ok[] = {
        "CLIENT_ERROR unauthenticated", "CLIENT_ERROR auth token too long",
        "CLIENT_ERROR bad command line termination", "CLIENT_ERROR bad authentication token format",
        "CLIENT_ERROR authentication failure", "STORED",
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (n == strlen(ok[i]) && memcmp(line, ok[i], n) == 0)
            return true;
    return false;
}

/* Checks the replies of one batch; returns true once authenticated. */
static bool check_replies(bool sasl, const char *out, size_t n, bool authed)
{
    if (sasl) {
        fuzz_check_binary_responses(out, n);
        for (size_t off = 0; off < n;) {
            struct binary_header h;
            binary_header_decode(out + off, &h);
            bool sasl_op = h.opcode == BINARY_OP_SASL_LIST_MECHS || h.opcode == BINARY_OP_SASL_AUTH ||
                           h.opcode == BINARY_OP_SASL_STEP;
            /* before authentication: the SASL opcodes, Version, refusals,
             * and the header errors memcached checks first (0x81, 0x04) */
            if (!authed)
                FUZZ_CHECK(sasl_op || h.opcode == BINARY_OP_VERSION || h.status == BINARY_STATUS_AUTH_ERROR ||
                           h.status == BINARY_STATUS_EINVAL || h.status == BINARY_STATUS_UNKNOWN_COMMAND);
            if (sasl_op && h.opcode != BINARY_OP_SASL_LIST_MECHS)
                authed = h.status == BINARY_STATUS_OK; /* a failed or open exchange drops it */
            off += BINARY_HEADER_LEN + h.bodylen;
        }
        return authed;
    }
    for (size_t off = 0; off < n && !authed;) {
        const char *nl = memchr(out + off, '\n', n - off);
        FUZZ_CHECK(nl != NULL && nl > out + off && nl[-1] == '\r');
        size_t len = (size_t)(nl - 1 - (out + off));
        FUZZ_CHECK(ascii_auth_reply(out + off, len));
        authed = len == 6 && memcmp(out + off, "STORED", 6) == 0;
        off = (size_t)(nl - out) + 1;
    }
    return authed;
}

static void session_input(bool sasl, const char *d, size_t n)
{
    static const struct store_options opts = {
        .mem_limit = 2u << 20, .item_size_max = 16u << 10, .factor = 1.25, .chunk_size = 48,
        .use_cas = true, .evict_to_free = true, .hashpower = 4, .background_threads = false,
    };
    static struct session s;
    static char *argv[] = {"mcd", NULL};
    struct settings saved = settings;   /* other targets of the replay keep theirs */
    FUZZ_CHECK(settings_parse(1, argv) == SETTINGS_RUN);
    FUZZ_CHECK(store_setup(&opts) == 0);
    store_clock_set(2);
    settings.enable_sasl = sasl;
    settings.auth_file = sasl ? NULL : "fuzz";
    FUZZ_CHECK(session_init(&s, sasl ? PROTO_BINARY : PROTO_ASCII, &ts, &scratch, &ws) == 0);
    uint64_t rnd = 0x9e3779b97f4a7c15ull ^ n;
    size_t pos = 0;
    bool authed = false, closed = false;
    while (pos < n && !closed) {
        rnd ^= rnd << 13, rnd ^= rnd >> 7, rnd ^= rnd << 17;
        size_t want = 1 + (size_t)(rnd % 64);
        size_t end = want < n - pos ? pos + want : n;
        size_t took = session_feed(&s, d + pos, end - pos);
        pos += took;
        enum session_result r;
        do {
            unsigned budget = 1;
            r = session_run(&s, &budget);
            char *out;
            size_t outlen;
            fuzz_drain_reply(&s.out, &out, &outlen);
            authed = check_replies(sasl, out, outlen, authed);
            free(out);
        } while (r == SESSION_BUDGET || r == SESSION_OUTPUT_FULL);
        if (r == SESSION_CLOSE || r == SESSION_SHUTDOWN || r == SESSION_GRACEFUL)
            closed = true;
        else
            FUZZ_CHECK(took > 0);
    }
    session_deinit(&s);
    settings = saved;
    store_teardown();
}

int fuzz_auth_input(const uint8_t *data, size_t size)
{
    static bool configured, have_sasl;
    if (!configured) {
        stats_set_one_thread(&ts, &ws);
        static const char table[] = "alice:secret\nbob:pw\n";
        auth_file_use(auth_table_parse(table, sizeof(table) - 1));
        have_sasl = mcd_sasl_setup() == 0; /* not in a build without SASL */
        configured = true;
    }
    if (size == 0)
        return 0;
    const char *d = (const char *)data + 1;
    size_t n = size - 1;
    switch (data[0] % 16) {
    case 0: case 1: table_input(d, n); break;
    case 2: case 3: line_input(d, n); break;
    case 4: case 5: case 6: case 7:
        if (have_sasl)
            session_input(true, d, n);
        break;
    default: session_input(false, d, n); break;
    }
    return 0;
}

#ifdef MCD_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_auth_input(data, size);
}
#endif
