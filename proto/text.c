/*
 * text.c - memcached's classic text protocol: line parser and reply encoder.
 *
 * The parser is a pure function of the bytes it is given: it finds one line,
 * splits it on spaces and fills a `struct mc_request` whose pointers point
 * into the caller's buffer. It never consumes a storage command's data block
 * and never touches the store, a socket or the reply.
 *
 * Compatibility rules, each checked against memcached 1.6.45 (the oracle) by
 * sending the bytes on the left and recording the reply on the right. "CE"
 * is "CLIENT_ERROR ", "BCLF" is "bad command line format", K251 is a 251-byte
 * key. The unit tests (tests/unit/proto/test_text_parse.c) and the recorded
 * cases (tests/integration/cases/text.cases) pin these.
 *
 *  Lines and tokens
 *   "get a\n" (bare LF)                  -> served like "get a\r\n"
 *   "get a\r\r\n"                        -> one "\r" stripped: key "a\r" (miss)
 *   at most 2 bytes before the "\n", any "\r" counted: "", "\r", " ",
 *   "x", "\0", "ab" and "mn" with a bare LF  -> CE BCLF
 *   "ab", "   ", "x\0yz"                 -> ERROR
 *   "  get a" (leading spaces)           -> ERROR (the command is empty)
 *   "GET a", "getx a", "get\ta"          -> ERROR (exact, case-sensitive names)
 *   "get a  a   a"                       -> three keys
 *   "get a\tb"                           -> key "a\tb"
 *   "get a\0b"                           -> key "a" (a NUL ends the line)
 *   "<unknown> ... HTTP/x" (last token)  -> connection closed ("GET / HTTP/1.0")
 *   noreply                              -> only as the LAST token, anywhere
 *                                           after the arguments; tokens past
 *                                           a command's arguments are ignored
 *  Line length (no "\n" yet)
 *   2048 bytes                           -> waits for more
 *   2049 bytes, not get/gets             -> connection closed
 *   "get "/"gets " after <= 100 spaces   -> keeps reading (1 MB and more)
 *   non-get line of 16000 bytes + "\n"   -> served (fits memcached's 16 KB read)
 *   non-get line of 17000 bytes + "\n"   -> connection closed
 *  Too few arguments: CE BCLF
 *   "get", "get   ", "gat", "gat 10", "set k 0 0", "incr k", "delete",
 *   "touch k", "verbosity"
 *  Get family
 *   "gat abc a", "+1", 2147483648        -> CE invalid exptime argument
 *   "get a K251 b"                       -> CE BCLF only (no VALUE, no END);
 *                                           see "Differences" below
 *  Storage (flags and exptime keep 1.6's strtoul/strtol rules; the length
 *  is digits with an optional '-')
 *   length abc, -1, +5, 2147483646, 4294967301 -> CE BCLF, nothing swallowed
 *   with a good length, any other error  -> CE BCLF and the data block is
 *     (K251, flags -1/2^64/5x/0x10,         swallowed (silently with a
 *     exptime 2^63, cas missing/-1/+1)      trailing noreply)
 *   "set k 0 0 5 noreply x"              -> STORED (noreply is not last)
 *   flags 4294967296 / 2^64-1            -> stored as 0 / 4294967295
 *   flags +5, -0, "5\t"                  -> 5, 0, 5
 *   exptime 4294967306                   -> accepted, wraps to 10
 *   length 2147483645, 1048577           -> header accepted; the server then
 *                                           answers SERVER_ERROR object too
 *                                           large for cache and swallows
 *  incr/decr: delta is digits only, 0..2^64-1
 *   "incr k abc", "-1", "+1", "-0", 2^64 -> CE invalid numeric delta argument
 *   "incr K251 1"                        -> CE BCLF
 *  delete
 *   "delete k <anything ...>"            -> accepted ("delete k 10": DELETED)
 *   "delete noreply"                     -> silent delete of key "noreply"
 *   "delete K251", "delete K251 5"       -> CE BCLF
 *  touch / gat exptime, flush_all delay: '-'? digits, int32 range
 *   "touch k +1", 2147483648, 4294967306 -> CE invalid exptime argument
 *   "touch k 10 x y z"                   -> accepted
 *  flush_all
 *   "flush_all", "10", "-1", "0 20 30"   -> OK
 *   "flush_all noreply", "10 noreply"    -> silent OK
 *   "flush_all noreply 10", "abc", "+1"  -> CE invalid exptime argument (with
 *                                           -F: CE flush_all not allowed)
 *  mcd extensions (memcached 1.6.45: ERROR, silent with a last noreply)
 *   "flush_prefix p", "p noreply"        -> OK (silent)
 *   "flush_prefix", "a b", K251 prefix   -> CE BCLF (silent with a last noreply)
 *   "config get cluster"                 -> the cluster config (-o cluster_config),
 *                                           else ERROR; any other config line is
 *                                           an unknown command's
 *  verbosity: digits, 0..2^32-1
 *   "verbosity 1", "1 2 3"               -> OK
 *   "verbosity abc", "-1", "+1", 2^32    -> CE BCLF
 *   "verbosity noreply"                  -> silenced CE BCLF
 *  slabs
 *   "slabs automove 0|1|2 [...]"         -> OK
 *   "slabs automove invalid", "-1", "+1" -> CE BCLF
 *   "slabs reassign x 1", "1 +2", 2^32+1 -> CE BCLF
 *   "slabs reassign 1 2"                 -> OK, BUSY, BADCLASS, NOSPARE, SAME
 *                                           (server/process_slabs.c)
 *   "slabs", "slabs x", "slabs automove [3]", "slabs reassign 1",
 *   "slabs reassign 1 2 3"               -> ERROR (exactly two ids)
 *  cache_memlimit: digits only, 0..2^32-1 (megabytes)
 *   "cache_memlimit", "abc", "-1", "+8", 2^32 -> ERROR
 *   "cache_memlimit 8 x"                 -> the limit (tokens after ignored)
 *  Others
 *   "version", "version x y z"           -> VERSION 1.6.45 (args ignored)
 *   "quit", "quit x y"                   -> connection closed
 *   "shutdown ..." without -A            -> SERVER_ERROR: shutdown not enabled
 *                                           (silent with a trailing noreply)
 *   "shutdown x", "shutdown graceful x"  -> (with -A) CE invalid shutdown mode
 *   "stats reset x", "stats items x"     -> the group; the rest is ignored
 *   "stats\t", "stats bogus"             -> ERROR
 *  watch
 *   "watch", "watch fetchers mutations", "watch fetchers fetchers",
 *   "watch proxyreqs" (any of memcached's ten stream names) -> parsed
 *   "watch foo", "watch fetchers noreply", "watch FETCHERS" -> parsed, no
 *                                           stream (flags 0): ERROR
 *   "noop", "lru", "misbehave",
 *   "debugtime", "extstore"              -> ERROR (mcd has no such machinery;
 *                                           see memcached-compat.md)
 *   "lru_crawler <sub> <args>"           -> the rest of the line in args; the
 *                                           command layer (process_admin.c)
 *                                           checks it, ERROR included
 *   "xx noreply", "slabs noreply", "lru_crawler noreply" -> silent: a
 *                                           trailing noreply silences ERROR
 *   "stats bogus noreply"                -> ERROR (stats takes no noreply)
 *   "lru HTTP/1.0", "watch HTTP/1.0"     -> ERROR (memcached knows them);
 *   "misbehave HTTP/1.0", "debugtime ..." -> closed (memcached does not)
 *   "mn", "mg a v", "me a"               -> meta commands (MN, EN): not parsed
 *                                           here: PROTO_ERROR
 *
 * Differences kept on purpose: memcached fetches (and for gat touches) the
 * keys of a multiget before the first over-long key and then throws those
 * replies away; we reject the whole line up front, without the side
 * effects. 1.6.45 then also sends a stray "\r\n" after the CLIENT_ERROR and
 * drops the replies still queued for earlier pipelined commands: mcd sends
 * the error line alone (tests/integration/cases/text-mcd.cases). A multiget line is limited to
 * TEXT_MULTIGET_LINE_MAX (memcached grows without bound).
 */
