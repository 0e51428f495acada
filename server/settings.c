/*
 * settings.c - defaults, getopt parsing and help text, all expanded from
 * settings.def so that a setting is declared in exactly one place.
 * Runs once in main() before any thread starts; exits nothing itself
 * (returns a settings_result for main to act on).
 */
#include "config.h"

#include "server/settings.h"
#include "store/store.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct settings settings;

enum setting_type { T_INT, T_UINT, T_MEGS, T_SIZE, T_DOUBLE, T_STR, T_OCTAL, T_SET, T_CLEAR, T_COUNT, T_PROTO };

struct setting_row {
    const char *long_name;
    int short_opt;
    enum setting_type type;
    void *field;
    const char *help;
};

static const struct setting_row rows[] = {
#define SETTING(field_, type, sh, lname, def, help_) {lname, sh, T_##type, &settings.field_, help_},
#include "server/settings.def"
#undef SETTING
};
#define NROWS (sizeof(rows) / sizeof(rows[0]))

static void settings_defaults(void)
{
#define SETTING(field_, type, sh, lname, def, help_) settings.field_ = def;
#include "server/settings.def"
#undef SETTING
    settings.hashpower_init = 0;
    settings.idle_timeout = 0;
    settings.maxconns_fast = true;
    settings.lru_crawler = true;
}

static bool takes_arg(enum setting_type t)
{
    return t != T_SET && t != T_CLEAR && t != T_COUNT;
}

const char *settings_protocol_name(enum proto_binding b)
{
    switch (b) {
    case PROTO_ASCII: return "ascii";
    case PROTO_BINARY: return "binary";
    default: return "auto-negotiate";
    }
}

void settings_usage(FILE *out)
{
    fprintf(out, "%s %s\n", PACKAGE_NAME, PACKAGE_VERSION);
    for (size_t i = 0; i < NROWS; i++) {
        char lhs[64];
        const struct setting_row *r = &rows[i];
        snprintf(lhs, sizeof(lhs), "-%c, --%s%s", r->short_opt, r->long_name, takes_arg(r->type) ? "=<arg>" : "");
        fprintf(out, "%-34s %s\n", lhs, r->help);
    }
    fprintf(out,
            "-o, --extended options (comma separated):\n"
            "   - hashpower=N:      log2 of the initial hash table size (default: 16); grows at runtime\n"
            "   - idle_timeout=S:   close connections idle for S seconds (default: 0, never)\n"
            "   - maxconns_fast / no_maxconns_fast: over -c, close new connections at once (default: on)\n"
            "   - lru_crawler / no_lru_crawler: background sweep of expired items (default: on)\n"
            "   Other memcached -o options are accepted with a warning when they only tune\n"
            "   memcached internals (see memcached-compat.md).\n");
}

/* Parses an unsigned decimal with full-string and range checks. */
static bool parse_ull(const char *s, unsigned long long max, unsigned long long *out)
{
    char *end;
    if (s == NULL || *s == '\0' || *s == '-')
        return false;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > max)
        return false;
    *out = v;
    return true;
}

/* "1m", "512k", "2097152": memcached's -I syntax. */
static bool parse_size(const char *s, size_t *out)
{
    char buf[32];
    size_t n = strlen(s);
    unsigned long long mult = 1, v;
    if (n == 0 || n >= sizeof(buf))
        return false;
    memcpy(buf, s, n + 1);
    switch (buf[n - 1]) {
    case 'k': case 'K': mult = 1024; buf[n - 1] = '\0'; break;
    case 'm': case 'M': mult = 1024 * 1024; buf[n - 1] = '\0'; break;
    default: break;
    }
    if (!parse_ull(buf, SIZE_MAX / mult, &v))
        return false;
    *out = (size_t)(v * mult);
    return true;
}

