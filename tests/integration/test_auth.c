/*
 * test_auth.c - authentication: the ASCII auth file (-Y) and SASL (-S).
 * The refusals and handshakes are played to mcd and to memcached 1.6.45
 * (the same bytes, one request per write, every reply compared byte for
 * byte, a close included); then libmemcached with SASL, every listener
 * refusing before authentication (memcached 1.6's issue #1283 was a bypass
 * on extra listeners), SIGHUP rereading the auth file, and hostile clients
 * (wrong passwords in a loop, oversize and truncated SASL requests).
 */
#include "config.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <libmemcached/memcached.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/lib/harness.h"

/* ---- fixtures: the auth files, the SASL configuration ------------------ */

static char dir[64];
static char authfile[128];

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

/* A temporary directory with the -Y file, memcached.conf (PLAIN only) and a
 * MEMCACHED_SASL_PWDB file, pointed at by the environment the servers
 * inherit. */
static void setup_files(void)
{
    char host[256] = "", pwdb[192], conf[192], line[512];

    strcpy(dir, "/tmp/mcd-auth-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(authfile, sizeof(authfile), "%s/authfile", dir);
    write_file(authfile, "alice:secret\nbob:pw\ncarol:pa:ss\ndave:crlf\r\nfrank:\n");
    snprintf(conf, sizeof(conf), "%s/memcached.conf", dir);
    write_file(conf, "mech_list: plain\n");
    gethostname(host, sizeof(host) - 1);
    snprintf(pwdb, sizeof(pwdb), "%s/pwdb", dir);
    /* Cyrus hands PLAIN's user over with the host name as its realm */
    snprintf(line, sizeof(line), "alice@%s:secret\nbob@%s:pw\n", host, host);
    write_file(pwdb, line);
    setenv("SASL_CONF_PATH", dir, 1);
    setenv("MEMCACHED_SASL_PWDB", pwdb, 1);
}

static void teardown_files(void)
{
    char path[192];
    static const char *const names[] = {"authfile", "memcached.conf", "pwdb"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

TestSuite(auth, .init = setup_files, .fini = teardown_files, .timeout = 120);

/* A build without Cyrus SASL (./configure --without-sasl) refuses -S. */
#ifdef HAVE_SASL
#define NEED_SASL() ((void)0)
#else
#define NEED_SASL() cr_skip_test("built without SASL")
#endif

/* ---- talking to a server ------------------------------------------------ */

/* Sends req, then returns everything that arrives until the server has been
 * quiet for a moment, with "<EOF>" appended when it closed. */
static size_t exchange(struct mcd_conn *c, const void *req, size_t n, char *out, size_t cap)
{
    if (n > 0 && !c->eof)
        mcd_send(c, req, n);
    /* the first byte may be slow on a loaded machine; after it, a pause
     * ends the reply */
    if (!c->eof && mcd_fill(c, 1500) > 0)
        while (!c->eof && mcd_fill(c, 150) > 0)
            ;
    size_t len = c->len < cap - 6 ? c->len : cap - 6;
    memcpy(out, c->buf, len);
    mcd_consume(c, c->len);
    if (c->eof) {
        memcpy(out + len, "<EOF>", 5);
        len += 5;
    }
    return len;
}

/* Prints bytes escaped, for a failure message. */
static const char *esc(const char *p, size_t n)
{
    static char buf[4][2048];
    static int k;
    char *o = buf[k++ & 3];
    size_t j = 0;
    for (size_t i = 0; i < n && j < sizeof(buf[0]) - 5; i++) {
        unsigned char ch = (unsigned char)p[i];
        j += (size_t)(ch >= 32 && ch < 127 ? snprintf(o + j, 5, "%c", ch) : snprintf(o + j, 5, "\\x%02x", ch));
    }
    o[j] = '\0';
    return o;
}

struct step {
    const char *bytes;
    size_t len;   /* 0: strlen */
};
#define STEPS_MAX 6

/* One server's side of a case: its steps on a fresh connection, each reply. */
struct play {
    const struct mcd_server *srv;
    const struct step *steps;
    char *out[STEPS_MAX];
    size_t len[STEPS_MAX];
    bool ok;
};

static void *play_main(void *arg)
{
    struct play *p = arg;
    struct mcd_conn *c = mcd_conn_open(p->srv);
    p->ok = c != NULL;
    for (int i = 0; p->ok && i < STEPS_MAX && p->steps[i].bytes != NULL; i++) {
        size_t n = p->steps[i].len ? p->steps[i].len : strlen(p->steps[i].bytes);
        p->out[i] = malloc(65536);
        p->ok = p->out[i] != NULL;
        if (p->ok)
            p->len[i] = exchange(c, p->steps[i].bytes, n, p->out[i], 65536);
    }
    mcd_conn_close(c);
    return NULL;
}

/* Plays one case (steps, each its own write) on a fresh connection to each
 * server and compares every reply. The two servers are played at once (a
 * thread for b), so the case costs the quiet waits of one. */
static void compare_case(const struct mcd_server *a, const struct mcd_server *b, const char *name,
                         const struct step *steps)
{
    struct play pa = {.srv = a, .steps = steps}, pb = {.srv = b, .steps = steps};
    pthread_t th;

    cr_assert_eq(pthread_create(&th, NULL, play_main, &pb), 0);
    play_main(&pa);
    pthread_join(th, NULL);
    cr_assert(pa.ok && pb.ok, "%s: a connection failed", name);
    for (int i = 0; i < STEPS_MAX && steps[i].bytes != NULL; i++) {
        size_t n = steps[i].len ? steps[i].len : strlen(steps[i].bytes);
        size_t la = pa.len[i], lb = pb.len[i];
        cr_expect(la == lb && memcmp(pa.out[i], pb.out[i], la) == 0,
                  "%s, step %d (%s):\n  mcd:       %s\n  memcached: %s", name, i, esc(steps[i].bytes, n < 60 ? n : 60),
                  esc(pa.out[i], la), esc(pb.out[i], lb));
    }
    for (int i = 0; i < STEPS_MAX; i++) {
        free(pa.out[i]);
        free(pb.out[i]);
    }
}

static struct mcd_server *start_oracle(const char *const args[], bool binary)
{
    const char *bin = mcd_oracle_bin();
    if (bin == NULL || mcd_target_is_memcached())
        return NULL;
    return binary ? mcd_start_bin_binary(bin, args) : mcd_start_bin(bin, args);
}

/* ---- the ASCII auth file, against memcached ----------------------------- */

#define T(s) {s, 0}
static const struct {
    const char *name;
    struct step steps[STEPS_MAX];
} ascii_cases[] = {
    {"get", {T("get k\r\n"), T("get k\r\n")}},
    {"version", {T("version\r\n"), T("stats\r\n")}},
    {"meta", {T("mg k v\r\n"), T("ms k 2\r\n"), T("hi\r\n")}},
    {"short lines close", {T("mn\r\n")}},
    {"quit", {T("quit\r\n")}},
    {"unknown", {T("foo\r\n")}},
    {"unknown noreply", {T("foo noreply\r\n"), T("get k\r\n")}},
    {"empty line", {T("\r\n"), T("get k\r\n")}},
    {"two bytes", {T("a\n"), T("get k\r\n")}},
    {"five bytes", {T("abcde\n")}},
    {"six bytes", {T("abcdef\n"), T("abcd\r\n")}},
    {"seven bytes", {T("abcde\r\n")}},
    {"add", {T("add auth 0 0 12\r\n"), T("alice secret\r\n"), T("get k\r\n")}},
    {"set too short", {T("set k\r\n"), T("get k\r\n")}},
    {"ok", {T("set auth 0 0 12\r\n"), T("alice secret\r\n"), T("get k\r\n"), T("set k 0 0 1\r\nv\r\n"), T("get k\r\n")}},
    {"ok any key", {T("set foo 0 0 6\r\nbob pw\r\n"), T("mn\r\n")}},
    {"ok noreply", {T("set auth 0 0 12 noreply\r\nalice secret\r\n"), T("version\r\n")}},
    {"ok bad flags", {T("set auth abc xyz 12\r\n"), T("alice secret\r\n"), T("get k\r\n")}},
    {"ok colon in password", {T("set a 0 0 11\r\ncarol pa:ss\r\n"), T("get k\r\n")}},
    {"ok crlf file", {T("set a 0 0 9\r\ndave crlf\r\n"), T("get k\r\n")}},
    {"ok empty password", {T("set a 0 0 6\r\nfrank \r\n"), T("get k\r\n")}},
    {"ok leading zero", {T("set auth 0 0 012\r\nalice secret\r\n"), T("get k\r\n")}},
    {"negative length", {T("set auth 0 0 -1\r\n"), T("get k\r\n")}},
    {"plus length", {T("set auth 0 0 +12\r\n"), T("get k\r\n")}},
    {"length x", {T("set auth 0 0 12x\r\n"), T("get k\r\n")}},
    {"length 2^32", {T("set auth 0 0 4294967296\r\n"), T("get k\r\n")}},
    {"too long", {T("set auth 0 0 16385\r\n"), T("get k\r\n")}},
    {"too long 2^32-1", {T("set auth 0 0 4294967295\r\n"), T("get k\r\n")}},
    {"empty token", {T("set auth 0 0 0\r\n\r\n"), T("get k\r\n")}},
    {"one space", {T("set auth 0 0 1\r\n \r\n"), T("get k\r\n")}},
    {"no password", {T("set auth 0 0 6\r\nalice \r\n"), T("get k\r\n")}},
    {"trailing space", {T("set auth 0 0 13\r\nalice secret \r\n"), T("get k\r\n")}},
    {"two spaces", {T("set auth 0 0 13\r\nalice  secret\r\n"), T("get k\r\n")}},
    {"extra word", {T("set auth 0 0 8\r\nbob pw x\r\n"), T("get k\r\n")}},
    {"no space", {T("set auth 0 0 11\r\nalicesecret\r\n"), T("get k\r\n")}},
    {"colon", {T("set auth 0 0 12\r\nalice:secret\r\n"), T("get k\r\n")}},
    {"tab", {T("set auth 0 0 12\r\nalice\tsecret\r\n"), T("get k\r\n")}},
    {"nul in user", {{"set auth 0 0 5\r\na\0b c\r\n", 23}, T("get k\r\n")}},
    {"bad termination", {T("set auth 0 0 12\r\nalice secretXY"), T("get k\r\n")}},
    {"wrong then right", {T("set auth 0 0 11\r\nalice wrong\r\n"), T("set auth 0 0 12\r\nalice secret\r\n"), T("get k\r\n")}},
    {"wrong password", {T("set auth 0 0 9\r\nbob pwxyz\r\n"), T("get k\r\n")}},
    {"binary", {{"\x80\x0b\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 24}}},
};

/* Cases [from, to) of ascii_cases on a fresh pair of servers, then the
 * counts and settings lines of both; mcd counted at least min_errs
 * auth_errors. */
static void ascii_matches_memcached(size_t from, size_t to, long long min_errs)
{
    const char *const args[] = {"-Y", authfile, NULL};
    struct mcd_server *m = start_oracle(args, false);
    if (m == NULL)
        cr_skip_test("no memcached 1.6.45 to compare with");
    struct mcd_server *s = mcd_start(args);
    cr_assert_not_null(s);
    for (size_t i = from; i < to; i++)
        compare_case(s, m, ascii_cases[i].name, ascii_cases[i].steps);

    /* the same counts: one more success each to read them */
    long long cmds[2], errs[2];
    struct mcd_server *both[2] = {s, m};
    for (int i = 0; i < 2; i++) {
        struct mcd_conn *c = mcd_conn_open(both[i]);
        cr_assert(mcd_roundtrip(c, "set auth 0 0 12\r\nalice secret\r\n", "STORED\r\n"));
        cmds[i] = mcd_stat_ll(c, NULL, "auth_cmds");
        errs[i] = mcd_stat_ll(c, NULL, "auth_errors");
        char *st = mcd_stats(c, "settings"), v[256];
        cr_assert(mcd_stat_find(st, "auth_enabled_ascii", v, sizeof(v)));
        cr_expect_str_eq(v, authfile);
        cr_assert(mcd_stat_find(st, "binding_protocol", v, sizeof(v)));
        cr_expect_str_eq(v, "ascii");
        free(st);
        mcd_conn_close(c);
    }
    cr_expect_eq(cmds[0], cmds[1], "auth_cmds: mcd %lld, memcached %lld", cmds[0], cmds[1]);
    cr_expect_eq(errs[0], errs[1], "auth_errors: mcd %lld, memcached %lld", errs[0], errs[1]);
    cr_expect_geq(errs[0], min_errs);
    mcd_kill(m);
    mcd_stop(s);
}

/* In two halves, each with its servers, so that Criterion runs them at once
 * (each case mostly waits for the quiet that ends a reply). */
#define ASCII_CASES (sizeof(ascii_cases) / sizeof(ascii_cases[0]))
Test(auth, ascii_matches_memcached_1)
{
    ascii_matches_memcached(0, ASCII_CASES / 2, 0);
}

Test(auth, ascii_matches_memcached_2)
{
    ascii_matches_memcached(ASCII_CASES / 2, ASCII_CASES, 6); /* the wrong passwords */
}

/*
 * Where 1.6.45 has bugs mcd does not copy (memcached-compat.md): every
 * request of a pipelined batch is answered (1.6.45 keeps the last reply of
 * the batch only), and a handshake line ending in a bare "\n" is read as
 * the line it is (1.6.45 takes one byte too many).
 */
Test(auth, ascii_mcd_only)
{
    const char *const args[] = {"-Y", authfile, NULL};
    struct mcd_server *s = mcd_start(args);
    cr_assert_not_null(s);
    struct mcd_conn *c = mcd_conn_open(s);
    cr_assert(mcd_roundtrip(c, "get k\r\nversion\r\n", "CLIENT_ERROR unauthenticated\r\nCLIENT_ERROR unauthenticated\r\n"));
    cr_assert(mcd_roundtrip(c, "get k\r\nset auth 0 0 12\r\nalice secret\r\nget k\r\n",
                            "CLIENT_ERROR unauthenticated\r\nSTORED\r\nEND\r\n"));
    mcd_conn_close(c);
    c = mcd_conn_open(s);
    cr_assert(mcd_roundtrip(c, "set auth 0 0 6\nbob pw\r\nget k\r\n", "STORED\r\nEND\r\n"));
    mcd_conn_close(c);
    mcd_stop(s);
}

/* ---- SASL, against memcached -------------------------------------------- */

/* A binary request into buf; returns its length. */
static size_t pkt(char *buf, uint8_t op, const char *key, size_t nkey, const char *val, size_t nval,
                  uint8_t extlen, uint32_t opaque)
{
    memset(buf, 0, 24 + extlen);
    buf[0] = (char)0x80;
    buf[1] = (char)op;
    buf[2] = (char)(nkey >> 8);
    buf[3] = (char)nkey;
    buf[4] = (char)extlen;
    uint32_t body = htonl((uint32_t)(extlen + nkey + nval));
    memcpy(buf + 8, &body, 4);
    uint32_t o = htonl(opaque);
    memcpy(buf + 12, &o, 4);
    memcpy(buf + 24 + extlen, key, nkey);
    memcpy(buf + 24 + extlen + nkey, val, nval);
    return 24 + extlen + nkey + nval;
}

enum { P_LIST, P_GOOD, P_BAD, P_EMPTY, P_STEP_GOOD, P_STEP_BAD, P_GET, P_VERSION, P_NOOP, P_QUIT, P_SET,
       P_STAT, P_MECH32, P_MECH33, P_BIG, P_HUGE, P_EXTRAS, P_NOKEY, P_LIST_KEY, P_LOGIN, P_TRUNC,
       P_UNKNOWN, P_GET_EXTRAS, P_KEY251, P_NOOP_BODY, P_VERSION_KEY, P_KEY_OVER_BODY, P_UNKNOWN_BODY,
       P_COUNT };
static char pk[P_COUNT][2100000];
static size_t pklen[P_COUNT];

static void build_packets(void)
{
    static char big[2000000];
    char mech[40];
    memset(big, 'x', sizeof(big));
    memset(mech, 'P', sizeof(mech));
    pklen[P_LIST] = pkt(pk[P_LIST], 0x20, "", 0, "", 0, 0, 1);
    pklen[P_GOOD] = pkt(pk[P_GOOD], 0x21, "PLAIN", 5, "\0alice\0secret", 13, 0, 2);
    pklen[P_BAD] = pkt(pk[P_BAD], 0x21, "PLAIN", 5, "\0alice\0wrong", 12, 0, 3);
    pklen[P_EMPTY] = pkt(pk[P_EMPTY], 0x21, "PLAIN", 5, "", 0, 0, 4);
    pklen[P_STEP_GOOD] = pkt(pk[P_STEP_GOOD], 0x22, "PLAIN", 5, "\0alice\0secret", 13, 0, 5);
    pklen[P_STEP_BAD] = pkt(pk[P_STEP_BAD], 0x22, "PLAIN", 5, "\0alice\0nope", 11, 0, 6);
    pklen[P_GET] = pkt(pk[P_GET], 0x00, "k", 1, "", 0, 0, 7);
    pklen[P_VERSION] = pkt(pk[P_VERSION], 0x0b, "", 0, "", 0, 0, 8);
    pklen[P_NOOP] = pkt(pk[P_NOOP], 0x0a, "", 0, "", 0, 0, 9);
    pklen[P_QUIT] = pkt(pk[P_QUIT], 0x07, "", 0, "", 0, 0, 10);
    pklen[P_SET] = pkt(pk[P_SET], 0x01, "k", 1, "v", 1, 8, 11);
    pklen[P_STAT] = pkt(pk[P_STAT], 0x10, "settings", 8, "", 0, 0, 12);
    pklen[P_MECH32] = pkt(pk[P_MECH32], 0x21, mech, 32, "\0a\0b", 4, 0, 13);
    pklen[P_MECH33] = pkt(pk[P_MECH33], 0x21, mech, 33, "\0a\0b", 4, 0, 14);
    pklen[P_BIG] = pkt(pk[P_BIG], 0x21, "PLAIN", 5, big, 100000, 0, 15);
    pklen[P_HUGE] = pkt(pk[P_HUGE], 0x21, "PLAIN", 5, big, sizeof(big), 0, 16);
    pklen[P_EXTRAS] = pkt(pk[P_EXTRAS], 0x21, "PLAIN", 5, "\0alice\0secret", 13, 4, 17);
    pklen[P_NOKEY] = pkt(pk[P_NOKEY], 0x21, "", 0, "\0alice\0secret", 13, 0, 18);
    pklen[P_LIST_KEY] = pkt(pk[P_LIST_KEY], 0x20, "x", 1, "", 0, 0, 19);
    pklen[P_LOGIN] = pkt(pk[P_LOGIN], 0x21, "LOGIN", 5, "", 0, 0, 20);
    pklen[P_TRUNC] = pkt(pk[P_TRUNC], 0x21, "PLAIN", 5, "\0alice", 6, 0, 21);
    pklen[P_UNKNOWN] = pkt(pk[P_UNKNOWN], 0x1b, "", 0, "", 0, 0, 22);
    /* malformed headers: memcached checks auth after the body length, before the shape */
    char key[260];
    memset(key, 'k', sizeof(key));
    pklen[P_GET_EXTRAS] = pkt(pk[P_GET_EXTRAS], 0x00, "k", 1, "", 0, 4, 23);
    pklen[P_KEY251] = pkt(pk[P_KEY251], 0x00, key, 251, "", 0, 0, 24);
    pklen[P_NOOP_BODY] = pkt(pk[P_NOOP_BODY], 0x0a, "", 0, "abc", 3, 0, 25);
    pklen[P_VERSION_KEY] = pkt(pk[P_VERSION_KEY], 0x0b, "k", 1, "", 0, 0, 26);
    pklen[P_KEY_OVER_BODY] = pkt(pk[P_KEY_OVER_BODY], 0x00, "k", 1, "", 0, 0, 27);
    memset(pk[P_KEY_OVER_BODY] + 8, 0, 4);
    pklen[P_UNKNOWN_BODY] = pkt(pk[P_UNKNOWN_BODY], 0x1b, "", 0, "abc", 3, 0, 28);
}

#define P(i) {pk[i], 0}
static const struct {
    const char *name;
    int steps[STEPS_MAX]; /* -1 ends */
} sasl_cases[] = {
    {"list mechs", {P_LIST, P_VERSION, -1}},
    {"get before auth", {P_GET, -1}},
    {"noop before auth", {P_NOOP, -1}},
    {"quit before auth", {P_QUIT, -1}},
    {"set before auth", {P_SET, -1}},
    {"stat before auth", {P_STAT, -1}},
    {"unknown opcode before auth", {P_UNKNOWN, -1}},
    {"auth", {P_GOOD, P_GET, P_NOOP, P_SET, P_GET, -1}},
    {"wrong password", {P_BAD, P_VERSION, P_GET, -1}},
    {"wrong then right", {P_BAD, P_GOOD, P_GET, -1}},
    {"right then wrong", {P_GOOD, P_BAD, P_GET, -1}},
    {"continue then step", {P_EMPTY, P_STEP_GOOD, P_GET, -1}},
    {"continue then wrong step", {P_EMPTY, P_STEP_BAD, P_VERSION, P_GET, -1}},
    {"continue leaves unauthenticated", {P_GOOD, P_EMPTY, P_GET, -1}},
    {"step without auth", {P_STEP_GOOD, P_VERSION, P_GET, -1}},
    {"mechanism not allowed", {P_LOGIN, P_VERSION, -1}},
    {"mechanism of 32 bytes", {P_MECH32, P_VERSION, -1}},
    {"mechanism of 33 bytes", {P_MECH33, P_VERSION, -1}},
    {"100 KB step", {P_BIG, P_VERSION, -1}},
    {"2 MB step", {P_HUGE, P_VERSION, -1}},
    {"truncated PLAIN", {P_TRUNC, P_VERSION, -1}},
    {"extras", {P_EXTRAS, P_VERSION, -1}},
    {"no mechanism", {P_NOKEY, P_VERSION, -1}},
    {"list mechs with a key", {P_LIST_KEY, P_VERSION, -1}},
    {"get with extras before auth", {P_GET_EXTRAS, -1}},
    {"key of 251 bytes before auth", {P_KEY251, -1}},
    {"noop with a body before auth", {P_NOOP_BODY, -1}},
    {"version with a key", {P_VERSION_KEY, -1}},
    {"key longer than the body", {P_KEY_OVER_BODY, -1}},
    {"unknown opcode with a body", {P_UNKNOWN_BODY, -1}},
    {"get with extras after auth", {P_GOOD, P_GET_EXTRAS, -1}},
};

Test(auth, sasl_matches_memcached)
{
    NEED_SASL();
    const char *const args[] = {"-S", NULL};
    build_packets();
    struct mcd_server *m = start_oracle(args, true);
    if (m == NULL)
        cr_skip_test("no memcached 1.6.45 to compare with");
    struct mcd_server *s = mcd_start_bin_binary(NULL, args);
    cr_assert_not_null(s);
    for (size_t i = 0; i < sizeof(sasl_cases) / sizeof(sasl_cases[0]); i++) {
        struct step steps[STEPS_MAX] = {{0}};
        for (int j = 0; j < STEPS_MAX && sasl_cases[i].steps[j] >= 0; j++)
            steps[j] = (struct step){pk[sasl_cases[i].steps[j]], pklen[sasl_cases[i].steps[j]]};
        compare_case(s, m, sasl_cases[i].name, steps);
    }
    /* text under -S: the connection is binary only, as memcached's */
    static const struct step text[STEPS_MAX] = {T("get k\r\n"), T("get k\r\nget k\r\nget k\r\nget k\r\n")};
    compare_case(s, m, "text", text);

    /* the counts, and the settings lines */
    struct mcd_server *both[2] = {s, m};
    char out[2][4][64];
    for (int i = 0; i < 2; i++) {
        struct mcd_conn *c = mcd_conn_open(both[i]);
        char buf[8192];
        cr_assert(mcd_send(c, pk[P_GOOD], pklen[P_GOOD]));
        while (c->len < 24 + 13 && mcd_fill(c, MCD_IO_TIMEOUT_MS) > 0)
            ;
        cr_assert(c->len == 24 + 13 && c->buf[7] == 0, "auth failed on server %d: %s", i, esc(c->buf, c->len));
        mcd_consume(c, c->len);
        size_t n;
        char stat[32];
        n = exchange(c, stat, pkt(stat, 0x10, "", 0, "", 0, 0, 0), buf, sizeof(buf));
        n += exchange(c, stat, pkt(stat, 0x10, "settings", 8, "", 0, 0, 0), buf + n, sizeof(buf) - n);
        static const char *const names[] = {"auth_cmds", "auth_errors", "auth_enabled_sasl", "binding_protocol"};
        for (int k = 0; k < 4; k++) {
            strcpy(out[i][k], "?");
            for (size_t p = 0; p + 24 <= n;) {
                uint16_t kl = (uint16_t)((unsigned char)buf[p + 2] << 8 | (unsigned char)buf[p + 3]);
                uint32_t bl;
                memcpy(&bl, buf + p + 8, 4);
                bl = ntohl(bl);
                if (kl == strlen(names[k]) && memcmp(buf + p + 24, names[k], kl) == 0)
                    snprintf(out[i][k], sizeof(out[i][k]), "%.*s", (int)(bl - kl), buf + p + 24 + kl);
                p += 24 + bl;
            }
        }
        mcd_conn_close(c);
    }
    for (int k = 0; k < 4; k++)
        cr_expect_str_eq(out[0][k], out[1][k], "stat %d: mcd %s, memcached %s", k, out[0][k], out[1][k]);
    cr_expect_str_eq(out[0][2], "yes");
    cr_expect_str_eq(out[0][3], "binary");
    mcd_kill(m);
    mcd_stop(s);
}

/* ---- flags memcached refuses with auth ---------------------------------- */

Test(auth, flag_conflicts)
{
    /* memcached 1.6.45's statuses (its messages are printed the same) */
    static const int want[] = {64, 64, 64, 64, 64, 64, 1};
    static const char *const sets[][5] = {
        {"-S", "-B", "ascii", NULL}, {"-S", "-B", "auto", NULL}, {"-S", "-U", "11299", NULL},
        {"-Y", "AUTHFILE", "-B", "binary", NULL}, {"-Y", "AUTHFILE", "-B", "auto", NULL},
        {"-Y", "AUTHFILE", "-U", "11299", NULL}, {"-Y", "/nonexistent/authfile", NULL},
    };
    for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
        const char *argv[8] = {mcd_bin(), "-p", "0"};
        int n = 3;
        for (int j = 0; sets[i][j] != NULL; j++)
            argv[n++] = strcmp(sets[i][j], "AUTHFILE") == 0 ? authfile : sets[i][j];
        argv[n] = NULL;
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
            int fd = open("/dev/null", O_WRONLY);
            dup2(fd, 2);
            execv(argv[0], (char *const *)argv);
            _exit(127);
        }
        int st;
        cr_assert_eq(waitpid(pid, &st, 0), pid);
        cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == want[i], "set %zu: status %d, want %d", i,
                  WIFEXITED(st) ? WEXITSTATUS(st) : -1, want[i]);
    }
}

/* ---- libmemcached with SASL --------------------------------------------- */

/* libmemcached (built with SASL) negotiates PLAIN through list-mechs and
 * authenticates; a wrong password gets nothing done. Against mcd and, when
 * it is there, memcached, which must agree. */
static void libmemcached_sasl(const struct mcd_server *s, const char *who)
{
    memcached_st *mc = memcached_create(NULL);
    cr_assert_not_null(mc);
    cr_assert_eq(memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 1), MEMCACHED_SUCCESS);
    cr_assert_eq(memcached_server_add(mc, "127.0.0.1", (in_port_t)s->port), MEMCACHED_SUCCESS);
    cr_assert_eq(memcached_set_sasl_auth_data(mc, "alice", "secret"), MEMCACHED_SUCCESS);
    memcached_return_t rc = memcached_set(mc, "key", 3, "value", 5, 0, 0);
    cr_expect_eq(rc, MEMCACHED_SUCCESS, "%s: set: %s", who, memcached_strerror(mc, rc));
    size_t n = 0;
    uint32_t flags = 0;
    char *v = memcached_get(mc, "key", 3, &n, &flags, &rc);
    cr_expect(rc == MEMCACHED_SUCCESS && n == 5 && v != NULL && memcmp(v, "value", 5) == 0, "%s: get: %s", who,
              memcached_strerror(mc, rc));
    free(v);
    memcached_free(mc);

    mc = memcached_create(NULL);
    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 1);
    memcached_server_add(mc, "127.0.0.1", (in_port_t)s->port);
    memcached_set_sasl_auth_data(mc, "alice", "not the password");
    rc = memcached_set(mc, "key", 3, "other", 5, 0, 0);
    cr_expect_neq(rc, MEMCACHED_SUCCESS, "%s: a wrong password stored a value", who);
    memcached_free(mc);
}

Test(auth, libmemcached_sasl)
{
    NEED_SASL();
    const char *const args[] = {"-S", NULL};
    struct mcd_server *s = mcd_start_bin_binary(NULL, args);
    cr_assert_not_null(s);
    libmemcached_sasl(s, "mcd");
    mcd_stop(s);
    struct mcd_server *m = start_oracle(args, true);
    if (m != NULL) {
        libmemcached_sasl(m, "memcached");
        mcd_kill(m);
    }
}

/* ---- every listener refuses before authentication ----------------------- */

static struct mcd_conn *open_addr(const char *ip, int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, ip, &a.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0, "connect %s:%d", ip, port);
    struct mcd_conn *c = calloc(1, sizeof(*c));
    c->fd = fd;
    return c;
}

