/*
 * fuzz_request_path.c - libFuzzer target for the shipped request path: the
 * input is what a client sends on one connection, fed to a session
 * (server/session.c: framing, protocol sniffing from the first byte, the
 * command layer in server/process*.c) over a small real store, exactly as
 * server/conn.c feeds it from a socket. No executor of its own.
 *
 * The session is bound as -B auto, or now and then (by a hash of the
 * input) as -B ascii or -B binary. Each input runs twice on a fresh store: once fed whole, once in chunks
 * whose sizes come from a hash of the input (single bytes, pieces of up to
 * 16 or up to 4096 bytes), as reads would deliver it. Every run takes one
 * request per session_run() (-R 1) and "sends" the replies after each.
 * The chunked run either keeps the clock still, so that its replies must
 * be the whole run's, or (chosen by the hash too) ticks it one second per
 * request and runs store_maintain() every 16, for TTL expiry and hash
 * table growth. (A timed run cannot be compared: after a value completes,
 * the session parses the next request in the same run, so where a tick
 * falls depends on the split.) Under test: the parsers and the session's
 * states across every split (NREAD, SWALLOW, MWRITE at the output cap),
 * item reference counts across replies, out of memory and eviction in a
 * 2 MB store (16 KB items), hashpower 4. Invariants:
 *   - a still clock: the replies are the same, byte for byte, however the
 *     input is split (a crawl that a request starts, on the crawler's own
 *     thread, is waited for before the next request runs) (unless the input has a run of more than
 *     TEXT_LINE_MAX bytes with no newline: whether such a line is refused
 *     depends on how much of it has arrived, in memcached as in mcd; and
 *     `stats`, whose rusage lines are the process's CPU time, `stats
 *     latency`, whose lines are measured times, and `stats hotkeys`, whose
 *     counts come from samples taken at random intervals; and an lru_crawler
 *     request answered BUSY, which depends on the crawler thread's timing);
 *   - a text set/add/replace/cas whose value arrived in a later chunk and
 *     that answered STORED reads back as the very item the value was read
 *     into (same flags and length), unless it has an exptime or a flush ran;
 *   - every batch of replies is whole: text ends in "\r\n", binary is a
 *     sequence of whole packets;
 *   - the input never stalls: a session that wants more input takes it;
 *   - once the replies are sent and the session is gone, no chunk is still
 *     held: the slab's used chunks equal the linked items.
 * (The old executor's read-back of deletes and incr results is gone with
 * it: the outcomes are now the shipped command layer's, which the unit
 * tests and the differential tests compare with memcached 1.6.45.)
 */
#define _GNU_SOURCE /* memmem */
#include "config.h"

#include "fuzz/fuzz.h"

#include "proto/proto.h"
#include "proto/reply.h"
#include "proto/text.h"
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

#define FUZZ_PATH_MAX_CMDS 4096
#define LOG_MAX (256u << 10)

static struct store_tstats ts, scratch;
static struct worker_tstats ws;

static void ignore_stat(void *ctx, const char *name, const char *value)
{
    (void)ctx;
    (void)name;
    (void)value;
}

/* What earlier inputs may have changed outside the store: `stats reset`'s
 * baseline (taken again now, on zeroed counters), `stats detail`,
 * `slabs automove`, `verbosity`, `lru_crawler enable|disable|sleep|tocrawl`. */
static void reset_process_state(void)
{
    FUZZ_CHECK(stats_group("reset", 5, ignore_stat, NULL) == STATS_GROUP_RESET);
    FUZZ_CHECK(stats_group("detail off", 10, ignore_stat, NULL) == STATS_GROUP_DONE_OK);
    store_slabs_automove_set(1);
    log_verbosity = 0;
    (void)store_crawl_enable(true); /* FAILED when it is on already */
    store_crawl_set_sleep(100);     /* the defaults (-o lru_crawler_sleep, _tocrawl) */
    store_crawl_set_tocrawl(0);
}

/* One pass over the input. */
struct pass {
    struct session s;
    bool timed;             /* the clock ticks; store_maintain runs */
    rel_time_t now;
    uint64_t ticked;        /* s.commands when the clock last ticked */
    uint64_t hash;          /* FNV-1a of every reply byte */
    size_t bytes;           /* reply bytes */
    char *log;              /* the first LOG_MAX reply bytes, to show a mismatch */
    bool flushed;           /* a flush may have run: read-back is off */
    bool clocked;           /* a reply showed times or samples (see unrepeatable) */
    /* the text storage request whose value is being read (see check_stored) */
    struct item *nread_it;
    char key[STORE_KEY_MAX];
    size_t nkey;
    uint32_t flags, vlen;
    uint64_t watch_commands; /* s.commands when it was parsed */
    bool watch;
};

static uint64_t fnv(uint64_t h, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)p[i]) * 0x100000001b3ull;
    return h;
}

/* True when a reply holds what a second run cannot repeat: the process's
 * CPU time (stats), latencies measured in microseconds (stats latency),
 * sampled counts (stats hotkeys: the sampling gaps come from a generator
 * that `stats reset` does not rewind, nor should it). */