#include "config.h"

#include "proto/text.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "proto/reply.h"
#include "proto/token.h"

/* memcached looks for "get "/"gets " after at most this many spaces when
 * deciding whether an endless line may keep growing. */
#define TEXT_MULTIGET_LEADING_SPACES 100

/* The tokens we keep: enough to validate any command except the get family
 * (keys are walked separately) and stats/shutdown (the rest is args). Tokens
 * past these are counted and ignored, except the last one (noreply). */
#define TEXT_TOKENS 8

/* A line shorter than this (after its "\r") is CLIENT_ERROR in 1.6.45. */
#define TEXT_LINE_MIN 2

#define MSG_BCLF "bad command line format"
#define MSG_EXPTIME "invalid exptime argument"
#define MSG_DELTA "invalid numeric delta argument"

static const struct {
    const char *name;
    size_t len;
    enum mc_cmd cmd;
} text_cmds[] = {
    /* most frequent first */
    {"get", 3, MC_CMD_GET},
    {"set", 3, MC_CMD_SET},
    {"gets", 4, MC_CMD_GETS},
    {"gat", 3, MC_CMD_GAT},
    {"gats", 4, MC_CMD_GATS},
    {"delete", 6, MC_CMD_DELETE},
    {"incr", 4, MC_CMD_INCR},
    {"decr", 4, MC_CMD_DECR},
    {"touch", 5, MC_CMD_TOUCH},
    {"add", 3, MC_CMD_ADD},
    {"replace", 7, MC_CMD_REPLACE},
    {"append", 6, MC_CMD_APPEND},
    {"prepend", 7, MC_CMD_PREPEND},
    {"cas", 3, MC_CMD_CAS},
    {"stats", 5, MC_CMD_STATS},
    {"flush_all", 9, MC_CMD_FLUSH_ALL},
    {"version", 7, MC_CMD_VERSION},
    {"verbosity", 9, MC_CMD_VERBOSITY},
    {"quit", 4, MC_CMD_QUIT},
    {"shutdown", 8, MC_CMD_SHUTDOWN},
    {"slabs", 5, MC_CMD_SLABS},
    {"lru_crawler", 11, MC_CMD_LRU_CRAWLER},
    {"flush_prefix", 12, MC_CMD_FLUSH_PREFIX},
    {"config", 6, MC_CMD_CONFIG},
    {"watch", 5, MC_CMD_WATCH},
    {"cache_memlimit", 14, MC_CMD_CACHE_MEMLIMIT},
    {"refresh_certs", 13, MC_CMD_REFRESH_CERTS},
};

