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
    cr_expect_eq(parse("-t 3 -o hashpower=12"), SETTINGS_RUN);
    /* above the item lock table memcached sizes by -t */
    cr_expect_eq(parse("-t 4 -o hashpower=13"), SETTINGS_RUN);
    cr_expect_eq(parse("-t 21 -o hashpower=16"), SETTINGS_RUN);
    cr_expect_eq(parse("-o hashpower=32"), SETTINGS_RUN);
    cr_expect_eq(parse("-I 1k -p 65535"), SETTINGS_RUN);
}

/* memcached's tuning options read as 1.6.45 reads them: atoi where it
 * uses atoi, its strtoul (a sign, no fraction) where it uses that */
Test(settings, memcached_tuning_values)
{
    cr_assert_eq(parse("-o lru_crawler_sleep=2k,lru_crawler_tocrawl=+7,slab_automove,hot_lru_pct=1,"
                       "hot_max_factor=2k,temporary_ttl=x,ext_wbuf_size=-0,slab_automove_freeratio=1e-3"),
                 SETTINGS_RUN);
    cr_expect_eq(settings.lru_crawler_sleep, 2);
    cr_expect_eq(settings.lru_crawler_tocrawl, 7ul);
    cr_expect_eq(settings.slab_automove, 1);
    cr_expect_eq(settings.hot_lru_pct, 1);
    cr_expect_eq(settings.hot_max_factor, 2.0);
    cr_expect_eq(settings.temporary_ttl, 0);
    cr_expect(settings_temp_lru());
    cr_expect_eq(settings.ext_wbuf_size, 0ul);
    cr_expect_eq(settings.slab_automove_freeratio, 1e-3);
    /* a later parse starts from the defaults */
    cr_assert_eq(parse("-N 2 -L"), SETTINGS_RUN);
    cr_expect_not(settings_temp_lru());
    cr_expect_eq(settings.lru_crawler_sleep, 100);
    cr_expect_eq(settings.num_napi_ids, 2);
    cr_expect(settings.large_pages);
}

Test(settings, ignored_options_warn, .init = cr_redirect_stderr)
{
    cr_assert_eq(parse("-o slab_reassign,lru_maintainer,hash_algorithm=xxh3"), SETTINGS_RUN);
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
    {"-o hashpower=12", 1,
     "Hash table power size (12) cannot be equal to or less than item lock table (12)\n"
     "Item lock table grows with `-t N` (worker threadcount)\n"
     "Hash table grows with `-o hashpower=N` \n"},
    {"-t 11 -o hashpower=14", 1,
     "Hash table power size (14) cannot be equal to or less than item lock table (14)\n"
     "Item lock table grows with `-t N` (worker threadcount)\n"
     "Hash table grows with `-o hashpower=N` \n"},
    /* memcached's tuning: checked as 1.6.45 checks it, no warning said */
    {"-o tail_repair_time=9", 1, "Cannot set tail_repair_time to less than 10 seconds\n"},
    {"-o tail_repair_time=2k", 1, "Cannot set tail_repair_time to less than 10 seconds\n"},
    {"-o hash_algorithm=md5", 1, "Unknown hash_algorithm option (jenkins, murmur3, xxh3)\n"},
    {"-o hash_algorithm", 1, "Missing hash_algorithm argument\n"},
    {"-o lru_crawler_sleep=1000001", 1, "LRU crawler sleep must be between 0 and 1 second\n"},
    {"-o lru_crawler_sleep", 1, "Missing lru_crawler_sleep value\n"},
    {"-o lru_crawler_tocrawl=-1", 1, "lru_crawler_tocrawl takes a numeric 32bit value\n"},
    {"-o hot_lru_pct=80", 1, "hot_lru_pct must be > 1 and < 80\n"},
    {"-o warm_lru_pct=0", 1, "warm_lru_pct must be > 1 and < 80\n"},
    {"-o hot_lru_pct=41,warm_lru_pct=40", EX_USAGE, "hot_lru_pct + warm_lru_pct cannot be more than 80% combined\n"},
    {"-o hot_max_factor=x", 1, "hot_max_factor must be > 0\n"},
    {"-o temporary_ttl=5,no_lru_maintainer", EX_USAGE, "temporary_ttl requires lru_maintainer to be enabled\n"},
    {"-o slab_chunk_max=x", 1, "could not parse argument to slab_chunk_max\n"},
    {"-o slab_chunk_max=0", 1, "slab_chunk_max must be >= 0\n"},
    {"-o slab_chunk_max=1025", 1, "slab_chunk_max must be specified in kilobytes.\n"},
    {"-o slab_chunk_max=100", EX_USAGE,
     "-I (item_size_max: 1048576) must be evenly divisible by slab_chunk_max (bytes: 102400)\n"},
    {"-I 512k -o slab_chunk_max=1024", EX_USAGE,
     "slab_chunk_max (bytes: 1048576) cannot be larger than -I (item_size_max 524288)\n"},
    {"-o watcher_logbuf_size=-1", 1, "could not parse argument to watcher_logbuf_size\n"},
    {"-o read_buf_mem_limit=2k", 1, "could not parse argument to read_buf_mem_limit\n"},
    {"-o slab_automove_freeratio=x", 1, "could not parse argument to slab_automove_freeratio\n"},
    {"-o ext_item_size=1.5", 1, "could not parse argument to ext_item_size\n"},
    {"-o ext_max_frag", 1, "Missing ext_max_frag argument\n"},
    {"-o slab_automove_ratio", 1, "Missing slab_automove_ratio argument\n"},
    {"-o slab_automove_window=x", 1, "slab_automove_window must be > 2 and < 1800\n"},
    {"-o slab_automove=3", 1, "slab_automove must be between 0 and 2\n"},
    {"-N 0", 1, "Maximum number of NAPI IDs must be greater than 0\n"},
    {"-N x", 1, "Maximum number of NAPI IDs must be greater than 0\n"},
    {"-N 5", EX_USAGE, "Number of napi_ids(5) cannot be greater than number of threads(4)\n"},
    /* mcd */
    {"-p abc", EX_USAGE, "Invalid value for -p (--port): \"abc\"\n"},
    {"-B foo", EX_USAGE, "Invalid value for -B (--protocol): \"foo\"\n"},
    {"-a 1000", EX_USAGE, "Invalid value for -a (--unix-mask): \"1000\"\n"},
    {"-m 2000000", EX_USAGE, "Cannot set the memory limit higher than 1048576 megabytes (1 TB).\n"},
    {"-o idle_timeout=-1", EX_USAGE, "Invalid value for -o idle_timeout: \"-1\"\n"},
    {"-d extra", EX_USAGE, "Unexpected argument \"extra\"\n"},
    {"-e /dev/shm/mc", 1,
     "-e /dev/shm/mc: mcd has no restartable cache in a memory file; it keeps items in memory only\n"},
    {"-o ext_path=/tmp/ext:64m", 1,
     "-o ext_path: mcd has no external storage (extstore); it keeps items in memory only\n"},
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
    cr_expect(strstr(text, " tail_repair_time ") != NULL, "a TUNE row is listed as accepted with no effect");
}
