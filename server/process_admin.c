/*
 * process_admin.c - the command layer's inspection commands: `lru_crawler`
 * (crawl, metadump, mgdump, tocrawl, sleep, enable, disable), `stats
 * cachedump`, `stats sizes` under -o track_sizes and `stats detail dump`,
 * with memcached 1.6.45's replies.
 *
 * A dump (metadump, mgdump, cachedump, sizes) is a job with a store cursor
 * (store_dump_*, store/crawler.c). Each call formats a bounded number of
 * items and, while more remain, returns PROCESS_MORE, as a get of many keys
 * does: the session (MWRITE) calls again with the same request once the
 * replies have drained, so a dump of any size streams with back-pressure
 * and other clients of the worker are served between its slices. The job
 * lives in the context (x->job) until the dump ends or the connection goes
 * (process_ctx_release()).
 */
#include "config.h"

#include "server/process_admin.h"

#include "proto/meta.h"
#include "proto/proto.h"
#include "proto/reply.h"
#include "proto/token.h"
#include "server/settings.h"
#include "server/stats_detail.h"
#include "store/store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Items taken from the store per step, and steps per call. */
#define JOB_BATCH 64
#define JOB_STEPS 16
/* memcached's cachedump answers at most this many bytes (2 MB). */
#define CACHEDUMP_MAX (2 * 1024 * 1024)
#define SIZES_BUCKET 32

enum job_kind { JOB_METADUMP, JOB_MGDUMP, JOB_CACHEDUMP, JOB_SIZES };

struct admin_job {
    enum job_kind kind;
    struct store_dump *d;
    uint64_t left;          /* cachedump: items still wanted (UINT64_MAX: all) */
    size_t bytes;           /* cachedump: bytes sent */
    uint64_t *hist;         /* sizes: items per SIZES_BUCKET bytes */
    size_t nhist;
};

/* text[n] must be NUL: the binary protocol sends the text as one stat. */
static void put_raw(struct request_ctx *x, const struct mc_request *req, const char *text, size_t n)
{
    struct mc_result res = {.status = MC_DETAIL_DUMP, .data = text, .nbytes = (uint32_t)n};
    if (!req->noreply && x->enc->result(x->out, req, &res) != 0)
        x->broken = true;
}

#define PUT_LIT(x, req, lit) put_raw((x), (req), (lit), sizeof(lit) - 1)

static void job_free(struct admin_job *j)
{
    if (j == NULL)
        return;
    store_dump_close(j->d);
    free(j->hist);
    free(j);
}

void process_ctx_release(struct request_ctx *x)
{
    job_free(x->job);
    x->job = NULL;
}

/* The size memcached 1.6.45 gives an item (ITEM_ntotal: its 48-byte header,
 * the CAS, the client flags when not 0, the key and its NUL, the value and
 * its CRLF), so that dumps and `stats sizes` read as its do. */
static uint64_t memcached_size(const struct store_dump_item *it)
{
    return 48 + (settings.use_cas ? 8 : 0) + (it->flags != 0 ? 4 : 0) + (uint64_t)it->nkey + 1 + it->nbytes + 2;
}

/* memcached's URI encoding of a key: unreserved bytes as they are, the
 * rest %XX. */
static size_t uri_encode(const char *in, size_t n, char *out)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)in[i];
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
            ch == '.' || ch == '_' || ch == '~') {
            out[o++] = (char)ch;
        } else {
            out[o++] = '%';
            out[o++] = hex[ch >> 4];
            out[o++] = hex[ch & 15];
        }
    }
    return o;
}

static long long unix_time(rel_time_t t)
{
    return (long long)store_clock_epoch() + t;
}

/* Appends a literal, a number, a signed number (snprintf was half a
 * dump's time). */
#define APPEND_LIT(p, lit) (memcpy((p), (lit), sizeof(lit) - 1), (p) += sizeof(lit) - 1)
static char *append_u64(char *p, uint64_t v)
{
    return p + token_fmt_u64(p, v);
}
static char *append_i64(char *p, long long v)
{
    if (v < 0) {
        *p++ = '-';
        return append_u64(p, (uint64_t)0 - (uint64_t)v);
    }
    return append_u64(p, (uint64_t)v);
}

/* One item's line into buf (room for the longest: 3 * STORE_KEY_MAX + 160
 * bytes); returns its length. */