/* memcached 1.6's issue #1283: only the first listener checked auth. */
Test(auth, every_listener_refuses)
{
    /* joined to the harness's -l 127.0.0.1, as memcached joins several -l */
    const char *const ya[] = {"-Y", authfile, "-l", "127.0.0.2", NULL};
    struct mcd_server *s = mcd_start(ya);
    cr_assert_not_null(s);
    static const char *const ips[] = {"127.0.0.1", "127.0.0.2"};
    for (int i = 0; i < 2; i++) {
        struct mcd_conn *c = open_addr(ips[i], s->port);
        cr_expect(mcd_roundtrip(c, "get k\r\n", "CLIENT_ERROR unauthenticated\r\n"), "-Y on %s", ips[i]);
        cr_expect(mcd_roundtrip(c, "mg k v\r\n", "CLIENT_ERROR unauthenticated\r\n"), "-Y on %s", ips[i]);
        cr_expect(mcd_roundtrip(c, "set a 0 0 12\r\nalice secret\r\n", "STORED\r\n"));
        cr_expect(mcd_roundtrip(c, "get k\r\n", "END\r\n"));
        mcd_conn_close(c);
    }
    mcd_stop(s);

    const char *const yu[] = {"-Y", authfile, NULL};
    s = mcd_start_unix(yu);
    cr_assert_not_null(s);
    struct mcd_conn *c = mcd_conn_open(s);
    cr_assert_not_null(c);
    cr_expect(mcd_roundtrip(c, "stats\r\n", "CLIENT_ERROR unauthenticated\r\n"), "-Y on the unix socket");
    cr_expect(mcd_roundtrip(c, "set a 0 0 6\r\nbob pw\r\n", "STORED\r\n"));
    mcd_conn_close(c);
    mcd_stop(s);

#ifdef HAVE_SASL
    build_packets();
    const char *const sa[] = {"-S", "-l", "127.0.0.2", NULL};
    s = mcd_start_bin_binary(NULL, sa);
    cr_assert_not_null(s);
    for (int i = 0; i < 2; i++) {
        c = open_addr(ips[i], s->port);
        char buf[256];
        size_t n = exchange(c, pk[P_GET], pklen[P_GET], buf, sizeof(buf));
        cr_expect(n == 24 + 13 + 5 && buf[7] == 0x20 && memcmp(buf + n - 5, "<EOF>", 5) == 0,
                  "-S on %s: %s", ips[i], esc(buf, n));
        mcd_conn_close(c);
    }
    mcd_stop(s);
#endif
}

