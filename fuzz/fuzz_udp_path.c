/*
 * fuzz_udp_path.c - libFuzzer target for UDP requests through the shipped
 * request path: the input is a run of datagrams (each a 2-byte big-endian
 * length, then that many bytes), handled as server/udp.c handles them: the
 * frame header checked (proto/udp_frame.c), the payload put in a session
 * (server/session.c) that session_reset() empties before each datagram, the
 * session run until it needs input, each batch of replies (at the output
 * cap, and at the end) cut into datagram payloads as one message. Over a
 * small real store (2 MB, 16 KB items). Checks:
 *   - a datagram the frame code refuses produces nothing;
 *   - every message cuts into udp_frame_count() payloads of at most
 *     UDP_PAYLOAD_MAX bytes, all full but the last, whose bytes joined are
 *     the replies' bytes, and those are whole replies of the datagram's
 *     protocol: text (and meta) ends in "\r\n", binary is whole packets;
 *   - session_reset() leaves a new session: no item pinned, nothing to
 *     send, no input;
 *   - at the end, with every reply sent, only linked items hold chunks.
 */
#include "config.h"

#include "fuzz/fuzz.h"

#include "proto/reply.h"
#include "proto/udp_frame.h"
#include "server/log.h"
#include "server/session.h"
#include "server/settings.h"
#include "server/stats.h"
#include "server/worker.h"
#include "store/store.h"

#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_UDP_DGRAMS_MAX 64

static struct store_tstats ts, scratch;
static struct worker_tstats ws;

/* "Sends" the session's replies as one message, checking the cut. */
static void send_message(struct session *s)
{
    struct reply *r = &s->out;
    size_t bytes = r->bytes;
    if (bytes == 0) {
        reply_clear(r);
        return;
    }
    size_t total = udp_frame_count(bytes);
    FUZZ_CHECK(total > 0);
    size_t niov;
    const struct iovec *iov = reply_pending(r, &niov);
    struct udp_cursor cur;
    udp_cursor_init(&cur, iov, niov);
    char *joined = malloc(bytes);
    FUZZ_CHECK(joined != NULL);
    size_t at = 0;
    for (size_t i = 0; i < total; i++) {
        struct iovec slices[16];
        size_t n;
        size_t want = bytes - at < UDP_PAYLOAD_MAX ? bytes - at : UDP_PAYLOAD_MAX;
        struct udp_cursor keep = cur;
        size_t got = udp_cursor_slice(&cur, want, slices, 16, &n);
        if (got < want) {
            cur = keep;
            got = udp_cursor_copy(&cur, want, joined + at);
        } else {
            for (size_t k = 0, o = at; k < n; o += slices[k].iov_len, k++)
                memcpy(joined + o, slices[k].iov_base, slices[k].iov_len);
        }
        FUZZ_CHECK(got == want);
        at += got;
    }
    FUZZ_CHECK(at == bytes);
    /* the same bytes as the replies, read straight */
    size_t o = 0;
    for (size_t k = 0; k < niov; o += iov[k].iov_len, k++)
        FUZZ_CHECK(memcmp(joined + o, iov[k].iov_base, iov[k].iov_len) == 0);
    /* and whole replies of the datagram's protocol */
    if (s->proto == PROTO_BINARY)
        fuzz_check_binary_responses(joined, bytes);
    else
        fuzz_check_text_replies(joined, bytes);
    free(joined);
    reply_clear(r);
}

static void one_datagram(struct session *s, const uint8_t *d, size_t n)
{
    struct udp_frame f;
    if (udp_frame_parse(d, n, &f) != UDP_FRAME_OK)
        return;
    FUZZ_CHECK(session_feed(s, (const char *)d + UDP_FRAME_HDR, n - UDP_FRAME_HDR) == n - UDP_FRAME_HDR);
    enum session_result r;
    do {
        unsigned budget = UINT_MAX;
        r = session_run(s, &budget);
        send_message(s);
    } while (r == SESSION_OUTPUT_FULL);
    session_reset(s, PROTO_AUTO);
    FUZZ_CHECK(s->nread_it == NULL && reply_empty(&s->out) && s->rpos == s->rlen);
    FUZZ_CHECK(s->state == SESSION_NEW_CMD);
}

int fuzz_udp_path_input(const uint8_t *data, size_t size)
{
    static bool configured;
    if (!configured) {
        char *argv[] = {"mcd", "-A", NULL};
        FUZZ_CHECK(settings_parse(2, argv) == SETTINGS_RUN);
        stats_set_one_thread(&ts, &ws);
        configured = true;
    }
    static const struct store_options opts = {
        .mem_limit = 2u << 20, .item_size_max = 16u << 10, .factor = 1.25, .chunk_size = 48,
        .use_cas = true, .evict_to_free = true, .hashpower = 4, .background_threads = false,
    };
    memset(&ts, 0, sizeof(ts));
    memset(&ws, 0, sizeof(ws));
    FUZZ_CHECK(store_setup(&opts) == 0);
    store_clock_set(2);
    log_verbosity = 0;
    struct session s;
    FUZZ_CHECK(session_init(&s, PROTO_AUTO, &ts, &scratch, &ws) == 0);

    size_t pos = 0;
    for (unsigned k = 0; k < FUZZ_UDP_DGRAMS_MAX && pos + 2 <= size; k++) {
        size_t n = (size_t)(data[pos] << 8 | data[pos + 1]);
        pos += 2;
        if (n > size - pos)
            n = size - pos;
        one_datagram(&s, data + pos, n);
        pos += n;
    }
    session_deinit(&s);

    fuzz_check_chunks_and_teardown(); /* only linked items hold chunks */
    return 0;
}

#ifdef MCD_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_udp_path_input(data, size);
}
#endif