/* Commands memcached 1.6.45 knows and mcd does not support: ERROR, but an
 * HTTP-looking last token does not close the connection for them. */
static const char *const text_unsupported[] = {"lru", "extstore"};

static bool is_unsupported(const struct token *t)
{
    for (size_t i = 0; i < sizeof(text_unsupported) / sizeof(text_unsupported[0]); i++) {
        if (strlen(text_unsupported[i]) == t->n && memcmp(text_unsupported[i], t->p, t->n) == 0)
            return true;
    }
    return false;
}

/* A command line split on runs of spaces. t[0] is the command: the bytes
 * before the first space (empty when the line starts with one). */
struct text_line {
    struct token t[TEXT_TOKENS];
    size_t nt;          /* all tokens, including those not kept in t[] */
    struct token last;  /* the last token */
};

static enum mc_cmd lookup_cmd(const struct token *t)
{
    for (size_t i = 0; i < sizeof(text_cmds) / sizeof(text_cmds[0]); i++) {
        if (text_cmds[i].len == t->n && text_cmds[i].name[0] == t->p[0] &&
            memcmp(text_cmds[i].name, t->p, t->n) == 0)
            return text_cmds[i].cmd;
    }
    return MC_CMD_NONE;
}

static bool tok_is(const struct token *t, const char *s, size_t n)
{
    return t->n == n && memcmp(t->p, s, n) == 0;
}

static void split_line(const char *buf, size_t n, struct text_line *l)
{
    size_t pos = token_span(buf, 0, n);
    const char *p;
    size_t np;

    l->t[0].p = buf;
    l->t[0].n = pos;
    l->nt = 1;
    while (token_next(buf, n, &pos, &p, &np)) {
        if (l->nt < TEXT_TOKENS) {
            l->t[l->nt].p = p;
            l->t[l->nt].n = np;
        }
        l->nt++;
        l->last.p = p;
        l->last.n = np;
    }
    if (l->nt == 1)
        l->last = l->t[0];
}

/* 1.6.45: a trailing "noreply" (the last token, wherever it is) silences. */
static bool last_is_noreply(const struct text_line *l)
{
    return l->nt > 1 && tok_is(&l->last, "noreply", 7);
}

bool text_next_token(const char *s, size_t len, size_t *pos, const char **tok, size_t *ntok)
{
    return token_next(s, len, pos, tok, ntok);
}

bool text_next_key(const struct mc_request *req, size_t *pos, const char **key, size_t *nkey)
{
    return text_next_token(req->keys, req->keys_len, pos, key, nkey);
}

/* Does an unterminated line start like a multiget memcached lets grow? */
static bool multiget_prefix(const char *buf, size_t len)
{
    size_t i = 0;

    while (i < len && buf[i] == ' ')
        i++;
    if (i > TEXT_MULTIGET_LEADING_SPACES)
        return false;
    buf += i;
    len -= i;
    return (len >= 4 && memcmp(buf, "get ", 4) == 0) || (len >= 5 && memcmp(buf, "gets ", 5) == 0);
}

/* The rest of the line from `from`, without surrounding spaces. */
static void rest_of_line(const char *from, const char *end, const char **p, size_t *n)
{
    while (from < end && *from == ' ')
        from++;
    while (end > from && end[-1] == ' ')
        end--;
    *p = from;
    *n = (size_t)(end - from);
}

static enum proto_status client_error(const char **errmsg, const char *msg)
{
    *errmsg = msg;
    return PROTO_CLIENT_ERROR;
}

/* The key list of a get-family line runs from `from` to `end`: sets
 * req->keys; no key at all, or a key over PROTO_KEY_MAX, is CE BCLF. */
static enum proto_status check_get_keys(const char *from, const char *end, struct mc_request *req,
                                        const char **errmsg)
{
    rest_of_line(from, end, &req->keys, &req->keys_len);
    if (req->keys_len == 0)
        return client_error(errmsg, MSG_BCLF);
    /* a list no longer than one key cannot hold a key that is too long */
    if (req->keys_len > PROTO_KEY_MAX && token_has_longer(req->keys, req->keys_len, PROTO_KEY_MAX)) {
        req->keys = NULL;
        req->keys_len = 0;
        return client_error(errmsg, MSG_BCLF);
    }
    return PROTO_OK;
}