static size_t format_item(const struct admin_job *j, const struct store_dump_item *it, char *buf)
{
    char *p = buf;
    switch (j->kind) {
    case JOB_METADUMP:
        APPEND_LIT(p, "key=");
        p += uri_encode(it->key, it->nkey, p);
        APPEND_LIT(p, " exp=");
        p = append_i64(p, it->exptime == 0 ? -1LL : unix_time(it->exptime));
        APPEND_LIT(p, " la=");
        p = append_i64(p, unix_time(it->atime));
        APPEND_LIT(p, " cas=");
        p = append_u64(p, it->cas);
        if (it->fetched)
            APPEND_LIT(p, " fetch=yes cls=");
        else
            APPEND_LIT(p, " fetch=no cls=");
        p = append_u64(p, it->clsid);
        APPEND_LIT(p, " size=");
        p = append_u64(p, memcached_size(it));
        APPEND_LIT(p, " flags=");
        p = append_u64(p, it->flags);
        APPEND_LIT(p, " \n");
        break;
    case JOB_MGDUMP:
        APPEND_LIT(p, "mg ");
        if (it->key_binary) {
            p += meta_base64_encode(it->key, it->nkey, p, 4 * ((STORE_KEY_MAX + 2) / 3));
            APPEND_LIT(p, " b");
        } else {
            memcpy(p, it->key, it->nkey);
            p += it->nkey;
        }
        APPEND_LIT(p, "\r\n");
        break;
    case JOB_CACHEDUMP:
        APPEND_LIT(p, "ITEM ");
        memcpy(p, it->key, it->nkey);
        p += it->nkey;
        APPEND_LIT(p, " [");
        p = append_u64(p, it->nbytes);
        APPEND_LIT(p, " b; ");
        p = append_i64(p, it->exptime == 0 ? 0LL : unix_time(it->exptime));
        APPEND_LIT(p, " s]\r\n");
        break;
    case JOB_SIZES: break;
    }
    return (size_t)(p - buf);
}

/* The end of a job: its last lines. */
static void job_finish(struct request_ctx *x, const struct mc_request *req, struct admin_job *j)
{
    switch (j->kind) {
    case JOB_METADUMP:
    case JOB_CACHEDUMP: PUT_LIT(x, req, "END\r\n"); break;
    case JOB_MGDUMP: PUT_LIT(x, req, "EN\r\n"); break;
    case JOB_SIZES: {
        char line[64];
        for (size_t i = 0; i < j->nhist; i++) {
            if (j->hist[i] == 0)
                continue;
            int n = snprintf(line, sizeof(line), "STAT %zu %" PRIu64 "\r\n", i * SIZES_BUCKET, j->hist[i]);
            put_raw(x, req, line, (size_t)n);
        }
        PUT_LIT(x, req, "END\r\n");
        break;
    }
    }
}

/* Runs the context's job for one slice. */
static enum process_next job_run(struct request_ctx *x, const struct mc_request *req)
{
    static _Thread_local struct store_dump_item items[JOB_BATCH];
    static _Thread_local char text[JOB_BATCH * (3 * STORE_KEY_MAX + 160) + 1];
    struct admin_job *j = x->job;

    for (int step = 0; step < JOB_STEPS; step++) {
        if (reply_weight(x->out) >= x->out_cap || x->broken)
            return x->broken ? (process_ctx_release(x), PROCESS_CONTINUE) : PROCESS_MORE;
        size_t want = JOB_BATCH;
        if (j->kind == JOB_CACHEDUMP && j->left < want)
            want = (size_t)j->left;
        size_t n = want > 0 ? store_dump_next(j->d, items, want) : 0;
        if (n == 0) {
            job_finish(x, req, j);
            process_ctx_release(x);
            return PROCESS_CONTINUE;
        }
        size_t len = 0;
        for (size_t i = 0; i < n; i++) {
            if (j->kind == JOB_SIZES) {
                uint64_t b = (memcached_size(&items[i]) + SIZES_BUCKET - 1) / SIZES_BUCKET;
                if (b >= j->nhist) {
                    uint64_t *h = realloc(j->hist, (b + 1) * sizeof(*h));
                    if (h == NULL)
                        continue;
                    memset(h + j->nhist, 0, (b + 1 - j->nhist) * sizeof(*h));
                    j->hist = h;
                    j->nhist = b + 1;
                }
                j->hist[b]++;
                continue;
            }
            size_t l = format_item(j, &items[i], text + len);
            if (j->kind == JOB_CACHEDUMP) {
                if (j->bytes + l + 5 > CACHEDUMP_MAX) {
                    j->left = 0;
                    break;
                }
                j->bytes += l;
                j->left--;
            }
            len += l;
        }
        text[len] = '\0';
        if (len > 0)
            put_raw(x, req, text, len);
    }
    return PROCESS_MORE;
}

