/*
 * test_settings.c - the option table (server/settings.def) as
 * settings_parse() expands it: defaults, each kind of value, -o lists, and
 * the bounds with memcached 1.6.45's messages and exit statuses (recorded
 * from the oracle; tests/integration/flags-oracle.sh compares them live).
 */
#include "config.h"

#include "server/settings.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <criterion/redirect.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

/* Parses "mcd <args>" (split on spaces); the strings stay alive, as
 * settings keeps pointers into argv. */
static int parse(const char *args)
{
    static char buf[512];
    static char *argv[64];
    int argc = 0;
    char *save = NULL;

    strncpy(buf, args, sizeof(buf) - 1);
    argv[argc++] = "mcd";
    for (char *t = strtok_r(buf, " ", &save); t != NULL && argc < 63; t = strtok_r(NULL, " ", &save))
        argv[argc++] = t;
    argv[argc] = NULL;
    return settings_parse(argc, argv);
}

Test(settings, defaults)
{
    cr_assert_eq(parse(""), SETTINGS_RUN);
    cr_expect_eq(settings.port, 11211);
    cr_expect_eq(settings.udpport, 0);
    cr_expect_str_eq(settings.inter, "127.0.0.1");
    cr_expect_null(settings.socketpath);
    cr_expect_eq(settings.access, 0700u);
    cr_expect_eq(settings.maxbytes, (size_t)64 << 20);
    cr_expect_eq(settings.maxconns, 1024u);
    cr_expect_eq(settings.num_threads, 4u);
    cr_expect_eq(settings.reqs_per_event, 20u);
    cr_expect_eq(settings.backlog, 1024u);
    cr_expect_eq(settings.item_size_max, (size_t)1 << 20);
    cr_expect_eq(settings.chunk_size, 48u);
    cr_expect_float_eq(settings.factor, 1.25, 1e-9);
    cr_expect_eq(settings.binding_protocol, PROTO_AUTO);
    cr_expect(settings.evict_to_free && settings.use_cas && settings.flush_enabled && settings.dump_enabled);
    cr_expect_not(settings.shutdown_command || settings.daemonize || settings.help || settings.version);
    cr_expect_eq(settings.verbose, 0);
    /* -o: 0 is "the store's default", printed as 0 by stats settings */
    cr_expect_eq(settings.hashpower_init, 0u);
    cr_expect_eq(settings.idle_timeout, 0u);
    cr_expect(settings.maxconns_fast && settings.lru_crawler);
}

Test(settings, each_kind_of_value)
{
    cr_assert_eq(parse("-m 128 -I 2m -f 1.5 -a 755 -B ascii -M -C -A -vv -p 1234 --threads=2 -l ::1"), SETTINGS_RUN);
    cr_expect_eq(settings.maxbytes, (size_t)128 << 20);
    cr_expect_eq(settings.item_size_max, (size_t)2 << 20);
    cr_expect_float_eq(settings.factor, 1.5, 1e-9);
    cr_expect_eq(settings.access, 0755u);
    cr_expect_eq(settings.binding_protocol, PROTO_ASCII);
    cr_expect_not(settings.evict_to_free);
    cr_expect_not(settings.use_cas);
    cr_expect(settings.shutdown_command);
    cr_expect_eq(settings.verbose, 2);
    cr_expect_eq(settings.port, 1234);
    cr_expect_eq(settings.num_threads, 2u);
    cr_expect_str_eq(settings.inter, "::1");
    cr_assert_eq(parse("-I 512k"), SETTINGS_RUN);
    cr_expect_eq(settings.item_size_max, (size_t)512 << 10);
}

Test(settings, parse_again_resets_to_defaults)
{
    cr_assert_eq(parse("-t 9 -o no_lru_crawler"), SETTINGS_RUN);
    cr_assert_eq(parse(""), SETTINGS_RUN);
    cr_expect_eq(settings.num_threads, 4u);
    cr_expect(settings.lru_crawler);
}

Test(settings, extended_options)
{
    cr_assert_eq(parse("-o hashpower=13,no_lru_crawler,idle_timeout=5,no_maxconns_fast"), SETTINGS_RUN);
    cr_expect_eq(settings.hashpower_init, 13u);
    cr_expect_eq(settings.idle_timeout, 5u);
    cr_expect_not(settings.lru_crawler);
    cr_expect_not(settings.maxconns_fast);
    /* a boolean takes no value; memcached ignores one */
    cr_assert_eq(parse("-o lru_crawler=0,maxconns_fast"), SETTINGS_RUN);
    cr_expect(settings.lru_crawler && settings.maxconns_fast);
    /* the bounds are inclusive */
    cr_expect_eq(parse("-o hashpower=12"), SETTINGS_RUN);
    cr_expect_eq(parse("-o hashpower=32"), SETTINGS_RUN);
    cr_expect_eq(parse("-I 1k -p 65535"), SETTINGS_RUN);
}