static enum proto_status parse_get(const struct text_line *l, const char *end, struct mc_request *req,
                                   const char **errmsg)
{
    bool touch = req->cmd == MC_CMD_GAT || req->cmd == MC_CMD_GATS;

    if (l->nt < (touch ? 3u : 2u))
        return client_error(errmsg, MSG_BCLF);
    const char *from = l->t[1].p;
    if (touch) {
        int32_t exptime;
        if (!token_parse_digits_i32(l->t[1].p, l->t[1].n, &exptime))
            return client_error(errmsg, MSG_EXPTIME);
        req->exptime = exptime;
        from = l->t[1].p + l->t[1].n;
    }
    return check_get_keys(from, end, req, errmsg);
}

/* "<cmd> <key> <flags> <exptime> <bytes> [<cas>] ... [noreply]". Once the
 * length parses, every other error swallows the data block (req->vlen is
 * then the bytes to skip, "\r\n" included). */
static enum proto_status parse_storage(const struct text_line *l, struct mc_request *req, const char **errmsg)
{
    const struct token *t = l->t;
    uint32_t flags;
    int32_t exptime;
    int64_t vlen;

    if (l->nt < 5)
        return client_error(errmsg, MSG_BCLF);
    if (!token_parse_digits_i64(t[4].p, t[4].n, &vlen) || vlen < 0 || vlen > INT32_MAX - 2)
        return client_error(errmsg, MSG_BCLF);
    req->noreply = last_is_noreply(l);
    req->vlen = (uint32_t)vlen;
    if (l->nt < (req->cmd == MC_CMD_CAS ? 6u : 5u) || t[1].n > PROTO_KEY_MAX ||
        !token_parse_u32(t[2].p, t[2].n, &flags) || !token_parse_i32(t[3].p, t[3].n, &exptime) ||
        (req->cmd == MC_CMD_CAS && !token_parse_digits_u64(t[5].p, t[5].n, &req->cas))) {
        req->vlen += 2;
        return client_error(errmsg, MSG_BCLF);
    }
    req->key = t[1].p;
    req->nkey = t[1].n;
    req->flags = flags;
    req->exptime = exptime;
    return PROTO_OK;
}

/* The key of delete/incr/decr/touch: present (the caller checked the
 * count) and not too long. */
static bool take_key(const struct text_line *l, struct mc_request *req)
{
    if (l->t[1].n > PROTO_KEY_MAX)
        return false;
    req->key = l->t[1].p;
    req->nkey = l->t[1].n;
    return true;
}

static enum proto_status parse_arith(const struct text_line *l, struct mc_request *req, const char **errmsg)
{
    if (l->nt < 3)
        return client_error(errmsg, MSG_BCLF);
    req->noreply = last_is_noreply(l);
    if (!take_key(l, req))
        return client_error(errmsg, MSG_BCLF);
    if (!token_parse_digits_u64(l->t[2].p, l->t[2].n, &req->delta))
        return client_error(errmsg, MSG_DELTA);
    return PROTO_OK;
}

/* 1.6.45 ignores whatever follows the key (the old hold time included). */
static enum proto_status parse_delete(const struct text_line *l, struct mc_request *req, const char **errmsg)
{
    if (l->nt < 2)
        return client_error(errmsg, MSG_BCLF);
    req->noreply = last_is_noreply(l);
    if (!take_key(l, req))
        return client_error(errmsg, MSG_BCLF);
    return PROTO_OK;
}

static enum proto_status parse_touch(const struct text_line *l, struct mc_request *req, const char **errmsg)
{
    int32_t exptime;

    if (l->nt < 3)
        return client_error(errmsg, MSG_BCLF);
    req->noreply = last_is_noreply(l);
    if (!take_key(l, req))
        return client_error(errmsg, MSG_BCLF);
    if (!token_parse_digits_i32(l->t[2].p, l->t[2].n, &exptime))
        return client_error(errmsg, MSG_EXPTIME);
    req->exptime = exptime;
    return PROTO_OK;
}

static enum proto_status parse_flush_all(const struct text_line *l, struct mc_request *req)
{
    req->noreply = last_is_noreply(l);
    if (l->nt > 1 && !(l->nt == 2 && req->noreply)) {
        int32_t delay;
        if (!token_parse_digits_i32(l->t[1].p, l->t[1].n, &delay)) {
            /* memcached checks -F first: the server answers the bad delay */
            req->args = l->t[1].p;
            req->args_len = l->t[1].n;
            return PROTO_OK;
        }
        req->delay = delay;
        req->has_delay = true;
    }
    return PROTO_OK;
}