static bool set_value(const struct setting_row *r, const char *arg)
{
    unsigned long long v;
    char *end;
    switch (r->type) {
    case T_INT:
        errno = 0;
        long l = strtol(arg, &end, 10);
        if (errno || *end || end == arg || l < INT_MIN || l > INT_MAX)
            return false;
        *(int *)r->field = (int)l;
        return true;
    case T_UINT:
        if (!parse_ull(arg, UINT_MAX, &v))
            return false;
        *(unsigned *)r->field = (unsigned)v;
        return true;
    case T_MEGS:
        if (!parse_ull(arg, SIZE_MAX / (1024 * 1024), &v))
            return false;
        *(size_t *)r->field = (size_t)v * 1024 * 1024;
        return true;
    case T_SIZE:
        return parse_size(arg, (size_t *)r->field);
    case T_DOUBLE:
        errno = 0;
        double d = strtod(arg, &end);
        if (errno || *end || end == arg)
            return false;
        *(double *)r->field = d;
        return true;
    case T_STR:
        *(const char **)r->field = arg;
        return true;
    case T_OCTAL:
        errno = 0;
        unsigned long o = strtoul(arg, &end, 8);
        if (errno || *end || end == arg || o > 0777)
            return false;
        *(unsigned *)r->field = (unsigned)o;
        return true;
    case T_PROTO:
        if (strcmp(arg, "auto") == 0)
            *(enum proto_binding *)r->field = PROTO_AUTO;
        else if (strcmp(arg, "ascii") == 0)
            *(enum proto_binding *)r->field = PROTO_ASCII;
        else if (strcmp(arg, "binary") == 0)
            *(enum proto_binding *)r->field = PROTO_BINARY;
        else
            return false;
        return true;
    case T_SET:
        *(bool *)r->field = true;
        return true;
    case T_CLEAR:
        *(bool *)r->field = false;
        return true;
    case T_COUNT:
        (*(int *)r->field)++;
        return true;
    }
    return false;
}

/* memcached -o options that only tune memcached's own internals: accepted
 * with a warning so that existing command lines keep working. */
static const char *const ignored_subopts[] = {
    "tail_repair_time", "hash_algorithm", "lru_crawler_sleep", "lru_crawler_tocrawl", "lru_maintainer",
    "no_lru_maintainer", "hot_lru_pct", "warm_lru_pct", "hot_max_factor", "warm_max_factor", "temporary_ttl",
    "slab_chunk_max", "watcher_logbuf_size", "worker_logbuf_size", "track_sizes", "no_hashexpand", "modern",
    "no_modern", "slab_reassign", "no_slab_reassign", "slab_automove", "slab_automove_ratio",
    "slab_automove_window", "slab_automove_freeratio", "read_buf_mem_limit", "resp_obj_mem_limit",
    "inline_ascii_resp", "no_inline_ascii_resp", "sock_cookie_id", NULL,
};

static bool parse_extended(char *list)
{
    char *save = NULL;
    for (char *opt = strtok_r(list, ",", &save); opt != NULL; opt = strtok_r(NULL, ",", &save)) {
        char *val = strchr(opt, '=');
        unsigned long long v;
        if (val != NULL)
            *val++ = '\0';
        if (strcmp(opt, "hashpower") == 0) {
            if (val == NULL || !parse_ull(val, 32, &v) || v < 12) {
                fprintf(stderr, "Initial hashtable multiplier of %s is too low or too high\n", val ? val : "");
                return false;
            }
            settings.hashpower_init = (unsigned)v;
        } else if (strcmp(opt, "idle_timeout") == 0) {
            if (val == NULL || !parse_ull(val, UINT_MAX, &v)) {
                fprintf(stderr, "Invalid idle_timeout\n");
                return false;
            }
            settings.idle_timeout = (unsigned)v;
        } else if (strcmp(opt, "maxconns_fast") == 0) {
            settings.maxconns_fast = true;
        } else if (strcmp(opt, "no_maxconns_fast") == 0) {
            settings.maxconns_fast = false;
        } else if (strcmp(opt, "lru_crawler") == 0) {
            settings.lru_crawler = true;
        } else if (strcmp(opt, "no_lru_crawler") == 0) {
            settings.lru_crawler = false;
        } else {
            bool known = false;
            for (const char *const *p = ignored_subopts; *p != NULL; p++)
                known = known || strcmp(*p, opt) == 0;
            if (!known) {
                if (val != NULL)
                    val[-1] = '=';
                fprintf(stderr, "Illegal suboption \"%s\"\n", opt);
                return false;
            }
            fprintf(stderr, "mcd: warning: -o %s has no effect in mcd (see memcached-compat.md)\n", opt);
        }
    }
    return true;
}

