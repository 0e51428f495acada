/*
 * test_text_parse.c - the text parser against memcached 1.6.45's observed
 * behaviour (the table at the top of proto/text.c): every command, every
 * error message, noreply, every split point, pipelining, line limits.
 *
 * Inputs are parsed from heap copies of exactly the given length so that a
 * sanitizer build catches any read past the end.
 */
#include "config.h"

#include "proto/text.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BCLF "bad command line format"
#define EXPTIME "invalid exptime argument"
#define DELTA "invalid numeric delta argument"

static char *dup_exact(const char *s, size_t n)
{
    char *p = malloc(n ? n : 1);
    cr_assert_not_null(p);
    memcpy(p, s, n);
    return p;
}

/* Parses s[0..n) from an exact-size copy. */
static enum proto_status parse_n(const char *s, size_t n, struct mc_request *req, size_t *consumed,
                                 const char **errmsg)
{
    char *copy = dup_exact(s, n);
    enum proto_status st = text_parse(copy, n, req, consumed, errmsg);
    /* re-point the request at the caller's bytes (the copy goes away) */
    if (req->key != NULL && req->key >= copy && req->key <= copy + n)
        req->key = s + (req->key - copy);
    if (req->keys != NULL && req->keys >= copy && req->keys <= copy + n)
        req->keys = s + (req->keys - copy);
    if (req->args != NULL && req->args >= copy && req->args <= copy + n)
        req->args = s + (req->args - copy);
    free(copy);
    return st;
}

static enum proto_status parse(const char *s, struct mc_request *req, size_t *consumed, const char **errmsg)
{
    return parse_n(s, strlen(s), req, consumed, errmsg);
}

/* Every proper prefix of the first line must ask for more, untouched. */
static void check_splits(const char *s, size_t n)
{
    const char *nl = memchr(s, '\n', n);
    size_t line = nl ? (size_t)(nl - s) + 1 : n;

    for (size_t k = 0; k < line; k++) {
        struct mc_request req, before;
        const char *errmsg = "sentinel";
        size_t consumed = 12345;
        memset(&req, 0xa5, sizeof(req));
        memcpy(&before, &req, sizeof(req));
        char *copy = dup_exact(s, k);
        enum proto_status st = text_parse(copy, k, &req, &consumed, &errmsg);
        free(copy);
        cr_assert_eq(st, PROTO_NEED_MORE, "[%.*s] cut at %zu: status %d", (int)line, s, k, st);
        cr_assert_eq(consumed, 0, "cut at %zu", k);
        cr_assert(memcmp(&req, &before, sizeof(req)) == 0, "req changed at cut %zu", k);
        cr_assert_str_eq(errmsg, "sentinel");
    }
}

/* Expects PROTO_OK for the whole line and checks every split point. */
static void ok(const char *s, struct mc_request *req)
{
    size_t consumed;
    const char *errmsg = NULL;
    const char *nl = strchr(s, '\n');

    check_splits(s, strlen(s));
    enum proto_status st = parse(s, req, &consumed, &errmsg);
    cr_assert_eq(st, PROTO_OK, "[%s]: status %d (%s)", s, st, errmsg ? errmsg : "");
    cr_assert_not_null(nl);
    cr_assert_eq(consumed, (size_t)(nl - s) + 1, "[%s]: consumed %zu", s, consumed);
}

static bool key_is(const struct mc_request *req, const char *k)
{
    return req->nkey == strlen(k) && memcmp(req->key, k, req->nkey) == 0;
}

static bool keys_are(const struct mc_request *req, const char *k)
{
    return req->keys_len == strlen(k) && memcmp(req->keys, k, req->keys_len) == 0;
}

static bool args_are(const struct mc_request *req, const char *a)
{
    return req->args_len == strlen(a) && (req->args_len == 0 || memcmp(req->args, a, req->args_len) == 0);
}

/* ------------------------------------------------------------------ */

Test(text_parse, get_family)
{
    struct mc_request req;

    ok("get foo\r\n", &req);
    cr_assert_eq(req.cmd, MC_CMD_GET);
    cr_assert(keys_are(&req, "foo"));
    cr_assert_not(req.noreply);

    ok("gets a  bb   ccc \r\n", &req);
    cr_assert_eq(req.cmd, MC_CMD_GETS);
    cr_assert(keys_are(&req, "a  bb   ccc"), "keys [%.*s]", (int)req.keys_len, req.keys);

    ok("gat 100 k1 k2\r\n", &req);
    cr_assert_eq(req.cmd, MC_CMD_GAT);
    cr_assert_eq(req.exptime, 100);
    cr_assert(keys_are(&req, "k1 k2"));

    ok("gats -1 k\n", &req);
    cr_assert_eq(req.cmd, MC_CMD_GATS);
    cr_assert_eq(req.exptime, -1);
    cr_assert(keys_are(&req, "k"));

    /* "noreply" is just a key */
    ok("get a noreply\r\n", &req);
    cr_assert(keys_are(&req, "a noreply"));
    cr_assert_not(req.noreply);

    /* control bytes and tabs are key bytes */
    ok("get a\tb \x01\x7f\r\n", &req);
    cr_assert(keys_are(&req, "a\tb \x01\x7f"));

    /* only one "\r" is stripped */
    ok("get a\r\r\n", &req);
    cr_assert(keys_are(&req, "a\r"));

    /* a NUL ends the line */
    static const char withnul[] = "get a\0b\r\n";
    size_t consumed;
    const char *errmsg;
    cr_assert_eq(parse_n(withnul, sizeof(withnul) - 1, &req, &consumed, &errmsg), PROTO_OK);
    cr_assert(keys_are(&req, "a"));
    cr_assert_eq(consumed, sizeof(withnul) - 1);
}