static enum proto_status parse_verbosity(const struct text_line *l, struct mc_request *req, const char **errmsg)
{
    uint32_t level;

    if (l->nt < 2)
        return client_error(errmsg, MSG_BCLF);
    req->noreply = last_is_noreply(l);
    if (!token_parse_digits_u32(l->t[1].p, l->t[1].n, &level))
        return client_error(errmsg, MSG_BCLF);
    req->delay = level;
    req->has_delay = true;
    return PROTO_OK;
}

/* "slabs automove <0|1|2>": delay = the mode. "slabs reassign <src> <dst>":
 * reassign, slab_src, slab_dst (32-bit signed, as memcached's strtol). */
static enum proto_status parse_slabs(const struct text_line *l, struct mc_request *req, const char **errmsg)
{
    int32_t v;

    if (l->nt >= 3 && tok_is(&l->t[1], "automove", 8)) {
        req->noreply = last_is_noreply(l);
        if (!token_parse_digits_i32(l->t[2].p, l->t[2].n, &v) || v < 0)
            return client_error(errmsg, MSG_BCLF);
        if (v > 2)
            return PROTO_ERROR;
        req->delay = v;
        req->has_delay = true;
        return PROTO_OK;
    }
    if (l->nt == 4 && tok_is(&l->t[1], "reassign", 8)) {
        int32_t src, dst;
        if (!token_parse_digits_i32(l->t[2].p, l->t[2].n, &src) || !token_parse_digits_i32(l->t[3].p, l->t[3].n, &dst))
            return client_error(errmsg, MSG_BCLF);
        req->reassign = true;
        req->slab_src = src;
        req->slab_dst = dst;
        return PROTO_OK;
    }
    return PROTO_ERROR;
}

/* "cache_memlimit <megabytes> ...": delay = the megabytes. A value that
 * is not 0..2^32-1 in digits is ERROR, as 1.6.45's safe_strtoul. */
static enum proto_status parse_cache_memlimit(const struct text_line *l, struct mc_request *req)
{
    uint32_t megs;

    if (l->nt < 2)
        return PROTO_ERROR;
    req->noreply = last_is_noreply(l);
    if (!token_parse_digits_u32(l->t[1].p, l->t[1].n, &megs))
        return PROTO_ERROR;
    req->delay = megs;
    req->has_delay = true;
    return PROTO_OK;
}

/* "watch [stream ...]": every token a stream name memcached 1.6.45 knows
 * (repeats allowed), none at all meaning fetchers. */
static enum proto_status parse_watch(const char *from, const char *end, struct mc_request *req)
{
    static const struct {
        const char *name;
        uint32_t bit;
    } streams[] = {
        {"fetchers", TEXT_WATCH_FETCHERS},     {"mutations", TEXT_WATCH_MUTATIONS},
        {"evictions", TEXT_WATCH_EVICTIONS},   {"connevents", TEXT_WATCH_CONNEVENTS},
        {"deletions", TEXT_WATCH_DELETIONS},   {"rawcmds", TEXT_WATCH_RAWCMDS},
        {"sysevents", TEXT_WATCH_SYSEVENTS},   {"proxyreqs", TEXT_WATCH_PROXYREQS},
        {"proxyevents", TEXT_WATCH_PROXYEVENTS}, {"proxyuser", TEXT_WATCH_PROXYUSER},
    };
    size_t n = (size_t)(end - from), pos = 0, nt;
    const char *t;
    uint32_t mask = 0;
    bool any = false;

    while (token_next(from, n, &pos, &t, &nt)) {
        size_t i = 0;
        while (i < sizeof(streams) / sizeof(streams[0]) && !tok_is(&(struct token){t, nt}, streams[i].name,
                                                                   strlen(streams[i].name)))
            i++;
        if (i == sizeof(streams) / sizeof(streams[0])) {
            req->flags = 0; /* ERROR, but under -W the refusal comes first */
            return PROTO_OK;
        }
        mask |= streams[i].bit;
        any = true;
    }
    req->flags = any ? mask : TEXT_WATCH_FETCHERS;
    return PROTO_OK;
}

/* mcd's "flush_prefix <prefix> [noreply]": the prefix in req->key. */
static enum proto_status parse_flush_prefix(const struct text_line *l, struct mc_request *req, const char **errmsg)
{
    req->noreply = last_is_noreply(l);
    if (l->nt < 2 || l->nt > (req->noreply ? 3u : 2u) || !take_key(l, req))
        return client_error(errmsg, MSG_BCLF);
    return PROTO_OK;
}