/* ---- SIGHUP rereads the auth file --------------------------------------- */

Test(auth, sighup_reloads)
{
    char path[192];
    snprintf(path, sizeof(path), "%s/reload", dir);
    write_file(path, "old:one\n");
    const char *const args[] = {"-Y", path, NULL};
    struct mcd_server *s = mcd_start(args);
    cr_assert_not_null(s);
    struct mcd_conn *c = mcd_conn_open(s);
    cr_assert(mcd_roundtrip(c, "set a 0 0 7\r\nold one\r\n", "STORED\r\n"));
    mcd_conn_close(c);

    write_file(path, "new:two\n");
    kill(s->pid, SIGHUP);
    /* poll: the reload happens on the server's main loop */
    bool reloaded = false;
    for (int i = 0; i < 100 && !reloaded; i++) {
        c = mcd_conn_open(s);
        reloaded = mcd_roundtrip(c, "set a 0 0 7\r\nnew two\r\n", "STORED\r\n");
        mcd_conn_close(c);
        if (!reloaded)
            usleep(20000);
    }
    cr_expect(reloaded, "the new entry is not taken after SIGHUP");
    c = mcd_conn_open(s);
    cr_expect(mcd_roundtrip(c, "set a 0 0 7\r\nold one\r\n", "CLIENT_ERROR authentication failure\r\n"));
    mcd_conn_close(c);

    /* a file that no longer loads keeps the entries in force */
    write_file(path, "no colon here\n");
    kill(s->pid, SIGHUP);
    c = mcd_conn_open(s);
    cr_expect(mcd_roundtrip(c, "set a 0 0 7\r\nnew two\r\n", "STORED\r\n"));
    mcd_conn_close(c);
    cr_expect(kill(s->pid, 0) == 0, "the server died on a bad reload");
    mcd_stop(s);
    unlink(path);
}

