/*
 * test_auth_file.c - the -Y auth file and handshake parsers
 * (server/auth_file.c) and the MEMCACHED_SASL_PWDB line check
 * (server/sasl.c), on plain buffers. The expected outcomes are memcached
 * 1.6.45's (tests/integration/test_auth compares the server with it).
 */
#include "config.h"

#include "server/auth_file.h"
#include "server/sasl.h"

#include <criterion/criterion.h>
#include <string.h>

#define S(x) x, sizeof(x) - 1

Test(auth_file, table_entries)
{
    struct auth_table *t = auth_table_parse(S("alice:secret\nbob:pw\ncarol:pa:ss\ndave:crlf\r\nfrank:\n:nouser\nlast:nonl"));
    cr_assert_not_null(t);
    cr_expect(auth_table_check(t, S("alice"), S("secret")));
    cr_expect(auth_table_check(t, S("bob"), S("pw")));
    cr_expect(auth_table_check(t, S("carol"), S("pa:ss")));
    cr_expect(auth_table_check(t, S("dave"), S("crlf")));
    cr_expect(auth_table_check(t, S("frank"), S("")));
    cr_expect(auth_table_check(t, S(""), S("nouser")));
    cr_expect(auth_table_check(t, S("last"), S("nonl")));
    cr_expect(!auth_table_check(t, S("alice"), S("secre")));
    cr_expect(!auth_table_check(t, S("alice"), S("secret ")));
    cr_expect(!auth_table_check(t, S("alice"), S("Secret")));
    cr_expect(!auth_table_check(t, S("bob"), S("secret")));     /* another user's password */
    cr_expect(!auth_table_check(t, S("dave"), S("crlf\r")));
    cr_expect(!auth_table_check(t, S("nobody"), S("")));
    auth_table_free(t);
}

Test(auth_file, malformed_files)
{
    cr_expect_null(auth_table_parse(S("")));
    cr_expect_null(auth_table_parse(S("a:b\n\n")));
    cr_expect_null(auth_table_parse(S("# comment\na:b\n")));
    cr_expect_null(auth_table_parse(S("a:b\nnocolon\n")));
    struct auth_table *t = auth_table_parse(S("a:b\n"));
    cr_expect_not_null(t);
    auth_table_free(t);
}

static enum auth_step step(const char *in, size_t n, size_t *consumed, struct auth_token *tok)
{
    return auth_line_parse(in, n, consumed, tok);
}

Test(auth_file, handshake_lines)
{
    size_t c;
    struct auth_token tok;
    cr_expect_eq(step(S("se"), &c, &tok), AUTH_NEED_MORE);
    cr_expect_eq(step(S("\r\n"), &c, &tok), AUTH_NEED_MORE);
    cr_expect_eq(step(S("mn\r\n"), &c, &tok), AUTH_CLOSE);
    cr_expect_eq(step(S("abcde\n"), &c, &tok), AUTH_CLOSE);
    cr_expect_eq(step(S("abcdef\n"), &c, &tok), AUTH_UNAUTHENTICATED);
    cr_expect_eq(c, 7);
    cr_expect_eq(step(S("get k\r\n"), &c, &tok), AUTH_UNAUTHENTICATED);
    cr_expect_eq(step(S("set auth 0 0 -1\r\n"), &c, &tok), AUTH_UNAUTHENTICATED);
    cr_expect_eq(step(S("set auth 0 0 +1\r\n"), &c, &tok), AUTH_UNAUTHENTICATED);
    cr_expect_eq(step(S("set auth 0 0 4294967296\r\n"), &c, &tok), AUTH_UNAUTHENTICATED);
    cr_expect_eq(step(S("set auth 0 0 16385\r\n"), &c, &tok), AUTH_TOO_LONG);
    cr_expect_eq(c, 20);
    cr_expect_eq(step(S("set auth 0 0 12\r\nalice secr"), &c, &tok), AUTH_NEED_MORE);
    cr_expect_eq(step(S("set auth 0 0 12\r\nalice secretXY"), &c, &tok), AUTH_BAD_TERMINATION);
    cr_expect_eq(step(S("set auth 0 0 11\r\nalicesecret\r\n"), &c, &tok), AUTH_BAD_FORMAT);
    cr_expect_eq(step(S("set a b c 8 noreply\r\nbob pw x\r\nget"), &c, &tok), AUTH_TOKEN);
    cr_expect_eq(c, 21 + 10);
    cr_expect(tok.ulen == 3 && memcmp(tok.user, "bob", 3) == 0);
    cr_expect(tok.plen == 4 && memcmp(tok.pass, "pw x", 4) == 0);
    /* a bare "\n" ends the line (1.6.45 misreads it; see memcached-compat.md) */
    cr_expect_eq(step(S("set auth 0 0 6\nbob pw\r\n"), &c, &tok), AUTH_TOKEN);
    char longline[3000];
    memset(longline, 'x', sizeof(longline));
    cr_expect_eq(step(longline, 2048, &c, &tok), AUTH_NEED_MORE);
    cr_expect_eq(step(longline, 2049, &c, &tok), AUTH_CLOSE);
    cr_expect_eq(step(S("set auth 0 0 3\r\nabc\r\n"), &c, &tok), AUTH_BAD_FORMAT);
    cr_expect_str_eq(auth_step_reply(AUTH_TOKEN, true), "STORED");
    cr_expect_str_eq(auth_step_reply(AUTH_TOKEN, false), "CLIENT_ERROR authentication failure");
}

Test(auth_file, sasl_pwdb_lines)
{
    cr_expect(mcd_sasl_pwdb_line_matches(S("alice@h:secret\n"), "alice@h", S("secret")));
    cr_expect(mcd_sasl_pwdb_line_matches(S("alice@h:secret\r\n"), "alice@h", S("secret")));
    cr_expect(mcd_sasl_pwdb_line_matches(S("alice@h:secret"), "alice@h", S("secret")));
    cr_expect(!mcd_sasl_pwdb_line_matches(S("alice@h:secret\n"), "alice", S("secret")));
    cr_expect(!mcd_sasl_pwdb_line_matches(S("alice@h:secret\n"), "alice@h", S("secre")));
    cr_expect(!mcd_sasl_pwdb_line_matches(S("alice@hx:secret\n"), "alice@h", S("secret")));
    cr_expect(!mcd_sasl_pwdb_line_matches(S("alice@h\n"), "alice@h", S("")));
}