/* The commands of no shared kind: one parser each. */
static enum proto_status parse_other(const struct text_line *l, const char *end, struct mc_request *req,
                                     size_t *consumed, const char **errmsg)
{
    enum proto_status st;
    switch (req->cmd) {
    case MC_CMD_DELETE:
        st = parse_delete(l, req, errmsg);
        break;
    case MC_CMD_TOUCH:
        st = parse_touch(l, req, errmsg);
        break;
    case MC_CMD_FLUSH_ALL:
        st = parse_flush_all(l, req);
        break;
    case MC_CMD_VERBOSITY:
        st = parse_verbosity(l, req, errmsg);
        break;
    case MC_CMD_SLABS:
        st = parse_slabs(l, req, errmsg);
        break;
    case MC_CMD_FLUSH_PREFIX:
        st = parse_flush_prefix(l, req, errmsg);
        break;
    case MC_CMD_CONFIG:
        /* "config get cluster" (ElastiCache's auto-discovery) alone; any
         * other config line is what memcached makes of it */
        if (l->nt == 3 && tok_is(&l->t[1], "get", 3) && tok_is(&l->t[2], "cluster", 7)) {
            st = PROTO_OK;
            break;
        }
        goto unknown;
    case MC_CMD_CACHE_MEMLIMIT:
        st = parse_cache_memlimit(l, req);
        break;
    case MC_CMD_SHUTDOWN:
    case MC_CMD_LRU_CRAWLER:
        req->noreply = last_is_noreply(l);
        /* fall through */
    case MC_CMD_STATS:
        rest_of_line(l->t[0].p + l->t[0].n, end, &req->args, &req->args_len);
        st = PROTO_OK;
        break;
    case MC_CMD_VERSION:
    case MC_CMD_QUIT:
    case MC_CMD_REFRESH_CERTS: /* arguments ignored, as 1.6.45 */
        st = PROTO_OK;
        break;
    case MC_CMD_WATCH:
        st = parse_watch(l->t[0].p + l->t[0].n, end, req);
        break;
    default:
    unknown:
        /* an HTTP request line ("GET / HTTP/1.0"): hang up, as memcached */
        if (l->nt > 1 && l->last.n >= 5 && memcmp(l->last.p, "HTTP/", 5) == 0 && !is_unsupported(&l->t[0])) {
            *consumed = 0;
            return PROTO_CLOSE;
        }
        st = PROTO_ERROR;
        break;
    }
    return st;
}

enum proto_status text_parse(const char *buf, size_t len, struct mc_request *req, size_t *consumed,
                             const char **errmsg)
{
    const char *nl = memchr(buf, '\n', len);

    *consumed = 0;
    if (nl == NULL) {
        if (len <= TEXT_LINE_MAX)
            return PROTO_NEED_MORE;
        if (len < TEXT_MULTIGET_LINE_MAX && multiget_prefix(buf, len))
            return PROTO_NEED_MORE;
        return PROTO_CLOSE;
    }

    size_t linelen = (size_t)(nl - buf);
    if (linelen >= TEXT_LINE_BUF_MAX && (linelen >= TEXT_MULTIGET_LINE_MAX || !multiget_prefix(buf, linelen)))
        return PROTO_CLOSE;

    memset(req, 0, sizeof(*req));
    *consumed = linelen + 1;
    /* too short to hold a command: CE, before the NUL cut. 1.6.45 counts
     * the line as it came, "\r" included: "ab\n" and "a\r\n" are too short,
     * "ab\r\n" is not */
    if (linelen <= TEXT_LINE_MIN)
        return client_error(errmsg, MSG_BCLF);

    size_t n = token_line_len(buf, linelen);
    const char *end = buf + n;

    /* the hot path: "get <keys>" / "gets <keys>" skip the tokenizer (same
     * rules as parse_get: one space after the command, keys checked) */
    if (n >= 4 && buf[0] == 'g' && buf[1] == 'e' && buf[2] == 't' &&
        (buf[3] == ' ' || (buf[3] == 's' && n >= 5 && buf[4] == ' '))) {
        req->cmd = buf[3] == ' ' ? MC_CMD_GET : MC_CMD_GETS;
        return check_get_keys(buf + (buf[3] == ' ' ? 4 : 5), end, req, errmsg);
    }

    struct text_line l;
    split_line(buf, n, &l);
    req->cmd = lookup_cmd(&l.t[0]);

    enum proto_status st;
    switch (mc_cmd_kind(req->cmd)) {
    case MC_KIND_GET: st = parse_get(&l, end, req, errmsg); break;
    case MC_KIND_STORE: st = parse_storage(&l, req, errmsg); break;
    case MC_KIND_ARITH: st = parse_arith(&l, req, errmsg); break;
    default: st = parse_other(&l, end, req, consumed, errmsg); break;
    }
    /* 1.6.45 silences ERROR too when the last token is noreply (but for
     * stats, which takes no noreply) */
    if (st == PROTO_ERROR)
        req->noreply = req->cmd != MC_CMD_STATS && req->cmd != MC_CMD_WATCH && last_is_noreply(&l);
    return st;
}

/* ------------------------------------------------------------------ */
/* Encoders                                                            */