/* ---- hostile clients ---------------------------------------------------- */

/* Wrong passwords in a loop, on both kinds of auth: every one answered,
 * the server's memory flat, and an authenticated client served meanwhile. */
Test(auth, wrong_passwords_in_a_loop)
{
    const char *const ya[] = {"-Y", authfile, NULL};
    struct mcd_server *s = mcd_start(ya);
    cr_assert_not_null(s);
    struct mcd_conn *good = mcd_conn_open(s), *bad = mcd_conn_open(s);
    cr_assert(mcd_roundtrip(good, "set a 0 0 12\r\nalice secret\r\n", "STORED\r\n"));
    long before = 0;
    for (int i = 0; i < 4000; i++) {
        char req[64];
        snprintf(req, sizeof(req), "set a 0 0 10\r\nalice %04d\r\n", i);
        cr_assert(mcd_roundtrip(bad, req, "CLIENT_ERROR authentication failure\r\n"));
        if (i % 500 == 0)
            cr_assert(mcd_roundtrip(good, "set k 0 0 1\r\nv\r\n", "STORED\r\n"), "other client starved");
        if (i == 1000)
            before = mcd_rss_kb(s->pid);
    }
    long after = mcd_rss_kb(s->pid);
    cr_log_info("-Y: RSS %ld kB after 1000 wrong passwords, %ld kB after 4000", before, after);
    if (MCD_RSS_ASSERTED) /* not under a sanitizer: its quarantine holds freed memory */
        cr_expect_leq(after, before + 1024, "RSS grew from %ld to %ld kB", before, after);
    cr_expect_geq(mcd_stat_ll(good, NULL, "auth_errors"), 4000);
    mcd_conn_close(good);
    mcd_conn_close(bad);
    mcd_stop(s);

#ifdef HAVE_SASL
    build_packets();
    const char *const sa[] = {"-S", NULL};
    s = mcd_start_bin_binary(NULL, sa);
    cr_assert_not_null(s);
    good = mcd_conn_open(s);
    bad = mcd_conn_open(s);
    char buf[4096];
    cr_assert(exchange(good, pk[P_GOOD], pklen[P_GOOD], buf, sizeof(buf)) >= 24 && buf[7] == 0);
    for (int i = 0; i < 4000; i++) {
        cr_assert(mcd_send(bad, pk[P_BAD], pklen[P_BAD]));
        while (bad->len < 24 + 13 && mcd_fill(bad, MCD_IO_TIMEOUT_MS) > 0)
            ;
        cr_assert(bad->len == 24 + 13 && bad->buf[7] == 0x20, "wrong password %d not refused", i);
        mcd_consume(bad, bad->len);
        if (i % 500 == 0) {
            size_t n = exchange(good, pk[P_SET], pklen[P_SET], buf, sizeof(buf));
            cr_assert(n == 24 && buf[7] == 0, "other client starved");
        }
        if (i == 1000)
            before = mcd_rss_kb(s->pid);
    }
    after = mcd_rss_kb(s->pid);
    cr_log_info("-S: RSS %ld kB after 1000 wrong passwords, %ld kB after 4000", before, after);
    if (MCD_RSS_ASSERTED) /* not under a sanitizer: its quarantine holds freed memory */
        cr_expect_leq(after, before + 1024, "RSS grew from %ld to %ld kB", before, after);
    mcd_conn_close(good);
    mcd_conn_close(bad);
    mcd_stop(s);
#endif
}

