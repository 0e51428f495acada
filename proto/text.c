/*
 * text.c - memcached's classic text protocol: line parser and reply encoder.
 *
 * The parser is a pure function of the bytes it is given: it finds one line,
 * splits it on spaces and fills a `struct mc_request` whose pointers point
 * into the caller's buffer. It never consumes a storage command's data block
 * and never touches the store, a socket or the reply.
 *
 * Compatibility rules, each checked against memcached 1.6.18 (the oracle) by
 * sending the bytes on the left and recording the reply on the right. "CE"
 * is "CLIENT_ERROR ", "BCLF" is "bad command line format", K251 is a 251-byte
 * key. The unit tests (tests/unit/proto/test_text_parse.c) pin these.
 *
 *  Lines and tokens
 *   "get a\n" (bare LF)                  -> served like "get a\r\n"
 *   "get a\r\r\n"                        -> one "\r" stripped: key "a\r" (miss)
 *   "" / "\r" (empty line)               -> ERROR
 *   "x", "GET a", "Get a", "getx a"      -> ERROR (exact, case-sensitive names)
 *   "  get a" (leading spaces)           -> served (runs of ' ' separate tokens)
 *   "get a  a   a"                       -> three keys
 *   "get\ta", "set\tk 0 0 5"             -> ERROR (only ' ' separates)
 *   "get a\tb"                           -> key "a\tb"
 *   "get a\0b"                           -> key "a" (a NUL ends the line)
 *   "get a\x01\x02", "set a\x01\x7f ..." -> accepted (no key charset check)
 *   get with 30 keys (> 24 tokens)       -> all 30 served
 *  Line length (no "\n" yet)
 *   2048 bytes                           -> waits for more
 *   2049 bytes, not get/gets             -> connection closed
 *   "get "/"gets " after <= 100 spaces   -> keeps reading (1 MB and more)
 *   101 leading spaces, "gat ", "get\t"  -> connection closed
 *   non-get line of 16000 bytes + "\n"   -> served (fits memcached's 16 KB read)
 *   non-get line of 17000 bytes + "\n"   -> connection closed
 *  Get family
 *   "get", "get ", "gets", "gat"         -> ERROR
 *   "gat 10", "gats 10" (no key)         -> END
 *   "gat abc a"                          -> CE invalid exptime argument
 *   "get a K251 b" (a exists)            -> CE BCLF only (no VALUE, no END)
 *   "gets K251", "gat 1 K251 noreply"    -> CE BCLF ("noreply" is just a key)
 *   250-byte key                         -> served
 *  Storage
 *   "set k 0 0" / "cas k 0 0 5"          -> ERROR, and the data line -> ERROR
 *   "set k 0 0 5 noreply x" (8 tokens)   -> ERROR, data line -> ERROR
 *   "set k 0 0 5 foo" (7th not noreply)  -> STORED (extra token ignored)
 *   "set k abc 0 5" + "hello"            -> CE BCLF, then ERROR for "hello":
 *                                           the data block is NOT swallowed
 *   "set k abc 0 5 noreply" + "hello"    -> (silent), then ERROR
 *   "set K251 0 0 5"                     -> CE BCLF, then ERROR
 *   flags 4294967296 / 2^64-1            -> stored as 0 / 4294967295 (truncated)
 *   flags -1, 18446744073709551616, 5x   -> CE BCLF
 *   flags +5, -0, " \t0", "5\t"          -> 5, 0, 0, 5
 *   exptime 2147483648                   -> accepted, wraps negative: expired
 *   exptime 4294967306                   -> accepted, wraps to 10
 *   exptime 9223372036854775808          -> CE BCLF
 *   bytes -1, abc, 2147483646, 2147483648 -> CE BCLF (bytes > INT_MAX-2, or
 *                                           negative after 32-bit wrap)
 *   bytes 4294967301                     -> wraps to 5: STORED
 *   bytes 2147483645, 1048577            -> header accepted; the server then
 *                                           answers SERVER_ERROR object too
 *                                           large for cache and swallows
 *   "cas k 0 0 5 abc" / "... -1"         -> CE BCLF
 *   "cas k 0 0 5 1 x"                    -> accepted (x ignored)
 *  incr/decr
 *   "incr k"                             -> ERROR
 *   "incr k abc", "-1", "1x", 2^64       -> CE invalid numeric delta argument
 *   "incr k +1", "-0", "\t1", "1\t"      -> accepted (1, 0, 1, 1)
 *   "incr k -18446744073709551615"       -> accepted as 1 (strtoull wraps)
 *   "incr k abc noreply"                 -> silent
 *   "incr k 1 noreply x"                 -> ERROR
 *   "incr K251 1"                        -> CE BCLF
 *  delete
 *   "delete"                             -> ERROR
 *   "delete k 0", "delete k 0 noreply"   -> accepted
 *   "delete k 5", "k 0 0", "k 00"        -> CE BCLF.  Usage: delete <key> [noreply]
 *   "delete k 5 noreply", "k x noreply"  -> silent (noreply seen first)
 *   "delete k noreply noreply"           -> silent (invalid, but noreply)
 *   "delete k 0 noreply x"               -> ERROR (6 tokens)
 *   "delete K251"                        -> CE BCLF
 *   "delete K251 5"                      -> CE BCLF.  Usage: ... (checked first)
 *  touch
 *   "touch k"                            -> ERROR
 *   "touch k abc", 9223372036854775808   -> CE invalid exptime argument
 *   "touch k abc noreply"                -> silent
 *   "touch k 10 x"                       -> accepted
 *   "touch K251 10"                      -> CE BCLF
 *  flush_all
 *   "flush_all", "flush_all 10", "-1", "0", "4294967296" -> OK
 *   "flush_all noreply", "10 noreply"    -> silent OK
 *   "flush_all 10 20"                    -> OK (20 ignored)
 *   "flush_all 10 20 30"                 -> ERROR
 *   "flush_all abc"                      -> CE invalid exptime argument
 *   "flush_all abc noreply"              -> silent
 *   "flush_all noreply 10"               -> CE invalid exptime argument
 *  verbosity
 *   "verbosity"                          -> ERROR
 *   "verbosity 1", "verbosity 1 2"       -> OK
 *   "verbosity 1 noreply", "noreply"     -> silent ("verbosity noreply" is a
 *                                           silenced CE BCLF)
 *   "verbosity abc", "-1", 2^64          -> CE BCLF
 *   "verbosity 1 2 3"                    -> ERROR
 *  Others
 *   "version", "version x y z"           -> VERSION 1.6.18 (args ignored)
 *   "VERSION"                            -> ERROR
 *   "quit", "quit x y"                   -> connection closed
 *   "shutdown ..." without -A            -> SERVER_ERROR: shutdown not enabled
 *   "shutdown x", "shutdown graceful x"  -> (with -A) CE invalid shutdown mode
 *   "shutdown ... noreply"               -> either refusal left unsaid
 *   "stats  reset", "stats reset x"      -> RESET
 *   "stats detail  on"                   -> OK
 *   "stats\t"                            -> ERROR (not "stats")
 *   "stats bogus"                        -> ERROR
 *   "noop", "slabs"                      -> ERROR
 *   "mn", "mg a v", "me a"               -> meta commands (MN, EN): not parsed
 *                                           here: PROTO_ERROR
 *
 * Differences kept on purpose: memcached fetches (and for gat touches) the
 * keys of a multiget before the first over-long key and then throws those
 * replies away; we reject the whole line up front, which gives the same
 * bytes on the wire without the side effects. A multiget line is limited to
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

/* We need at most 8 tokens to validate any command except the get family
 * (keys are walked separately) and stats/shutdown (the rest is args). */