static bool unrepeatable(const char *out, size_t n)
{
    return memmem(out, n, "rusage_", 7) != NULL || memmem(out, n, "_us ", 4) != NULL ||
           memmem(out, n, "STAT hotkey ", 12) != NULL;
}

/* "Sends" the pending replies (in uneven pieces, fuzz_drain_reply) and
 * checks that they are whole. Returns them (the caller frees). */
static char *send_replies(struct pass *p, size_t *n)
{
    char *out;
    fuzz_drain_reply(&p->s.out, &out, n);
    if (p->s.proto == PROTO_BINARY)
        fuzz_check_binary_responses(out, *n);
    else
        fuzz_check_text_replies(out, *n);
    if (unrepeatable(out, *n))
        p->clocked = true;
    /* the crawler runs on its own thread: whether a second lru_crawler
     * request finds it still busy depends on that thread's timing */
    if (memmem(out, *n, "BUSY currently processing crawler", 33) != NULL)
        p->clocked = true;
    p->hash = fnv(p->hash, out, *n);
    if (p->bytes < LOG_MAX)
        memcpy(p->log + p->bytes, out, *n < LOG_MAX - p->bytes ? *n : LOG_MAX - p->bytes);
    p->bytes += *n;
    return out;
}

/* Remembers the text storage request that is waiting for its value. */
static void watch_value(struct pass *p)
{
    const struct mc_request *m = &p->s.req.mc;
    p->watch = false;
    if (p->s.state != SESSION_NREAD || p->s.proto != PROTO_ASCII || p->s.req.kind != REQUEST_CLASSIC)
        return;
    if (m->noreply || m->exptime != 0 ||
        (m->cmd != MC_CMD_SET && m->cmd != MC_CMD_ADD && m->cmd != MC_CMD_REPLACE && m->cmd != MC_CMD_CAS))
        return;
    struct item *it = p->s.nread_it;
    p->nread_it = it;
    p->nkey = item_nkey(it);
    FUZZ_CHECK(p->nkey <= sizeof(p->key));
    memcpy(p->key, item_key(it), p->nkey);
    p->flags = item_flags(it);
    p->vlen = item_nbytes(it);
    p->watch_commands = p->s.commands;
    p->watch = true;
}

/* The watched request answered STORED and nothing else ran: the key now
 * reads back as the item its value went into. */
static void check_stored(struct pass *p, const char *out, size_t n, uint64_t commands)
{
    /* nothing watched, or its value is still coming (the same item, and no
     * later request parsed: that one's item may reuse the chunk) */
    if (!p->watch || (p->s.state == SESSION_NREAD && p->s.nread_it == p->nread_it &&
                      p->s.commands == p->watch_commands))
        return;
    p->watch = false;
    if (p->flushed || commands != p->s.commands || n != 8 || memcmp(out, "STORED\r\n", 8) != 0)
        return;
    static const struct store_get_opts quiet = {.kind = STORE_GET_QUIET, .no_bump = true};
    struct item *back = store_get(p->key, p->nkey, &quiet, NULL, &scratch);
    FUZZ_CHECK(back == p->nread_it);
    FUZZ_CHECK(item_flags(back) == p->flags && item_nbytes(back) == p->vlen);
    item_release(back);
}

/* One session_run() of at most one request, then its replies go out and
 * time moves on if a request completed. */
static enum session_result run_once(struct pass *p)
{
    unsigned budget = 1;
    uint64_t before = p->s.commands;
    enum session_result r = session_run(&p->s, &budget);
    fuzz_wait_crawler(); /* a crawl it started ends before anything else runs */
    size_t n;
    char *out = send_replies(p, &n);
    check_stored(p, out, n, before);
    free(out);
    if (p->s.req.kind == REQUEST_CLASSIC && p->s.req.mc.cmd == MC_CMD_FLUSH_ALL)
        p->flushed = true;
    if (p->s.state == SESSION_NREAD && !p->watch)
        watch_value(p);
    if (p->timed && p->s.state != SESSION_NREAD && p->s.commands != p->ticked) {
        for (uint64_t c = p->ticked + 1; c <= p->s.commands; c++)
            if (c % 16 == 0)
                store_maintain();
        p->ticked = p->s.commands;
        store_clock_set(++p->now);
    }
    return r;
}