Test(text_parse, next_key_iterates)
{
    struct mc_request req;
    size_t pos = 0, nkey;
    const char *key;
    const char *want[] = {"a", "bb", "ccc", "d"};
    size_t i = 0;

    ok("get a   bb ccc  d  \r\n", &req);
    while (text_next_key(&req, &pos, &key, &nkey)) {
        cr_assert_lt(i, 4);
        cr_assert_eq(nkey, strlen(want[i]));
        cr_assert(memcmp(key, want[i], nkey) == 0);
        i++;
    }
    cr_assert_eq(i, 4);
    cr_assert_not(text_next_key(&req, &pos, &key, &nkey), "stays at the end");
}

Test(text_parse, many_keys_and_long_key_limit)
{
    struct mc_request req;
    char line[4096];
    char k250[251];

    /* 30 keys: more than memcached's 24 tokens, all served */
    strcpy(line, "get");
    for (int i = 0; i < 30; i++)
        strcat(line, " key");
    strcat(line, "\r\n");
    ok(line, &req);
    size_t pos = 0, nkey, n = 0;
    const char *key;
    while (text_next_key(&req, &pos, &key, &nkey))
        n++;
    cr_assert_eq(n, 30);

    memset(k250, 'k', 250);
    k250[250] = '\0';
    snprintf(line, sizeof(line), "get %s\r\n", k250);
    ok(line, &req);
    snprintf(line, sizeof(line), "set %s 0 0 1\r\n", k250);
    ok(line, &req);
    cr_assert_eq(req.nkey, 250);
}

Test(text_parse, storage)
{
    struct mc_request req;

    ok("set foo 5 100 3\r\n", &req);
    cr_assert_eq(req.cmd, MC_CMD_SET);
    cr_assert(key_is(&req, "foo"));
    cr_assert_eq(req.flags, 5);
    cr_assert_eq(req.exptime, 100);
    cr_assert_eq(req.vlen, 3);
    cr_assert_not(req.noreply);

    ok("add k 0 0 0 noreply\r\n", &req);
    cr_assert_eq(req.cmd, MC_CMD_ADD);
    cr_assert(req.noreply);
    cr_assert_eq(req.vlen, 0);

    ok("replace k 1 -1 10\n", &req);
    cr_assert_eq(req.cmd, MC_CMD_REPLACE);
    cr_assert_eq(req.exptime, -1);

    ok("append k 0 0 2 noreply\r\n", &req);
    cr_assert_eq(req.cmd, MC_CMD_APPEND);
    cr_assert(req.noreply);

    ok("prepend k 0 0 2\r\n", &req);
    cr_assert_eq(req.cmd, MC_CMD_PREPEND);

    ok("cas k 1 2 3 18446744073709551615\r\n", &req);
    cr_assert_eq(req.cmd, MC_CMD_CAS);
    cr_assert_eq(req.cas, UINT64_MAX);
    cr_assert_eq(req.vlen, 3);
    cr_assert_not(req.noreply);
    ok("cas k 1 2 3 77 noreply\r\n", &req);
    cr_assert_eq(req.cas, 77);
    cr_assert(req.noreply);
    /* a 7th token that is not "noreply" is ignored */
    ok("cas k 0 0 5 1 x\r\n", &req);
    cr_assert_not(req.noreply);
    ok("set k 0 0 5 foo\r\n", &req);
    cr_assert_not(req.noreply);
    cr_assert_eq(req.vlen, 5);

    /* memcached's number quirks */
    ok("set k 4294967296 0 5\r\n", &req);
    cr_assert_eq(req.flags, 0);
    ok("set k 18446744073709551615 0 5\r\n", &req);
    cr_assert_eq(req.flags, 4294967295u);
    ok("set k +5 +3 5\r\n", &req);
    cr_assert_eq(req.flags, 5);
    cr_assert_eq(req.exptime, 3);
    cr_assert_eq(req.vlen, 5);
    ok("set k -0 0 5\r\n", &req);
    cr_assert_eq(req.flags, 0);
    ok("set k \t7 0 5\r\n", &req);
    cr_assert_eq(req.flags, 7);
    ok("set k 0 0 -0\r\n", &req);
    cr_assert_eq(req.vlen, 0);
    ok("set k 0 0 05\r\n", &req);
    cr_assert_eq(req.vlen, 5);
    ok("set k 0 2147483648 5\r\n", &req);
    cr_assert_eq(req.exptime, INT32_MIN);
    ok("set k 0 4294967306 5\r\n", &req);
    cr_assert_eq(req.exptime, 10);
    /* 1.6.45: anything after the length (or cas) is ignored; noreply is
     * the last token wherever it is */
    ok("set k 0 0 5 noreply x\r\n", &req);
    cr_assert_not(req.noreply);
    ok("set k 0 0 5 x noreply\r\n", &req);
    cr_assert(req.noreply);
    ok("set k 0 0 5 a b c d e f g h i j k l m n o p q r s t u v w x y z\r\n", &req);
    cr_assert_eq(req.vlen, 5);
    ok("set k 0 0 2147483645\r\n", &req);
    cr_assert_eq(req.vlen, 2147483645u);
    ok("set  k  0  0  5 \r\n", &req);
    cr_assert(key_is(&req, "k"));
    cr_assert_eq(req.vlen, 5);
}