#define TEXT_TOKENS 8

#define MSG_BCLF "bad command line format"
#define MSG_DELETE_USAGE "bad command line format.  Usage: delete <key> [noreply]"
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
};

static enum mc_cmd lookup_cmd(const struct token *t)
{
    for (size_t i = 0; i < sizeof(text_cmds) / sizeof(text_cmds[0]); i++) {
        if (text_cmds[i].len == t->n && memcmp(text_cmds[i].name, t->p, t->n) == 0)
            return text_cmds[i].cmd;
    }
    return MC_CMD_NONE;
}

static bool tok_is(const struct token *t, const char *s, size_t n)
{
    return t->n == n && memcmp(t->p, s, n) == 0;
}

static bool tok_is_noreply(const struct token *t)
{
    return tok_is(t, "noreply", 7);
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
 * req->keys and rejects a key over PROTO_KEY_MAX (memcached sends nothing
 * but the error then). No key at all is memcached's ERROR for get/gets;
 * gat/gats without a key come here with their exptime token already seen
 * and answer END, so the caller checks the token count first. */
static enum proto_status check_get_keys(const char *from, const char *end, struct mc_request *req,
                                        const char **errmsg)
{
    rest_of_line(from, end, &req->keys, &req->keys_len);
    if (req->keys_len == 0 && (req->cmd == MC_CMD_GET || req->cmd == MC_CMD_GETS))
        return PROTO_ERROR;
    size_t pos = 0;
    const char *key;
    size_t nkey;
    /* a list no longer than one key cannot hold a key that is too long */
    while (req->keys_len > PROTO_KEY_MAX && text_next_key(req, &pos, &key, &nkey)) {
        if (nkey > PROTO_KEY_MAX) {
            req->keys = NULL;
            req->keys_len = 0;
            return client_error(errmsg, MSG_BCLF);
        }
    }
    return PROTO_OK;
}

static enum proto_status parse_get(const struct token *t, size_t nt, const char *end, struct mc_request *req,
                                   const char **errmsg)
{
    bool touch = req->cmd == MC_CMD_GAT || req->cmd == MC_CMD_GATS;

    if (nt < 2)
        return PROTO_ERROR;
    const char *from = t[1].p;
    if (touch) {
        int32_t exptime;
        if (!token_parse_i32(t[1].p, t[1].n, &exptime))
            return client_error(errmsg, MSG_EXPTIME);
        req->exptime = exptime;
        from = t[1].p + t[1].n;
    }
    return check_get_keys(from, end, req, errmsg);
}

static enum proto_status parse_storage(const struct token *t, size_t nt, struct mc_request *req,
                                       const char **errmsg)
{
    bool cas = req->cmd == MC_CMD_CAS;
    size_t want = cas ? 6 : 5; /* tokens, without "noreply" */
    uint32_t flags;
    int32_t exptime, vlen;

    if (nt != want && nt != want + 1)
        return PROTO_ERROR;
    req->noreply = tok_is_noreply(&t[nt - 1]);
    if (t[1].n > PROTO_KEY_MAX)
        return client_error(errmsg, MSG_BCLF);
    if (!token_parse_u32(t[2].p, t[2].n, &flags) || !token_parse_i32(t[3].p, t[3].n, &exptime) ||
        !token_parse_i32(t[4].p, t[4].n, &vlen))
        return client_error(errmsg, MSG_BCLF);
    if (cas && !token_parse_u64(t[5].p, t[5].n, &req->cas))
        return client_error(errmsg, MSG_BCLF);
    if (vlen < 0 || vlen > INT32_MAX - 2)
        return client_error(errmsg, MSG_BCLF);
    req->key = t[1].p;
    req->nkey = t[1].n;
    req->flags = flags;
    req->exptime = exptime;
    req->vlen = (uint32_t)vlen;
    return PROTO_OK;
}

static enum proto_status parse_arith(const struct token *t, size_t nt, struct mc_request *req, const char **errmsg)
{
    if (nt != 3 && nt != 4)
        return PROTO_ERROR;
    req->noreply = tok_is_noreply(&t[nt - 1]);
    if (t[1].n > PROTO_KEY_MAX)
        return client_error(errmsg, MSG_BCLF);
    if (!token_parse_u64(t[2].p, t[2].n, &req->delta))
        return client_error(errmsg, MSG_DELTA);
    req->key = t[1].p;
    req->nkey = t[1].n;
    return PROTO_OK;
}

static enum proto_status parse_delete(const struct token *t, size_t nt, struct mc_request *req,
                                      const char **errmsg)
{
    if (nt < 2 || nt > 4)
        return PROTO_ERROR;
    if (nt > 2) {
        /* only a literal "0" (the old hold time) and/or noreply may follow */
        bool hold_is_zero = tok_is(&t[2], "0", 1);
        req->noreply = tok_is_noreply(&t[nt - 1]);
        bool valid = (nt == 3 && (hold_is_zero || req->noreply)) || (nt == 4 && hold_is_zero && req->noreply);
        if (!valid)
            return client_error(errmsg, MSG_DELETE_USAGE);
    }
    if (t[1].n > PROTO_KEY_MAX)
        return client_error(errmsg, MSG_BCLF);
    req->key = t[1].p;
    req->nkey = t[1].n;
    return PROTO_OK;
}

static enum proto_status parse_touch(const struct token *t, size_t nt, struct mc_request *req, const char **errmsg)
{
    int32_t exptime;

    if (nt != 3 && nt != 4)
        return PROTO_ERROR;
    req->noreply = tok_is_noreply(&t[nt - 1]);
    if (t[1].n > PROTO_KEY_MAX)
        return client_error(errmsg, MSG_BCLF);
    if (!token_parse_i32(t[2].p, t[2].n, &exptime))
        return client_error(errmsg, MSG_EXPTIME);
    req->key = t[1].p;
    req->nkey = t[1].n;
    req->exptime = exptime;
    return PROTO_OK;
}

static enum proto_status parse_flush_all(const struct token *t, size_t nt, struct mc_request *req,
                                         const char **errmsg)
{
    if (nt > 3)
        return PROTO_ERROR;
    req->noreply = nt > 1 && tok_is_noreply(&t[nt - 1]);
    if (nt != (req->noreply ? 2u : 1u)) {
        int32_t delay;
        if (!token_parse_i32(t[1].p, t[1].n, &delay))
            return client_error(errmsg, MSG_EXPTIME);
        req->delay = delay;
        req->has_delay = true;
    }
    return PROTO_OK;
}

static enum proto_status parse_verbosity(const struct token *t, size_t nt, struct mc_request *req,
                                         const char **errmsg)
{
    uint32_t level;

    if (nt != 2 && nt != 3)
        return PROTO_ERROR;
    req->noreply = tok_is_noreply(&t[nt - 1]);
    if (!token_parse_u32(t[1].p, t[1].n, &level))
        return client_error(errmsg, MSG_BCLF);
    req->delay = level;
    req->has_delay = true;
    return PROTO_OK;
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

    size_t n = token_line_len(buf, linelen);
    const char *end = buf + n;

    memset(req, 0, sizeof(*req));
    *consumed = linelen + 1;

    /* the hot path: "get <keys>" / "gets <keys>" skip the tokenizer (same
     * rules as parse_get: one space after the command, keys checked) */
    if (n >= 4 && buf[0] == 'g' && buf[1] == 'e' && buf[2] == 't' &&
        (buf[3] == ' ' || (buf[3] == 's' && n >= 5 && buf[4] == ' '))) {
        req->cmd = buf[3] == ' ' ? MC_CMD_GET : MC_CMD_GETS;
        return check_get_keys(buf + (buf[3] == ' ' ? 4 : 5), end, req, errmsg);
    }

    struct token t[TEXT_TOKENS];
    size_t nt = token_split(buf, n, t, TEXT_TOKENS);
    if (nt == 0 || t[0].n < 2)
        return PROTO_ERROR;
    req->cmd = lookup_cmd(&t[0]);

    enum proto_status st;
    switch (req->cmd) {
    case MC_CMD_GET:
    case MC_CMD_GETS:
    case MC_CMD_GAT:
    case MC_CMD_GATS:
        st = parse_get(t, nt, end, req, errmsg);
        break;
    case MC_CMD_SET:
    case MC_CMD_ADD:
    case MC_CMD_REPLACE:
    case MC_CMD_APPEND:
    case MC_CMD_PREPEND:
    case MC_CMD_CAS:
        st = parse_storage(t, nt, req, errmsg);
        break;
    case MC_CMD_INCR:
    case MC_CMD_DECR:
        st = parse_arith(t, nt, req, errmsg);
        break;
    case MC_CMD_DELETE:
        st = parse_delete(t, nt, req, errmsg);
        break;
    case MC_CMD_TOUCH:
        st = parse_touch(t, nt, req, errmsg);
        break;
    case MC_CMD_FLUSH_ALL:
        st = parse_flush_all(t, nt, req, errmsg);
        break;
    case MC_CMD_VERBOSITY:
        st = parse_verbosity(t, nt, req, errmsg);
        break;
    case MC_CMD_STATS:
    case MC_CMD_SHUTDOWN:
        rest_of_line(t[0].p + t[0].n, end, &req->args, &req->args_len);
        st = PROTO_OK;
        break;
    case MC_CMD_VERSION:
    case MC_CMD_QUIT:
        st = PROTO_OK;
        break;
    default:
        st = PROTO_ERROR;
        break;
    }
    if (st == PROTO_ERROR)
        req->noreply = false;
    else if (st == PROTO_CLIENT_ERROR)
        req->vlen = 0;
    return st;
}

/* ------------------------------------------------------------------ */
/* Encoders                                                            */

static int add_str(struct reply *r, const char *s, size_t n)
{
    return reply_add_copy(r, s, n);
}

#define ADD_LIT(r, lit) add_str((r), (lit), sizeof(lit) - 1)

/* "VALUE <key> <flags> <bytes>[ <cas>]\r\n" + data (by reference) + "\r\n",
 * all or nothing. */
static int encode_value(struct reply *r, const struct mc_result *res, bool with_cas)
{
    size_t max = 6 + res->nkey + 3 * (1 + TOKEN_U64_DIGITS) + 2;

    /* header, data, and the trailing "\r\n" (which merges into the arena) */
    if (reply_ensure(r, 3, max + 2) != 0)
        return -1;
    char *p = reply_reserve(r, max);
    char *s = p;
    memcpy(p, "VALUE ", 6);
    p += 6;
    memcpy(p, res->key, res->nkey);
    p += res->nkey;
    *p++ = ' ';
    p += token_fmt_u64(p, res->flags);
    *p++ = ' ';
    p += token_fmt_u64(p, res->nbytes);
    if (with_cas) {
        *p++ = ' ';
        p += token_fmt_u64(p, res->cas);
    }
    *p++ = '\r';
    *p++ = '\n';
    reply_commit(r, (size_t)(p - s));
    if (reply_add_ref(r, res->data, res->nbytes, res->owner) != 0)
        return -1; /* cannot happen after reply_ensure */
    return ADD_LIT(r, "\r\n");
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

int text_encode_version(struct reply *r, const char *version)
{
    size_t n = strlen(version);

    if (reply_ensure(r, 1, 8 + n + 2) != 0)
        return -1;
    ADD_LIT(r, "VERSION ");
    add_str(r, version, n);
    return ADD_LIT(r, "\r\n");
}

int text_encode_result(struct reply *r, enum mc_cmd cmd, const struct mc_result *res)
{
    switch (res->status) {
    case MC_OK:
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
        return ADD_LIT(r, "SERVER_ERROR out of memory storing object\r\n");
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