/* xorshift64 */
static uint64_t next_rand(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* Runs the whole input through a fresh store and session, in chunks from
 * `seed` (0: all at once), with the clock ticking or not. */
static void run_pass(struct pass *p, const uint8_t *data, size_t size, uint64_t seed, bool timed,
                     enum proto_binding proto)
{
    /* MCD_FUZZ_ITEM_STORE=segments: the same passes on the segment engine */
    static struct store_options opts = {
        .mem_limit = 2u << 20, .item_size_max = 16u << 10, .factor = 1.25, .chunk_size = 48,
        .use_cas = true, .evict_to_free = true, .hashpower = 4, .background_threads = false,
    };
    const char *engine = getenv("MCD_FUZZ_ITEM_STORE");
    opts.segments = engine != NULL && strcmp(engine, "segments") == 0;
    char *log = p->log;
    memset(p, 0, sizeof(*p));
    p->log = log != NULL ? log : malloc(LOG_MAX);
    FUZZ_CHECK(p->log != NULL);
    p->timed = timed;
    memset(&ts, 0, sizeof(ts));
    memset(&ws, 0, sizeof(ws));
    p->now = 2;
    p->hash = 0xcbf29ce484222325ull;
    FUZZ_CHECK(store_setup(&opts) == 0);
    store_clock_set(p->now);
    reset_process_state();
    FUZZ_CHECK(session_init(&p->s, proto, &ts, &scratch, &ws) == 0);

    /* chunk sizes: single bytes, up to 16 or up to 4096 bytes */
    uint64_t rnd = seed | 1;
    unsigned shift = seed == 0 ? 0 : (unsigned)(seed >> 60) % 3;
    size_t maxchunk = seed == 0 ? size : shift == 0 ? 1 : shift == 1 ? 16 : 4096;
    size_t pos = 0;
    bool closed = false;
    while (pos < size && !closed && p->s.commands < FUZZ_PATH_MAX_CMDS) {
        size_t want = maxchunk == size ? size : 1 + (size_t)(next_rand(&rnd) % maxchunk);
        size_t end = want < size - pos ? pos + want : size;
        while (pos < end && !closed) {
            size_t took = session_feed(&p->s, (const char *)data + pos, end - pos);
            pos += took;
            enum session_result r;
            do {
                r = run_once(p);
            } while ((r == SESSION_BUDGET || r == SESSION_OUTPUT_FULL) && p->s.commands < FUZZ_PATH_MAX_CMDS);
            if (r == SESSION_CLOSE || r == SESSION_SHUTDOWN || r == SESSION_GRACEFUL || r == SESSION_WATCH ||
                p->s.commands >= FUZZ_PATH_MAX_CMDS)
                closed = true;
            else
                FUZZ_CHECK(took > 0); /* it wants input and takes none: the connection would hang */
        }
    }
    session_deinit(&p->s);

    fuzz_check_chunks_and_teardown(); /* only linked items hold chunks */
}

/* True when some stretch of the input is longer than a text line may be
 * without its newline (see the file comment). */
static bool has_long_line(const uint8_t *data, size_t size)
{
    size_t run = 0;
    for (size_t i = 0; i < size; i++) {
        run = data[i] == '\n' ? 0 : run + 1;
        if (run > TEXT_LINE_MAX)
            return true;
    }
    return false;
}

/* Prints where the whole run's replies and the split run's part. */
static void show_mismatch(const struct pass *w, const struct pass *s)
{
    size_t n = w->bytes < s->bytes ? w->bytes : s->bytes;
    if (n > LOG_MAX)
        n = LOG_MAX;
    size_t at = 0;
    while (at < n && w->log[at] == s->log[at])
        at++;
    size_t from = at > 200 ? at - 200 : 0;
    fprintf(stderr, "fuzz: whole run %zu reply bytes, split run %zu; they part at byte %zu\n", w->bytes, s->bytes,
            at);
    const struct pass *both[2] = {w, s};
    for (int k = 0; k < 2; k++) {
        size_t len = both[k]->bytes < LOG_MAX ? both[k]->bytes : LOG_MAX;
        size_t to = at + 200 < len ? at + 200 : len;
        fprintf(stderr, "fuzz: %s: \"", k == 0 ? "whole" : "split");
        for (size_t i = from; i < to; i++) {
            unsigned char c = (unsigned char)both[k]->log[i];
            if (c == '\n' || (c >= 0x20 && c < 0x7f && c != '\\'))
                fputc(c, stderr);
            else
                fprintf(stderr, "\\x%02x", c);
        }
        fputs("\"\n", stderr);
    }
}

int fuzz_request_path_input(const uint8_t *data, size_t size)
{
    static bool configured;
    if (!configured) {
        char *argv[] = {"mcd", "-A", NULL};
        FUZZ_CHECK(settings_parse(2, argv) == SETTINGS_RUN);
        stats_set_one_thread(&ts, &ws);
        configured = true;
    }
    if (size == 0)
        return 0;

    static struct pass whole, split;
    uint64_t seed = fnv(0xcbf29ce484222325ull, (const char *)data, size);
    bool timed = (seed >> 8) % 4 == 0;
    /* mostly -B auto (the first byte decides), sometimes -B ascii or binary */
    unsigned b = (unsigned)(seed >> 16) % 8;
    enum proto_binding proto = b == 0 ? PROTO_ASCII : b == 1 ? PROTO_BINARY : PROTO_AUTO;
    run_pass(&split, data, size, seed == 0 ? 1 : seed, timed, proto);
    if (timed)
        return 0;
    run_pass(&whole, data, size, 0, false, proto);
    if (!has_long_line(data, size) && !whole.clocked && !split.clocked) {
        if (whole.bytes != split.bytes || whole.hash != split.hash)
            show_mismatch(&whole, &split);
        FUZZ_CHECK(whole.bytes == split.bytes);
        FUZZ_CHECK(whole.hash == split.hash);
    }
    return 0;
}

#ifdef MCD_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_request_path_input(data, size);
}
#endif