static enum process_next job_start(struct request_ctx *x, const struct mc_request *req, enum job_kind kind,
                                   uint64_t classes, uint64_t limit)
{
    struct admin_job *j = calloc(1, sizeof(*j));
    if (j != NULL)
        j->d = store_dump_open(classes);
    if (j == NULL || j->d == NULL) {
        free(j);
        PUT_LIT(x, req, "SERVER_ERROR out of memory\r\n");
        return PROCESS_CONTINUE;
    }
    j->kind = kind;
    j->left = limit;
    x->job = j;
    return job_run(x, req);
}

/* ---- lru_crawler ---- */

/* "1,3,10" or "all" into a class mask. False: BADCLASS. *any: some class named. */
static bool parse_classes(const char *s, size_t n, uint64_t *mask, bool *any)
{
    *mask = 0;
    *any = false;
    if (n == 3 && memcmp(s, "all", 3) == 0) {
        *mask = ~UINT64_C(0) << 1;
        *any = true;
        return true;
    }
    size_t i = 0;
    while (i < n) {
        size_t e = i;
        while (e < n && s[e] != ',')
            e++;
        if (e > i) {
            uint32_t id;
            if (!token_parse_u32(s + i, e - i, &id) || id < 1 || id >= STORE_CLASSES_MAX)
                return false;
            *mask |= UINT64_C(1) << id;
            *any = true;
        }
        i = e + 1;
    }
    return true;
}

static bool word_is(const char *w, size_t n, const char *lit)
{
    return strlen(lit) == n && memcmp(w, lit, n) == 0;
}

/* The words of a command's arguments: the first three in tok/ntok; returns
 * how many there are in all. */
static size_t split_args(const struct mc_request *req, const char *tok[3], size_t ntok[3])
{
    size_t pos = 0, nt = 0, wn;
    const char *w;
    while (token_next(req->args, req->args_len, &pos, &w, &wn)) {
        if (nt < 3) {
            tok[nt] = w;
            ntok[nt] = wn;
        }
        nt++;
    }
    return nt;
}

enum process_next process_lru_crawler(struct request_ctx *x, const struct mc_request *req)
{
    if (x->job != NULL)
        return job_run(x, req);

    const char *tok[3] = {0};
    size_t ntok[3] = {0};
    size_t nt = split_args(req, tok, ntok);
    if (nt == 2 && (word_is(tok[0], ntok[0], "crawl") || word_is(tok[0], ntok[0], "metadump") ||
                    word_is(tok[0], ntok[0], "mgdump"))) {
        bool crawl = tok[0][1] == 'r';
        bool mg = tok[0][1] == 'g';
        if (!crawl && !settings.dump_enabled) {
            if (mg)
                PUT_LIT(x, req, "ERROR key dump not allowed\r\n");
            else
                PUT_LIT(x, req, "ERROR metadump not allowed\r\n");
            return PROCESS_CONTINUE;
        }
        if (!store_crawl_enabled()) {
            PUT_LIT(x, req, "CLIENT_ERROR lru crawler disabled\r\n");
            return PROCESS_CONTINUE;
        }
        uint64_t mask;
        bool any;
        /* "hash": memcached walks its hash table; mcd's walk is the same
         * either way (every chunk of every class) */
        if (!crawl && word_is(tok[1], ntok[1], "hash")) {
            mask = ~UINT64_C(0) << 1;
            any = true;
        } else if (!parse_classes(tok[1], ntok[1], &mask, &any)) {
            PUT_LIT(x, req, "BADCLASS invalid class id\r\n");
            return PROCESS_CONTINUE;
        }
        if (!any) {
            PUT_LIT(x, req, "NOTSTARTED no items to crawl\r\n");
            return PROCESS_CONTINUE;
        }
        if (crawl) {
            switch (store_crawl_start(mask)) {
            case STORE_CRAWL_OK: PUT_LIT(x, req, "OK\r\n"); break;
            case STORE_CRAWL_BUSY: PUT_LIT(x, req, "BUSY currently processing crawler request\r\n"); break;
            case STORE_CRAWL_DISABLED: PUT_LIT(x, req, "CLIENT_ERROR lru crawler disabled\r\n"); break;
            case STORE_CRAWL_FAILED: PUT_LIT(x, req, "ERROR failed to start lru crawler thread\r\n"); break;
            }
            return PROCESS_CONTINUE;
        }
        PUT_LIT(x, req, "OK\r\n");
        return job_start(x, req, mg ? JOB_MGDUMP : JOB_METADUMP, mask, UINT64_MAX);
    }
    if (nt == 2 && (word_is(tok[0], ntok[0], "tocrawl") || word_is(tok[0], ntok[0], "sleep"))) {
        uint32_t v;
        if (!token_parse_digits_u32(tok[1], ntok[1], &v)) {
            PUT_LIT(x, req, "CLIENT_ERROR bad command line format\r\n");
        } else if (tok[0][0] == 't') {
            store_crawl_set_tocrawl(v);
            PUT_LIT(x, req, "OK\r\n");
        } else if (v > 1000000) {
            PUT_LIT(x, req, "CLIENT_ERROR sleep must be one second or less\r\n");
        } else {
            store_crawl_set_sleep(v);
            PUT_LIT(x, req, "OK\r\n");
        }
        return PROCESS_CONTINUE;
    }
    if (nt == 1 && (word_is(tok[0], ntok[0], "enable") || word_is(tok[0], ntok[0], "disable"))) {
        if (store_crawl_enable(tok[0][0] == 'e') == STORE_CRAWL_OK)
            PUT_LIT(x, req, "OK\r\n");
        else
            PUT_LIT(x, req, "ERROR failed to start lru crawler thread\r\n");
        return PROCESS_CONTINUE;
    }
    PUT_LIT(x, req, "ERROR\r\n");
    return PROCESS_CONTINUE;
}