static bool check_ranges(void)
{
    if (settings.num_threads == 0) {
        fprintf(stderr, "Number of threads must be greater than 0\n");
        return false;
    }
    if (settings.maxconns == 0) {
        fprintf(stderr, "Maximum connections must be greater than 0\n");
        return false;
    }
    if (settings.factor <= 1.0) {
        fprintf(stderr, "Factor must be greater than 1\n");
        return false;
    }
    if (settings.chunk_size == 0) {
        fprintf(stderr, "Chunk size must be greater than 0\n");
        return false;
    }
    if (settings.reqs_per_event == 0) {
        fprintf(stderr, "Number of requests per event must be greater than 0\n");
        return false;
    }
    if (settings.item_size_max < 1024) {
        fprintf(stderr, "Item max size cannot be less than 1024 bytes.\n");
        return false;
    }
    if (settings.item_size_max > 1024u * 1024 * 1024) {
        fprintf(stderr, "Cannot set item size limit higher than 1 gigabyte.\n");
        return false;
    }
    if ((uint64_t)settings.maxbytes > STORE_MEM_LIMIT_MAX) {
        /* items are named by 32-bit handles of at most 256-byte granularity */
        fprintf(stderr, "Cannot set the memory limit higher than %llu megabytes (1 TB).\n",
                (unsigned long long)(STORE_MEM_LIMIT_MAX >> 20));
        return false;
    }
    if (settings.item_size_max > settings.maxbytes / 2) {
        fprintf(stderr, "Cannot set item size limit higher than 1/2 of memory max.\n");
        return false;
    }
    if (settings.port < 0 || settings.port > 65535) {
        fprintf(stderr, "Invalid port number %d\n", settings.port);
        return false;
    }
    if (settings.udpport != 0)
        fprintf(stderr, "mcd: warning: UDP is not supported; -U %d ignored\n", settings.udpport);
    return true;
}

enum settings_result settings_parse(int argc, char **argv)
{
    struct option longopts[NROWS + 1];
    char shortopts[NROWS * 2 + 2];
    size_t ns = 0;

    settings_defaults();
    for (size_t i = 0; i < NROWS; i++) {
        longopts[i] = (struct option){rows[i].long_name, takes_arg(rows[i].type) ? required_argument : no_argument,
                                      NULL, rows[i].short_opt};
        shortopts[ns++] = (char)rows[i].short_opt;
        if (takes_arg(rows[i].type))
            shortopts[ns++] = ':';
    }
    longopts[NROWS] = (struct option){NULL, 0, NULL, 0};
    shortopts[ns] = '\0';

    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        const struct setting_row *r = NULL;
        for (size_t i = 0; i < NROWS && r == NULL; i++)
            if (rows[i].short_opt == c)
                r = &rows[i];
        if (r == NULL) {
            fprintf(stderr, "Illegal argument \"%c\"\n", c);
            return SETTINGS_EXIT_USAGE;
        }
        if (c == 'o') {
            if (!parse_extended(optarg))
                return SETTINGS_EXIT_USAGE;
            continue;
        }
        if (!set_value(r, optarg)) {
            fprintf(stderr, "Invalid value for -%c (--%s): \"%s\"\n", c, r->long_name, optarg ? optarg : "");
            return SETTINGS_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "Unexpected argument \"%s\"\n", argv[optind]);
        return SETTINGS_EXIT_USAGE;
    }
    if (settings.help) {
        settings_usage(stdout);
        return SETTINGS_EXIT_OK;
    }
    if (settings.version) {
        printf("%s %s\n", PACKAGE_NAME, PACKAGE_VERSION);
        return SETTINGS_EXIT_OK;
    }
    return check_ranges() ? SETTINGS_RUN : SETTINGS_EXIT_USAGE;
}