/* Inline, so that a literal's memcpy() is a few moves. */
static inline int add_str(struct reply *r, const char *s, size_t n)
{
    if (n == 0)
        return 0;
    if (reply_reserve_iovs(r, n, 1) == NULL)
        return -1;
    reply_push_copy(r, s, n);
    return 0;
}

#define ADD_LIT(r, lit) add_str((r), (lit), sizeof(lit) - 1)

/* Copies n bytes (n <= PROTO_KEY_MAX) to dst in fixed-size moves, reading
 * and writing nothing outside src[0..n) and dst[0..n): a key is short, and
 * memcpy() of a variable length is a library call. */
static inline void copy_key(char *dst, const char *src, size_t n)
{
    if (n >= 8) {
        size_t i = 0;
        for (; i + 8 < n; i += 8)
            memcpy(dst + i, src + i, 8);
        memcpy(dst + n - 8, src + n - 8, 8); /* the last 8, overlapping */
    } else if (n >= 4) {
        memcpy(dst, src, 4);
        memcpy(dst + n - 4, src + n - 4, 4);
    } else {
        for (size_t i = 0; i < n; i++)
            dst[i] = src[i];
    }
}

/* "VALUE <key> <flags> <bytes>[ <cas>]\r\n" + data (by reference) + "\r\n",
 * all or nothing: one reservation for both copies and the three pieces. The
 * header merges with the previous value's "\r\n" (an arena copy just
 * before it); the trailing "\r\n" follows the header in the arena. */
static int encode_value(struct reply *r, const struct mc_result *res, bool with_cas)
{
    size_t max = 6 + res->nkey + 2 * (1 + 10) + (1 + TOKEN_U64_DIGITS) + 2;
    char *p = reply_reserve_iovs(r, max + 2, 3);

    if (p == NULL)
        return -1;
    char *s = p;
    memcpy(p, "VALUE ", 6);
    p += 6;
    copy_key(p, res->key, res->nkey);
    p += res->nkey;
    *p++ = ' ';
    p += token_fmt_u32(p, res->flags);
    *p++ = ' ';
    p += token_fmt_u32(p, res->nbytes);
    if (with_cas) {
        *p++ = ' ';
        p += token_fmt_u64(p, res->cas);
    }
    memcpy(p, "\r\n\r\n", 4); /* the header's end, then the value's */
    reply_commit_framed(r, (size_t)(p + 2 - s), res->data, res->nbytes, res->owner, 2);
    return 0;
}

static int encode_number(struct reply *r, uint64_t v)
{
    char *p = reply_reserve(r, TOKEN_U64_DIGITS + 2);

    if (p == NULL)
        return -1;
    size_t n = token_fmt_u64(p, v);
    p[n] = '\r';
    p[n + 1] = '\n';
    reply_commit(r, n + 2);
    return 0;
}

/* "CONFIG cluster 0 <bytes>\r\n" + the body (ElastiCache's: "<version>\n<nodes>\n")
 * + "\r\nEND\r\n". */
static int encode_config(struct reply *r, const struct mc_result *res)
{
    char *p = reply_reserve(r, 17 + TOKEN_U64_DIGITS + 2);

    if (p == NULL)
        return -1;
    size_t n = 0;
    memcpy(p, "CONFIG cluster 0 ", 17);
    n += 17;
    n += token_fmt_u64(p + n, res->nbytes);
    p[n++] = '\r';
    p[n++] = '\n';
    reply_commit(r, n);
    if (add_str(r, res->data, res->nbytes) != 0)
        return -1;
    return ADD_LIT(r, "\r\nEND\r\n");
}

int text_encode_version(struct reply *r, const char *version)
{
    size_t n = strlen(version);

    if (reply_ensure(r, 1, 8 + n + 2) != 0)
        return -1;
    ADD_LIT(r, "VERSION ");
    add_str(r, version, n);
    return ADD_LIT(r, "\r\n");
}

static int encode_line(struct reply *r, const char *prefix, size_t plen, const char *msg);