Test(settings, ignored_options_warn, .init = cr_redirect_stderr)
{
    cr_assert_eq(parse("-o slab_reassign,lru_maintainer,hash_algorithm=xxhash"), SETTINGS_RUN);
    fflush(stderr);
    cr_assert_stderr_eq_str("mcd: warning: -o slab_reassign has no effect in mcd (see memcached-compat.md)\n"
                            "mcd: warning: -o lru_maintainer has no effect in mcd (see memcached-compat.md)\n"
                            "mcd: warning: -o hash_algorithm has no effect in mcd (see memcached-compat.md)\n");
}

struct bad_flag {
    const char *args;
    int status;
    const char *err;
};

/* status and message as memcached 1.6.45 exits with them (but the ones
 * marked mcd, where memcached reads the value with atoi or not at all) */
static struct bad_flag bad_flags[] = {
    {"-t 0", 1, "Number of threads must be greater than 0\n"},
    {"-t 0 -c 0", 1, "Number of threads must be greater than 0\n"},
    {"-c 0", 1, "Maximum connections must be greater than 0\n"},
    {"-f 1.0", 1, "Factor must be greater than 1\n"},
    {"-f 0.5", 1, "Factor must be greater than 1\n"},
    {"-n 0", 1, "Chunk size must be greater than 0\n"},
    {"-R 0", 1, "Number of requests per event must be greater than 0\n"},
    {"-I 512", EX_USAGE, "Item max size cannot be less than 1024 bytes.\n"},
    {"-m 100000 -I 2000m", EX_USAGE, "Cannot set item size limit higher than a gigabyte.\n"},
    {"-m 4 -I 4m", EX_USAGE, "Cannot set item size limit higher than 1/2 of memory max.\n"},
    {"-p 70000", EX_USAGE, "ERROR: Invalid port number 70000.\n"},
    {"-o hashpower=5", 1, "Initial hashtable multiplier of 5 is too low\n"},
    {"-o hashpower=70", 1,
     "Initial hashtable multiplier of 70 is too high\n"
     "Choose a value based on \"STAT hash_power_level\" from a running instance\n"},
    {"-o hashpower", 1, "Missing numeric argument for hashpower\n"},
    {"-o bogus", 1, "Illegal suboption \"bogus\"\n"},
    {"-o idle_timeout=3,bogus=1", 1, "Illegal suboption \"bogus=1\"\n"},
    /* mcd */
    {"-p abc", EX_USAGE, "Invalid value for -p (--port): \"abc\"\n"},
    {"-B foo", EX_USAGE, "Invalid value for -B (--protocol): \"foo\"\n"},
    {"-a 1000", EX_USAGE, "Invalid value for -a (--unix-mask): \"1000\"\n"},
    {"-m 2000000", EX_USAGE, "Cannot set the memory limit higher than 1048576 megabytes (1 TB).\n"},
    {"-o idle_timeout=-1", EX_USAGE, "Invalid value for -o idle_timeout: \"-1\"\n"},
    {"-d extra", EX_USAGE, "Unexpected argument \"extra\"\n"},
};

#define N_BAD_FLAGS (sizeof(bad_flags) / sizeof(bad_flags[0]))

/* The parameter is an index: Criterion copies parameters into the test's
 * own process, where pointers into the parent's address space are not
 * valid (the ASan and debug builds crashed on them). */
ParameterizedTestParameters(settings, bad_flags)
{
    static size_t idx[N_BAD_FLAGS];
    for (size_t i = 0; i < N_BAD_FLAGS; i++)
        idx[i] = i;
    return cr_make_param_array(size_t, idx, N_BAD_FLAGS);
}

ParameterizedTest(size_t *i, settings, bad_flags, .init = cr_redirect_stderr)
{
    const struct bad_flag *b = &bad_flags[*i];
    cr_expect_eq(parse(b->args), b->status, "mcd %s: status", b->args);
    fflush(stderr);
    cr_expect_stderr_eq_str(b->err, "mcd %s: message", b->args);
}

Test(settings, help_lists_every_row, .init = cr_redirect_stdout)
{
    cr_assert_eq(parse("-h"), 0);
    fflush(stdout);
    /* one line per kind of row: a flag, an -o value, an -o boolean, an ignored -o */
    FILE *out = cr_get_redirected_stdout();
    char text[8192];
    size_t n = fread(text, 1, sizeof(text) - 1, out);
    text[n] = '\0';
    cr_expect(strstr(text, "\n-m, --memory-limit=<arg> ") != NULL, "%s", text);
    cr_expect(strstr(text, "\n   hashpower=<arg> ") != NULL);
    cr_expect(strstr(text, "(default: 16)") != NULL);
    cr_expect(strstr(text, "\n   lru_crawler, no_lru_crawler ") != NULL);
    cr_expect(strstr(text, " sock_cookie_id\n") != NULL);
}