Test(text_parse, arith_delete_touch)
{
    struct mc_request req;

    ok("incr n 1\r\n", &req);
    cr_assert_eq(req.cmd, MC_CMD_INCR);
    cr_assert(key_is(&req, "n"));
    cr_assert_eq(req.delta, 1);
    ok("decr n 18446744073709551615 noreply\r\n", &req);
    cr_assert_eq(req.cmd, MC_CMD_DECR);
    cr_assert_eq(req.delta, UINT64_MAX);
    cr_assert(req.noreply);
    ok("incr n 01\r\n", &req);
    cr_assert_eq(req.delta, 1);
    ok("incr n 1 x\r\n", &req);
    cr_assert_not(req.noreply);
    ok("incr n 1 noreply x\r\n", &req);
    cr_assert_not(req.noreply);
    ok("incr n 1 x y z noreply\r\n", &req);
    cr_assert(req.noreply);

    ok("delete k\r\n", &req);
    cr_assert_eq(req.cmd, MC_CMD_DELETE);
    cr_assert(key_is(&req, "k"));
    cr_assert_not(req.noreply);
    ok("delete k 0\r\n", &req);
    cr_assert_not(req.noreply);
    ok("delete k noreply\r\n", &req);
    cr_assert(req.noreply);
    ok("delete k 0 noreply\r\n", &req);
    cr_assert(req.noreply);
    /* 1.6.45 ignores what follows the key (the old hold time) */
    ok("delete k 10\r\n", &req);
    cr_assert(key_is(&req, "k"));
    cr_assert_not(req.noreply);
    ok("delete k 5 noreply\r\n", &req);
    cr_assert(req.noreply);
    ok("delete k 0 noreply x\r\n", &req);
    cr_assert_not(req.noreply);
    ok("delete k a b c d e f g h i j k l m n o p q r s t u v w x y z\r\n", &req);
    ok("delete noreply\r\n", &req); /* a key named noreply, and silent */
    cr_assert(key_is(&req, "noreply"));
    cr_assert(req.noreply);

    ok("touch k 10\r\n", &req);
    cr_assert_eq(req.cmd, MC_CMD_TOUCH);
    cr_assert_eq(req.exptime, 10);
    cr_assert_not(req.noreply);
    ok("touch k -5 noreply\r\n", &req);
    cr_assert_eq(req.exptime, -5);
    cr_assert(req.noreply);
    ok("touch k 10 x\r\n", &req);
    cr_assert_not(req.noreply);
    ok("touch k 2147483647 x y z\r\n", &req);
    cr_assert_eq(req.exptime, INT32_MAX);
    ok("touch k -2147483648\r\n", &req);
    cr_assert_eq(req.exptime, INT32_MIN);
}

Test(text_parse, misc_commands)
{
    struct mc_request req;

    ok("flush_all\r\n", &req);
    cr_assert_eq(req.cmd, MC_CMD_FLUSH_ALL);
    cr_assert_not(req.has_delay);
    cr_assert_not(req.noreply);
    ok("flush_all noreply\r\n", &req);
    cr_assert_not(req.has_delay);
    cr_assert(req.noreply);
    ok("flush_all 10\r\n", &req);
    cr_assert(req.has_delay);
    cr_assert_eq(req.delay, 10);
    ok("flush_all -1 noreply\r\n", &req);
    cr_assert(req.has_delay);
    cr_assert_eq(req.delay, -1);
    cr_assert(req.noreply);
    ok("flush_all 10 20\r\n", &req);
    cr_assert_eq(req.delay, 10);
    cr_assert_not(req.noreply);
    ok("flush_all 10 20 30\r\n", &req);
    cr_assert_eq(req.delay, 10);
    ok("flush_all  \r\n", &req);
    cr_assert_not(req.has_delay);

    ok("verbosity 1\r\n", &req);
    cr_assert_eq(req.cmd, MC_CMD_VERBOSITY);
    cr_assert_eq(req.delay, 1);
    cr_assert_not(req.noreply);
    ok("verbosity 2 noreply\r\n", &req);
    cr_assert_eq(req.delay, 2);
    cr_assert(req.noreply);
    ok("verbosity 1 2\r\n", &req);
    cr_assert_eq(req.delay, 1);
    ok("verbosity 4294967295\r\n", &req);
    cr_assert_eq(req.delay, 4294967295);
    ok("verbosity 1 2 3\r\n", &req);
    cr_assert_eq(req.delay, 1);

    ok("slabs automove 2\r\n", &req);
    cr_assert_eq(req.cmd, MC_CMD_SLABS);
    cr_assert_eq(req.delay, 2);
    ok("slabs automove 0 noreply\r\n", &req);
    cr_assert_eq(req.delay, 0);
    cr_assert(req.noreply);
    ok("slabs reassign -1 12\r\n", &req);
    cr_assert_eq(req.cmd, MC_CMD_SLABS);
    cr_assert(req.reassign);
    cr_assert_eq(req.slab_src, -1);
    cr_assert_eq(req.slab_dst, 12);
    ok("slabs reassign 70 0\r\n", &req);
    cr_assert_eq(req.slab_src, 70);
    cr_assert_eq(req.slab_dst, 0);

    ok("cache_memlimit 8\r\n", &req);
    cr_assert_eq(req.cmd, MC_CMD_CACHE_MEMLIMIT);
    cr_assert_eq(req.delay, 8);
    cr_assert_not(req.noreply);
    ok("cache_memlimit 4294967295 noreply\r\n", &req);
    cr_assert_eq(req.delay, 4294967295);
    cr_assert(req.noreply);
    ok("cache_memlimit 08 x\r\n", &req);
    cr_assert_eq(req.delay, 8);

    ok("version\r\n", &req);
    cr_assert_eq(req.cmd, MC_CMD_VERSION);
    ok("version x y z\r\n", &req);
    cr_assert_eq(req.cmd, MC_CMD_VERSION);
    ok("quit\r\n", &req);
    cr_assert_eq(req.cmd, MC_CMD_QUIT);
    ok("quit now\r\n", &req);
    cr_assert_eq(req.cmd, MC_CMD_QUIT);

    ok("shutdown\r\n", &req);
    cr_assert_eq(req.cmd, MC_CMD_SHUTDOWN);
    cr_assert(args_are(&req, ""));
    ok("shutdown graceful\r\n", &req);
    cr_assert(args_are(&req, "graceful"));

    ok("stats\r\n", &req);
    cr_assert_eq(req.cmd, MC_CMD_STATS);
    cr_assert_eq(req.args_len, 0);
    ok("stats items\r\n", &req);
    cr_assert(args_are(&req, "items"));
    ok("stats  detail  on \r\n", &req);
    cr_assert(args_are(&req, "detail  on"));
    ok("stats cachedump 1 2 3 4 5 6 7 8 9 10\r\n", &req);
    cr_assert(args_are(&req, "cachedump 1 2 3 4 5 6 7 8 9 10"));
}