/* ---- stats groups that stream or are not STAT lines ---- */

/* "stats cachedump <class> <limit>": memcached's checks, in its order. */
static enum process_next stats_cachedump(struct request_ctx *x, const struct mc_request *req, size_t nt,
                                         const char **tok, const size_t *ntok)
{
    uint32_t id, limit;
    if (nt < 3) {
        PUT_LIT(x, req, "CLIENT_ERROR bad command line\r\n");
        return PROCESS_CONTINUE;
    }
    if (!settings.dump_enabled) {
        PUT_LIT(x, req, "CLIENT_ERROR stats cachedump not allowed\r\n");
        return PROCESS_CONTINUE;
    }
    if (!token_parse_u32(tok[1], ntok[1], &id) || !token_parse_u32(tok[2], ntok[2], &limit)) {
        PUT_LIT(x, req, "CLIENT_ERROR bad command line format\r\n");
        return PROCESS_CONTINUE;
    }
    if (id >= STORE_CLASSES_MAX) {
        PUT_LIT(x, req, "CLIENT_ERROR Illegal slab id\r\n");
        return PROCESS_CONTINUE;
    }
    if (id == 0) {
        PUT_LIT(x, req, "END\r\n");
        return PROCESS_CONTINUE;
    }
    return job_start(x, req, JOB_CACHEDUMP, UINT64_C(1) << id, limit == 0 ? UINT64_MAX : limit);
}

bool process_admin_stats(struct request_ctx *x, const struct mc_request *req, enum process_next *next)
{
    if (x->job != NULL) {
        *next = job_run(x, req);
        return true;
    }
    const char *tok[3] = {0};
    size_t ntok[3] = {0};
    size_t nt = split_args(req, tok, ntok);
    if (nt == 0)
        return false;
    *next = PROCESS_CONTINUE;
    if (word_is(tok[0], ntok[0], "cachedump")) {
        *next = stats_cachedump(x, req, nt, tok, ntok);
        return true;
    }
    /* (the binary protocol's Stat "sizes" gets stats.c's answer: opcode 0 is text) */
    if (word_is(tok[0], ntok[0], "sizes") && settings.track_sizes && req->opcode == 0) {
        *next = job_start(x, req, JOB_SIZES, ~UINT64_C(0) << 1, UINT64_MAX);
        return true;
    }
    if (word_is(tok[0], ntok[0], "detail") && nt >= 2 && word_is(tok[1], ntok[1], "dump")) {
        size_t len;
        char *text = stats_detail_dump(&len);
        if (text == NULL) {
            PUT_LIT(x, req, "SERVER_ERROR out of memory writing stats\r\n");
            return true;
        }
        put_raw(x, req, text, len);
        free(text);
        return true;
    }
    return false;
}