/* A SASL request cut short (the client leaves half way through its body),
 * oversize ones, and byte-at-a-time ones cost only their own connection. */
Test(auth, truncated_and_oversize_sasl)
{
    NEED_SASL();
    build_packets();
    const char *const sa[] = {"-S", NULL};
    struct mcd_server *s = mcd_start_bin_binary(NULL, sa);
    cr_assert_not_null(s);
    for (int i = 0; i < 50; i++) {
        struct mcd_conn *c = mcd_conn_open(s);
        mcd_send(c, pk[P_BIG], 24 + 5 + (size_t)i * 997);
        mcd_conn_close(c);
    }
    struct mcd_conn *c = mcd_conn_open(s);
    char buf[4096];
    cr_assert(mcd_send_bytewise(c, pk[P_GOOD], pklen[P_GOOD]));
    size_t n = exchange(c, "", 0, buf, sizeof(buf));
    cr_expect(n == 24 + 13 && buf[7] == 0, "auth sent a byte at a time: %s", esc(buf, n));
    /* 2 MB: 0x82, the body skipped, the connection kept */
    n = exchange(c, pk[P_HUGE], pklen[P_HUGE], buf, sizeof(buf));
    cr_expect(n == 24 + 13 && (unsigned char)buf[7] == 0x82, "2 MB step: %s", esc(buf, n));
    n = exchange(c, pk[P_VERSION], pklen[P_VERSION], buf, sizeof(buf));
    cr_expect(n == 24 + 6 && buf[7] == 0, "after the 2 MB step: %s", esc(buf, n));
    mcd_conn_close(c);
    mcd_stop(s);
}