/* ------------------------------------------------------------------ */
/* Errors: status, exact message, and whether memcached stays silent.  */

struct err_case {
    const char *in;
    enum proto_status st;
    const char *msg;   /* CLIENT_ERROR text, NULL otherwise */
    bool silent;       /* req->noreply on CLIENT_ERROR */
    uint32_t swallow;  /* req->vlen on CLIENT_ERROR: data bytes to skip */
};

static void check_errors(const struct err_case *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct mc_request req;
        size_t consumed;
        const char *errmsg = NULL;
        const char *nl = strchr(c[i].in, '\n');

        check_splits(c[i].in, strlen(c[i].in));
        enum proto_status st = parse(c[i].in, &req, &consumed, &errmsg);
        cr_assert_eq(st, c[i].st, "[%s]: status %d want %d", c[i].in, st, c[i].st);
        cr_assert_eq(consumed, (size_t)(nl - c[i].in) + 1, "[%s]", c[i].in);
        if (c[i].st == PROTO_CLIENT_ERROR) {
            cr_assert_not_null(errmsg);
            cr_assert_str_eq(errmsg, c[i].msg, "[%s]", c[i].in);
            cr_assert_eq(req.noreply, c[i].silent, "[%s]: noreply %d", c[i].in, req.noreply);
            cr_assert_eq(req.vlen, c[i].swallow, "[%s]: swallow %u", c[i].in, req.vlen);
            /* only a line too short for a command has none */
            cr_assert(req.cmd != MC_CMD_NONE || strcspn(c[i].in, "\n") < 3, "[%s]", c[i].in);
        } else {
            cr_assert_eq(req.noreply, c[i].silent, "[%s]: noreply %d", c[i].in, req.noreply);
        }
    }
}

#define K10 "kkkkkkkkkk"
#define K50 K10 K10 K10 K10 K10
#define K251 K50 K50 K50 K50 K50 "k"

Test(text_parse, k251_is_251)
{
    cr_assert_eq(strlen(K251), 251);
}