int text_encode_result(struct reply *r, enum mc_cmd cmd, const struct mc_result *res)
{
    switch (res->status) {
    case MC_OK:
        if (cmd == MC_CMD_QUIT)
            return 0; /* the text protocol closes without a word */
        return ADD_LIT(r, "OK\r\n");
    case MC_FLUSHED:
        return ADD_LIT(r, "OK\r\n");
    case MC_STORED:
        return ADD_LIT(r, "STORED\r\n");
    case MC_NOT_STORED:
        return ADD_LIT(r, "NOT_STORED\r\n");
    case MC_EXISTS:
        return ADD_LIT(r, "EXISTS\r\n");
    case MC_NOT_FOUND:
        return ADD_LIT(r, "NOT_FOUND\r\n");
    case MC_DELETED:
        return ADD_LIT(r, "DELETED\r\n");
    case MC_TOUCHED:
        return ADD_LIT(r, "TOUCHED\r\n");
    case MC_MISS:
        return 0;
    case MC_VALUE:
        return encode_value(r, res, cmd == MC_CMD_GETS || cmd == MC_CMD_GATS);
    case MC_END:
        return ADD_LIT(r, "END\r\n");
    case MC_NUMBER:
        return encode_number(r, res->number);
    case MC_NON_NUMERIC:
        return ADD_LIT(r, "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
    case MC_INVALID_DELTA:
        return ADD_LIT(r, "CLIENT_ERROR invalid numeric delta argument\r\n");
    case MC_TOO_LARGE:
        return ADD_LIT(r, "SERVER_ERROR object too large for cache\r\n");
    case MC_NO_MEMORY:
        if (cmd == MC_CMD_INCR || cmd == MC_CMD_DECR)
            return ADD_LIT(r, "SERVER_ERROR out of memory\r\n");
        return ADD_LIT(r, "SERVER_ERROR out of memory storing object\r\n");
    case MC_ALLOC_FAILED:
        return ADD_LIT(r, "SERVER_ERROR out of memory storing object\r\n");
    case MC_STATS_END:
        return ADD_LIT(r, "END\r\n");
    case MC_RESET:
        return ADD_LIT(r, "RESET\r\n");
    case MC_DETAIL_DUMP:
        return reply_add_copy(r, res->data, res->nbytes);
    case MC_UNKNOWN:
        return text_encode_error(r);
    case MC_CLIENT_ERROR:
        return text_encode_client_error(r, res->data);
    case MC_FLUSH_DISABLED:
        if (cmd == MC_CMD_FLUSH_PREFIX) /* under -F */
            return ADD_LIT(r, "CLIENT_ERROR flush_prefix not allowed\r\n");
        return ADD_LIT(r, "CLIENT_ERROR flush_all not allowed\r\n");
    case MC_SHUTDOWN_DISABLED:
        return ADD_LIT(r, "SERVER_ERROR: shutdown not enabled\r\n");
    case MC_CONFIG:
        return encode_config(r, res);
    case MC_LINE:
        return encode_line(r, "", 0, res->data);
    case MC_VERSION:
        if (res->data != NULL) {
            if (reply_ensure(r, 1, 8 + (size_t)res->nbytes + 2) != 0)
                return -1;
            ADD_LIT(r, "VERSION ");
            add_str(r, res->data, res->nbytes);
            return ADD_LIT(r, "\r\n");
        }
        return text_encode_version(r, PACKAGE_VERSION);
    }
    return -1;
}

static int encode_line(struct reply *r, const char *prefix, size_t plen, const char *msg)
{
    size_t n = strlen(msg);

    if (reply_ensure(r, 1, plen + n + 2) != 0)
        return -1;
    add_str(r, prefix, plen);
    add_str(r, msg, n);
    return ADD_LIT(r, "\r\n");
}

int text_encode_client_error(struct reply *r, const char *msg)
{
    return encode_line(r, "CLIENT_ERROR ", 13, msg);
}

int text_encode_server_error(struct reply *r, const char *msg)
{
    return encode_line(r, "SERVER_ERROR ", 13, msg);
}

int text_encode_error(struct reply *r)
{
    return ADD_LIT(r, "ERROR\r\n");
}

int text_encode_stat(struct reply *r, const char *name, const char *fmt, ...)
{
    char val[256];
    va_list ap;
    int len;

    va_start(ap, fmt);
    len = vsnprintf(val, sizeof(val), fmt, ap);
    va_end(ap);
    if (len < 0)
        return -1;
    size_t nname = strlen(name);
    if ((size_t)len < sizeof(val)) {
        /* the common case: one atomic, merged copy */
        if (reply_ensure(r, 1, 5 + nname + 1 + (size_t)len + 2) != 0)
            return -1;
        ADD_LIT(r, "STAT ");
        add_str(r, name, nname);
        ADD_LIT(r, " ");
        add_str(r, val, (size_t)len);
        return ADD_LIT(r, "\r\n");
    }
    /* a long value: format straight into the arena (not atomic on ENOMEM) */
    if (ADD_LIT(r, "STAT ") != 0 || add_str(r, name, nname) != 0 || ADD_LIT(r, " ") != 0)
        return -1;
    va_start(ap, fmt);
    int rc = reply_vprintf(r, fmt, ap);
    va_end(ap);
    if (rc != 0)
        return -1;
    return ADD_LIT(r, "\r\n");
}

/* ---- the encoder table (proto.h) ---- */

static int result_of(struct reply *r, const struct mc_request *req, const struct mc_result *res)
{
    if (res->status == MC_VALUE) /* a get's hit: ahead of the switch */
        return encode_value(r, res, req->cmd == MC_CMD_GETS || req->cmd == MC_CMD_GATS);
    return text_encode_result(r, req->cmd, res);
}

static int stat_of(struct reply *r, const struct mc_request *req, const char *name, const char *value)
{
    (void)req;
    return text_encode_stat(r, name, "%s", value);
}

const struct mc_encoder text_encoder = {.result = result_of, .stat = stat_of};