/* A Cyrus sasldb made with saslpasswd2 (sasldb_path in memcached.conf, no
 * MEMCACHED_SASL_PWDB): libmemcached authenticates, as with memcached. */
Test(auth, sasldb)
{
    NEED_SASL();
    char db[160], conf[160], text[256], cmd[512];
    snprintf(db, sizeof(db), "%s/sasldb", dir);
    snprintf(cmd, sizeof(cmd), "printf dbpass | saslpasswd2 -p -f %s -a memcached -c dbuser 2>/dev/null", db);
    if (system(cmd) != 0)
        cr_skip_test("saslpasswd2 (sasl2-bin) is not installed");
    snprintf(conf, sizeof(conf), "%s/memcached.conf", dir);
    snprintf(text, sizeof(text), "mech_list: plain\nsasldb_path: %s\n", db);
    write_file(conf, text);
    unsetenv("MEMCACHED_SASL_PWDB");
    const char *const args[] = {"-S", NULL};
    struct mcd_server *servers[2] = {mcd_start_bin_binary(NULL, args), start_oracle(args, true)};
    cr_assert_not_null(servers[0]);
    for (int i = 0; i < 2; i++) {
        if (servers[i] == NULL)
            continue;
        memcached_st *mc = memcached_create(NULL);
        memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 1);
        memcached_server_add(mc, "127.0.0.1", (in_port_t)servers[i]->port);
        memcached_set_sasl_auth_data(mc, "dbuser", "dbpass");
        memcached_return_t rc = memcached_set(mc, "k", 1, "v", 1, 0, 0);
        cr_expect_eq(rc, MEMCACHED_SUCCESS, "%s: %s", i ? "memcached" : "mcd", memcached_strerror(mc, rc));
        memcached_free(mc);
        mc = memcached_create(NULL);
        memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 1);
        memcached_server_add(mc, "127.0.0.1", (in_port_t)servers[i]->port);
        memcached_set_sasl_auth_data(mc, "dbuser", "wrong");
        cr_expect_neq(memcached_set(mc, "k", 1, "v", 1, 0, 0), MEMCACHED_SUCCESS);
        memcached_free(mc);
    }
    mcd_stop(servers[0]);
    mcd_kill(servers[1]);
    unlink(db);
}