Test(text_parse, unknown_and_arity_errors)
{
    static const struct err_case c[] = {
        /* lines under two bytes */
        {"\r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {"\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {"\r\r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {" \r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {"x\r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {"ab\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {"mn\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        /* unknown commands */
        {"   \r\n", PROTO_ERROR, NULL, false, 0},
        {"ab\r\n", PROTO_ERROR, NULL, false, 0},
        {"  get a\r\n", PROTO_ERROR, NULL, false, 0},
        {"GET a\r\n", PROTO_ERROR, NULL, false, 0},
        {"Get a\r\n", PROTO_ERROR, NULL, false, 0},
        {"getx a\r\n", PROTO_ERROR, NULL, false, 0},
        {"VERSION\r\n", PROTO_ERROR, NULL, false, 0},
        {"noop\r\n", PROTO_ERROR, NULL, false, 0},
        {"mn\r\n", PROTO_ERROR, NULL, false, 0},
        {"slabs\r\n", PROTO_ERROR, NULL, false, 0},
        {"slabs reassign 1 2 3\r\n", PROTO_ERROR, NULL, false, 0},
        {"slabs reassign 1\r\n", PROTO_ERROR, NULL, false, 0},
        /* cache_memlimit: not 0..2^32-1 in digits is ERROR, as 1.6.45 */
        {"cache_memlimit\r\n", PROTO_ERROR, NULL, false, 0},
        {"cache_memlimit abc\r\n", PROTO_ERROR, NULL, false, 0},
        {"cache_memlimit -1\r\n", PROTO_ERROR, NULL, false, 0},
        {"cache_memlimit +8\r\n", PROTO_ERROR, NULL, false, 0},
        {"cache_memlimit 4294967296\r\n", PROTO_ERROR, NULL, false, 0},
        {"cache_memlimit noreply\r\n", PROTO_ERROR, NULL, true, 0},
        {"slabs automove\r\n", PROTO_ERROR, NULL, false, 0},
        {"slabs automove 3\r\n", PROTO_ERROR, NULL, false, 0},
        {"stats\t\r\n", PROTO_ERROR, NULL, false, 0},
        {"get\tk\r\n", PROTO_ERROR, NULL, false, 0},
        {"\rget a\r\n", PROTO_ERROR, NULL, false, 0},
        {"set\tk 0 0 5\r\n", PROTO_ERROR, NULL, false, 0},
        {"foo HTTP/1.0 bar\r\n", PROTO_ERROR, NULL, false, 0},
        /* memcached knows these: no HTTP hang-up */
        {"lru HTTP/1.0\r\n", PROTO_ERROR, NULL, false, 0},
        {"watch HTTP/1.0\r\n", PROTO_OK, NULL, false, 0}, /* no such stream: ERROR (process.c) */
        {"lru_crawler metadump HTTP/1.0\r\n", PROTO_OK, NULL, false, 0}, /* the command layer says ERROR */
        {"cache_memlimit HTTP/1.0\r\n", PROTO_ERROR, NULL, false, 0},
        {"extstore HTTP/1.0\r\n", PROTO_ERROR, NULL, false, 0},
        /* a trailing noreply silences ERROR, but for stats */
        {"xx noreply\r\n", PROTO_ERROR, NULL, true, 0},
        {"  get a noreply\r\n", PROTO_ERROR, NULL, true, 0},
        {"slabs automove 3 noreply\r\n", PROTO_ERROR, NULL, true, 0},
        {"lru_crawler noreply\r\n", PROTO_OK, NULL, true, 0}, /* ERROR from the command layer, silenced */
        {"xx noreply x\r\n", PROTO_ERROR, NULL, false, 0},
        {"noreply noreply\r\n", PROTO_ERROR, NULL, true, 0},
        /* too few arguments */
        {"get\r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {"get \r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {"get  \r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {"gets\r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {"gat\r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {"gats\r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {"gat 10\r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {"gats 10  \r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {"gat abc\r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {"set k 0 0\r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {"set k\t0 0 5\r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {"add\r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {"replace k\r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {"prepend\r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {"cas\r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {"cas k 0 0 5\r\n", PROTO_CLIENT_ERROR, BCLF, false, 7},
        {"cas k 0 0 5 noreply\r\n", PROTO_CLIENT_ERROR, BCLF, true, 7},
        {"incr\r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {"incr k\r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {"decr k\r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {"delete\r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {"touch\r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {"touch k\r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {"verbosity\r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
    };
    check_errors(c, sizeof(c) / sizeof(c[0]));
}

/* A flush_all delay that does not parse is the server's to answer (after
 * its -F check): PROTO_OK with the token in args. */
Test(text_parse, flush_all_bad_delay)
{
    static const struct {
        const char *in, *tok;
        bool noreply;
    } c[] = {
        {"flush_all abc\r\n", "abc", false},          {"flush_all abc noreply\r\n", "abc", true},
        {"flush_all noreply 10\r\n", "noreply", false}, {"flush_all +1\r\n", "+1", false},
        {"flush_all 2147483648\r\n", "2147483648", false}, {"flush_all 4294967296\r\n", "4294967296", false},
        {"flush_all 9223372036854775808\r\n", "9223372036854775808", false},
    };
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        struct mc_request req;
        ok(c[i].in, &req);
        cr_assert_eq(req.cmd, MC_CMD_FLUSH_ALL);
        cr_assert(args_are(&req, c[i].tok), "[%s]", c[i].in);
        cr_assert_not(req.has_delay);
        cr_assert_eq(req.noreply, c[i].noreply, "[%s]", c[i].in);
    }
    struct mc_request req;
    ok("flush_all 10\r\n", &req);
    cr_assert_null(req.args);
}

Test(text_parse, http_request_closes)
{
    static const char *const in[] = {"GET / HTTP/1.0\r\n", "POST / HTTP/1.1\r\n", "xx HTTP/\r\n", "GET HTTP/2\n"};
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        struct mc_request req;
        size_t consumed = 99;
        const char *errmsg = NULL;
        cr_assert_eq(parse(in[i], &req, &consumed, &errmsg), PROTO_CLOSE, "[%s]", in[i]);
        cr_assert_eq(consumed, 0);
    }
    /* a known command with an HTTP-looking last token is that command */
    struct mc_request req;
    ok("get a HTTP/1.0\r\n", &req);
    cr_assert(keys_are(&req, "a HTTP/1.0"));
}

Test(text_parse, client_errors)
{
    static const struct err_case c[] = {
        /* get family */
        {"get a " K251 " b\r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {"gets " K251 "\r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {"gat 1 " K251 " noreply\r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {"get a a a a a a a a a a a a a a a a a a a a a a a a a a a " K251 "\r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {"gat abc a\r\n", PROTO_CLIENT_ERROR, EXPTIME, false, 0},
        {"gats abc " K251 "\r\n", PROTO_CLIENT_ERROR, EXPTIME, false, 0},
        {"gat +1 a\r\n", PROTO_CLIENT_ERROR, EXPTIME, false, 0},
        {"gat 2147483648 a\r\n", PROTO_CLIENT_ERROR, EXPTIME, false, 0},
        {"gat 4294967306 a\r\n", PROTO_CLIENT_ERROR, EXPTIME, false, 0},
        /* storage: a bad length swallows nothing ... */
        {"set k 0 0 noreply\r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {"set k 0 0 abc\r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {"set k 0 0 -1\r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {"set k 0 0 +5\r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {"set k 0 0 \t5\r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {"set k 0 0 1\r\r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {"set k 0 0 2147483646\r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {"set k 0 0 2147483647\r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {"set k 0 0 2147483648\r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {"set k 0 0 4294967301\r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {"set k abc 0 abc\r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {"set " K251 " 0 0 abc\r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {"cas k 0 0 -5 1 noreply\r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        /* ... any other error after a good length swallows the block */
        {"set k abc 0 5\r\n", PROTO_CLIENT_ERROR, BCLF, false, 7},
        {"set k abc 0 5 noreply\r\n", PROTO_CLIENT_ERROR, BCLF, true, 7},
        {"set k 0 abc 5\r\n", PROTO_CLIENT_ERROR, BCLF, false, 7},
        {"set k -1 0 5\r\n", PROTO_CLIENT_ERROR, BCLF, false, 7},
        {"set k 18446744073709551616 0 5\r\n", PROTO_CLIENT_ERROR, BCLF, false, 7},
        {"set k 5x 0 0\r\n", PROTO_CLIENT_ERROR, BCLF, false, 2},
        {"set k 0x10 0 5\r\n", PROTO_CLIENT_ERROR, BCLF, false, 7},
        {"set k 0 9223372036854775808 5\r\n", PROTO_CLIENT_ERROR, BCLF, false, 7},
        {"set " K251 " 0 0 5\r\n", PROTO_CLIENT_ERROR, BCLF, false, 7},
        {"add " K251 " 0 0 5 noreply\r\n", PROTO_CLIENT_ERROR, BCLF, true, 7},
        {"set " K251 " 0 0 5 noreply x\r\n", PROTO_CLIENT_ERROR, BCLF, false, 7},
        {"cas k 0 0 5 abc\r\n", PROTO_CLIENT_ERROR, BCLF, false, 7},
        {"cas k 0 0 5 -1\r\n", PROTO_CLIENT_ERROR, BCLF, false, 7},
        {"cas k 0 0 5 +1\r\n", PROTO_CLIENT_ERROR, BCLF, false, 7},
        {"cas k 0 0 5 -0\r\n", PROTO_CLIENT_ERROR, BCLF, false, 7},
        {"cas k 0 0 5 18446744073709551616\r\n", PROTO_CLIENT_ERROR, BCLF, false, 7},
        {"cas k 0 0 2147483645 x\r\n", PROTO_CLIENT_ERROR, BCLF, false, 2147483647u},
        /* incr/decr */
        {"incr n abc\r\n", PROTO_CLIENT_ERROR, DELTA, false, 0},
        {"incr n -1\r\n", PROTO_CLIENT_ERROR, DELTA, false, 0},
        {"incr n -0\r\n", PROTO_CLIENT_ERROR, DELTA, false, 0},
        {"incr n +1\r\n", PROTO_CLIENT_ERROR, DELTA, false, 0},
        {"incr n \t1\r\n", PROTO_CLIENT_ERROR, DELTA, false, 0},
        {"incr n -18446744073709551615\r\n", PROTO_CLIENT_ERROR, DELTA, false, 0},
        {"incr n 1x\r\n", PROTO_CLIENT_ERROR, DELTA, false, 0},
        {"decr n 18446744073709551616\r\n", PROTO_CLIENT_ERROR, DELTA, false, 0},
        {"incr n abc noreply\r\n", PROTO_CLIENT_ERROR, DELTA, true, 0},
        {"incr n noreply\r\n", PROTO_CLIENT_ERROR, DELTA, true, 0},
        {"incr " K251 " 1\r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {"incr " K251 " abc\r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        /* delete */
        {"delete " K251 "\r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {"delete " K251 " 5\r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {"delete " K251 " noreply\r\n", PROTO_CLIENT_ERROR, BCLF, true, 0},
        /* touch */
        {"touch n abc\r\n", PROTO_CLIENT_ERROR, EXPTIME, false, 0},
        {"touch n +1\r\n", PROTO_CLIENT_ERROR, EXPTIME, false, 0},
        {"touch n 2147483648\r\n", PROTO_CLIENT_ERROR, EXPTIME, false, 0},
        {"touch n -2147483649\r\n", PROTO_CLIENT_ERROR, EXPTIME, false, 0},
        {"touch n 4294967306\r\n", PROTO_CLIENT_ERROR, EXPTIME, false, 0},
        {"touch n 9223372036854775808\r\n", PROTO_CLIENT_ERROR, EXPTIME, false, 0},
        {"touch n abc noreply\r\n", PROTO_CLIENT_ERROR, EXPTIME, true, 0},
        {"touch " K251 " 10\r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {"touch " K251 " abc\r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        /* flush_all */
        /* verbosity */
        {"verbosity abc\r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {"verbosity -1\r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {"verbosity +1\r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {"verbosity 4294967296\r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {"verbosity 18446744073709551616\r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {"verbosity noreply\r\n", PROTO_CLIENT_ERROR, BCLF, true, 0},
        /* slabs automove */
        {"slabs automove invalid\r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {"slabs automove -1\r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {"slabs automove +1\r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {"slabs automove 4294967297\r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {"slabs reassign x 1\r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {"slabs reassign 1 +2\r\n", PROTO_CLIENT_ERROR, BCLF, false, 0},
        {"slabs reassign x 1 noreply\r\n", PROTO_ERROR, NULL, true, 0},
    };
    check_errors(c, sizeof(c) / sizeof(c[0]));
}

/* ------------------------------------------------------------------ */

Test(text_parse, pipelined)
{
    static const char buf[] = "set k 0 0 5\r\nhello\r\n"
                              "get k\r\n"
                              "bogus\r\n"
                              "delete k 5 x\r\n"
                              "incr n 3 noreply\n"
                              "get";
    struct mc_request req;
    size_t consumed, off = 0, len = sizeof(buf) - 1;
    const char *errmsg;

    cr_assert_eq(parse_n(buf + off, len - off, &req, &consumed, &errmsg), PROTO_OK);
    cr_assert_eq(req.cmd, MC_CMD_SET);
    cr_assert_eq(req.vlen, 5);
    off += consumed;
    cr_assert_eq(off, 13);
    off += req.vlen + 2; /* the caller streams the data block */

    cr_assert_eq(parse_n(buf + off, len - off, &req, &consumed, &errmsg), PROTO_OK);
    cr_assert_eq(req.cmd, MC_CMD_GET);
    cr_assert(keys_are(&req, "k"));
    off += consumed;

    cr_assert_eq(parse_n(buf + off, len - off, &req, &consumed, &errmsg), PROTO_ERROR);
    cr_assert_eq(consumed, 7);
    off += consumed;

    cr_assert_eq(parse_n(buf + off, len - off, &req, &consumed, &errmsg), PROTO_OK);
    cr_assert_eq(req.cmd, MC_CMD_DELETE);
    off += consumed;

    cr_assert_eq(parse_n(buf + off, len - off, &req, &consumed, &errmsg), PROTO_OK);
    cr_assert_eq(req.cmd, MC_CMD_INCR);
    cr_assert_eq(req.delta, 3);
    cr_assert(req.noreply);
    off += consumed;

    cr_assert_eq(parse_n(buf + off, len - off, &req, &consumed, &errmsg), PROTO_NEED_MORE);
    cr_assert_eq(consumed, 0);
    cr_assert_eq(len - off, 3);
}

Test(text_parse, bad_storage_header_swallows_data_block)
{
    /* memcached 1.6.45: CLIENT_ERROR for the header, "hello\r\n" skipped */
    static const char buf[] = "set k abc 0 5\r\nhello\r\n";
    struct mc_request req;
    size_t consumed;
    const char *errmsg;

    cr_assert_eq(parse(buf, &req, &consumed, &errmsg), PROTO_CLIENT_ERROR);
    cr_assert_eq(req.cmd, MC_CMD_SET);
    cr_assert_eq(req.vlen, 7);
    cr_assert_eq(consumed, 15);
}

/* ------------------------------------------------------------------ */
/* Line limits                                                          */

static char *filled(size_t n, char c)
{
    char *p = malloc(n + 1);
    cr_assert_not_null(p);
    memset(p, c, n);
    p[n] = '\0';
    return p;
}

static enum proto_status parse_buf(const char *p, size_t n, size_t *consumed)
{
    struct mc_request req;
    const char *errmsg;

    return text_parse(p, n, &req, consumed, &errmsg);
}

Test(text_parse, endless_lines)
{
    size_t consumed = 99;
    char *x = filled(TEXT_MULTIGET_LINE_MAX + 10, 'x');

    /* up to TEXT_LINE_MAX bytes without "\n": wait */
    cr_assert_eq(parse_buf(x, TEXT_LINE_MAX, &consumed), PROTO_NEED_MORE);
    cr_assert_eq(consumed, 0);
    /* one more: close */
    cr_assert_eq(parse_buf(x, TEXT_LINE_MAX + 1, &consumed), PROTO_CLOSE);
    cr_assert_eq(consumed, 0);

    /* "set " + junk: close as well */
    memcpy(x, "set ", 4);
    cr_assert_eq(parse_buf(x, TEXT_LINE_MAX + 1, &consumed), PROTO_CLOSE);

    /* get/gets lines may grow */
    memcpy(x, "get ", 4);
    cr_assert_eq(parse_buf(x, TEXT_LINE_MAX + 1, &consumed), PROTO_NEED_MORE);
    cr_assert_eq(parse_buf(x, 500000, &consumed), PROTO_NEED_MORE);
    cr_assert_eq(parse_buf(x, TEXT_MULTIGET_LINE_MAX + 1, &consumed), PROTO_CLOSE);
    memcpy(x, "gets ", 5);
    cr_assert_eq(parse_buf(x, 100000, &consumed), PROTO_NEED_MORE);

    /* but not gat, nor "get\t", nor "get" after more than 100 spaces */
    memcpy(x, "gat 1 ", 6);
    cr_assert_eq(parse_buf(x, TEXT_LINE_MAX + 1, &consumed), PROTO_CLOSE);
    memcpy(x, "get\tk", 5);
    cr_assert_eq(parse_buf(x, TEXT_LINE_MAX + 1, &consumed), PROTO_CLOSE);
    memset(x, ' ', 100);
    memcpy(x + 100, "get ", 4);
    cr_assert_eq(parse_buf(x, TEXT_LINE_MAX + 1, &consumed), PROTO_NEED_MORE);
    memset(x, ' ', 101);
    memcpy(x + 101, "get ", 4);
    cr_assert_eq(parse_buf(x, TEXT_LINE_MAX + 1, &consumed), PROTO_CLOSE);
    free(x);
}

Test(text_parse, long_lines_with_newline)
{
    size_t consumed;
    struct mc_request req;
    const char *errmsg;

    /* a 16000-byte set line that arrived whole is served (memcached too) */
    char *line = filled(16000, ' ');
    memcpy(line, "set k 0 0 5", 11);
    line[15998] = '\r';
    line[15999] = '\n';
    cr_assert_eq(text_parse(line, 16000, &req, &consumed, &errmsg), PROTO_OK);
    cr_assert_eq(consumed, 16000);
    cr_assert_eq(req.vlen, 5);
    free(line);

    /* 17000 bytes: beyond memcached's read buffer: closed */
    line = filled(17000, ' ');
    memcpy(line, "set k 0 0 5", 11);
    line[16999] = '\n';
    cr_assert_eq(text_parse(line, 17000, &req, &consumed, &errmsg), PROTO_CLOSE);
    free(line);

    /* an unknown 3000-byte command line: ERROR */
    line = filled(3002, 'x');
    line[3000] = '\r';
    line[3001] = '\n';
    cr_assert_eq(text_parse(line, 3002, &req, &consumed, &errmsg), PROTO_ERROR);
    cr_assert_eq(consumed, 3002);
    free(line);

    /* a 300 KB multiget is fine */
    size_t n = 300000;
    line = filled(n, ' ');
    memcpy(line, "get", 3);
    for (size_t i = 4; i + 3 < n; i += 3)
        line[i] = 'a';
    line[n - 1] = '\n';
    cr_assert_eq(text_parse(line, n, &req, &consumed, &errmsg), PROTO_OK);
    cr_assert_eq(consumed, n);
    size_t pos = 0, nkey, keys = 0;
    const char *key;
    while (text_next_key(&req, &pos, &key, &nkey)) {
        cr_assert_eq(nkey, 1);
        keys++;
    }
    cr_assert_gt(keys, 99000);
    free(line);
}

Test(text_parse, cmd_names)
{
    cr_assert_str_eq(mc_cmd_name(MC_CMD_GET), "get");
    cr_assert_str_eq(mc_cmd_name(MC_CMD_FLUSH_ALL), "flush_all");
    cr_assert_str_eq(mc_cmd_name(MC_CMD_NOOP), "noop");
    cr_assert_str_eq(mc_cmd_name(MC_CMD_NONE), "none");
    cr_assert_str_eq(mc_cmd_name(MC_CMD__COUNT), "unknown");
}

/* watch: the streams as TEXT_WATCH_* bits; none named is fetchers; an
 * unknown name (noreply too) leaves no stream (the command layer answers
 * ERROR), never silenced. */
Test(text_parse, watch_streams)
{
    static const struct {
        const char *line;
        uint32_t flags;
    } cases[] = {
        {"watch\r\n", TEXT_WATCH_FETCHERS},
        {"watch  \r\n", TEXT_WATCH_FETCHERS},
        {"watch mutations deletions\r\n", TEXT_WATCH_MUTATIONS | TEXT_WATCH_DELETIONS},
        {"watch fetchers fetchers evictions\r\n", TEXT_WATCH_FETCHERS | TEXT_WATCH_EVICTIONS},
        {"watch connevents rawcmds sysevents proxyreqs proxyevents proxyuser\r\n",
         TEXT_WATCH_CONNEVENTS | TEXT_WATCH_RAWCMDS | TEXT_WATCH_SYSEVENTS | TEXT_WATCH_PROXYREQS |
             TEXT_WATCH_PROXYEVENTS | TEXT_WATCH_PROXYUSER},
        {"watch foo\r\n", 0},
        {"watch fetchers FETCHERS\r\n", 0},
        {"watch fetchers noreply\r\n", 0},
        {"watch fetcher\r\n", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct mc_request req;
        size_t consumed;
        const char *errmsg = NULL;
        cr_assert_eq(parse(cases[i].line, &req, &consumed, &errmsg), PROTO_OK, "%s", cases[i].line);
        cr_expect_eq(req.cmd, MC_CMD_WATCH, "%s", cases[i].line);
        cr_expect_eq(req.flags, cases[i].flags, "%s", cases[i].line);
        cr_expect_not(req.noreply, "%s", cases[i].line);
        cr_expect_eq(consumed, strlen(cases[i].line));
        check_splits(cases[i].line, strlen(cases[i].line));
    }
}
