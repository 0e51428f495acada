/*
 * settings.c - defaults, getopt and `-o` parsing, range checks and help
 * text, all expanded from settings.def so that an option is declared in
 * exactly one row (`stats settings` is expanded from the same rows in
 * stats.c). Runs once in main() before any thread starts; exits nothing
 * itself (returns the exit status for main to act on).
 */
#include "config.h"

#include "server/settings.h"
#include "store/store.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

struct settings settings;

enum setting_type {
    T_INT, T_UINT, T_ULONG, T_ATOI, T_ATOF, T_MEGS, T_SIZE, T_DOUBLE, T_STR, T_OCTAL, T_SET, T_CLEAR, T_COUNT,
    T_PROTO, T_BOOL
};

/* A row's range check (settings.def: NO_BOUNDS, ABOVE, RANGE). */
struct bounds {
    bool checked;
    bool lo_open;       /* value must be > lo (ABOVE), else >= lo */
    double lo, hi;
    int status;         /* exit status when out of range */
    const char *msg_lo; /* printed with the argument for %s; NULL: generic */
    const char *msg_hi;
};

#define NO_BOUNDS {.checked = false}
#define ABOVE(lo_, st_, msg_) {.checked = true, .lo_open = true, .lo = (lo_), .hi = HUGE_VAL, .status = (st_), \
                               .msg_lo = (msg_), .msg_hi = (msg_)}
#define RANGE_OPEN(lo_, hi_, st_, msg_) {.checked = true, .lo_open = true, .lo = (lo_), .hi = (double)(hi_), \
                                        .status = (st_), .msg_lo = (msg_), .msg_hi = (msg_)}
#define RANGE(lo_, hi_, st_, mlo_, mhi_) {.checked = true, .lo = (lo_), .hi = (double)(hi_), .status = (st_), \
                                          .msg_lo = (mlo_), .msg_hi = (mhi_)}

struct option_row {
    int short_opt;          /* FLAG rows; 0 for XOPT rows */
    const char *name;       /* --long-name, or the -o key */
    enum setting_type type;
    void *field;
    struct bounds bounds;
    const char *help;
    bool tune;              /* TUNE: memcached's tuning, no effect in mcd */
};

static const struct option_row flags[] = {
#define FLAG(field_, type_, sh, lname, def, bounds_, stat, fmt, help_) \
    {sh, lname, T_##type_, &settings.field_, bounds_, help_, false},
#include "server/settings.def"
};
#define NFLAGS (sizeof(flags) / sizeof(flags[0]))

static const struct option_row xopts[] = {
#define XOPT(field_, type_, key, def, bounds_, stat, fmt, help_) \
    {0, key, T_##type_, &settings.field_, bounds_, help_, false},
#define TUNE(field_, type_, key, def, bounds_, stat, fmt) \
    {0, key, T_##type_, &settings.field_, bounds_, NULL, true},
#include "server/settings.def"
};
#define NXOPTS (sizeof(xopts) / sizeof(xopts[0]))

static const char *const ignored_xopts[] = {
#define IGNORED(key) key,
#include "server/settings.def"
    NULL,
};

static void settings_defaults(void)
{
#define FLAG(field_, type, sh, lname, def, bounds, stat, fmt, help) settings.field_ = def;
#define XOPT(field_, type, key, def, bounds, stat, fmt, help) settings.field_ = def;
#define TUNE(field_, type, key, def, bounds, stat, fmt) settings.field_ = def;
#include "server/settings.def"
}

static bool temp_lru;

bool settings_temp_lru(void)
{
    return temp_lru;
}

static bool takes_arg(enum setting_type t)
{
    return t != T_SET && t != T_CLEAR && t != T_COUNT && t != T_BOOL;
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
    char lhs[64];
    size_t col = 0;

    fprintf(out, "%s %s\n", PACKAGE_NAME, PACKAGE_VERSION);
    for (size_t i = 0; i < NFLAGS; i++) {
        const struct option_row *r = &flags[i];
        snprintf(lhs, sizeof(lhs), "-%c, --%s%s", r->short_opt, r->name, takes_arg(r->type) ? "=<arg>" : "");
        fprintf(out, "%-34s %s\n", lhs, r->help);
    }
    fprintf(out, "Extended options (-o, comma separated):\n");
    for (size_t i = 0; i < NXOPTS; i++) {
        const struct option_row *r = &xopts[i];
        if (r->tune)
            continue;
        if (r->type == T_BOOL)
            snprintf(lhs, sizeof(lhs), "%s, no_%s", r->name, r->name);
        else
            snprintf(lhs, sizeof(lhs), "%s=<arg>", r->name);
        fprintf(out, "   %-31s %s\n", lhs, r->help);
    }
    fprintf(out, "Accepted with no effect (they tune memcached's own machinery):\n");
    for (size_t i = 0; i < NXOPTS + (sizeof(ignored_xopts) / sizeof(ignored_xopts[0]) - 1); i++) {
        const char *name = i < NXOPTS ? xopts[i].name : ignored_xopts[i - NXOPTS];
        if (i < NXOPTS && !xopts[i].tune)
            continue;
        for (int neg = 0; neg < (i < NXOPTS && xopts[i].type == T_BOOL ? 2 : 1); neg++) {
            if (col > 0 && col + 1 + strlen(name) + (neg ? 3 : 0) > 76) {
                fputc('\n', out);
                col = 0;
            }
            col += (size_t)fprintf(out, "%s%s%s", col == 0 ? "   " : " ", neg ? "no_" : "", name);
        }
    }
    if (col > 0)
        fputc('\n', out);
}

/* Prints msg with its one "%s" (if any) replaced by arg, then a newline. */
static void print_msg(const char *msg, const char *arg)
{
    const char *pct = strstr(msg, "%s");
    if (pct == NULL)
        fprintf(stderr, "%s\n", msg);
    else
        fprintf(stderr, "%.*s%s%s\n", (int)(pct - msg), msg, arg, pct + 2);
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

/* memcached's strtoul for option values: digits after an optional sign,
 * blanks after them; a value that reads negative is refused ("-0" is 0). */
static bool parse_mc_ulong(const char *s, unsigned long *out)
{
    char *end;
    if (s == NULL || *s == '\0' || *s == ' ' || *s == '\t')
        return false;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || end == s)
        return false;
    for (const char *e = end; *e != '\0'; e++)
        if (*e != ' ' && *e != '\t' && *e != '\n')
            return false;
    if ((long)v < 0 && strchr(s, '-') != NULL)
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

/* Stores arg into r's field; false when arg is not a value of r's type. */
static bool set_value(const struct option_row *r, const char *arg)
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
    case T_ULONG:
        return parse_mc_ulong(arg, (unsigned long *)r->field);
    case T_ATOI:
        *(int *)r->field = atoi(arg); /* as memcached reads these: "2k" is 2, "x" is 0 */
        return true;
    case T_ATOF:
        *(double *)r->field = atof(arg);
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
        if (errno || *end || end == arg || isnan(d))
            return false;
        *(double *)r->field = d;
        return true;
    case T_STR:
        *(const char **)r->field = arg;
        return true;
    case T_OCTAL:
        errno = 0;
        unsigned long o = strtoul(arg, &end, 8);
        if (errno || *end || end == arg || o > UINT_MAX)
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
    case T_BOOL:
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

/* The numeric value of r's field, for its bounds. */
static double field_value(const struct option_row *r)
{
    switch (r->type) {
    case T_INT:
    case T_ATOI: return *(const int *)r->field;
    case T_ULONG: return (double)*(const unsigned long *)r->field;
    case T_ATOF:
    case T_DOUBLE: return *(const double *)r->field;
    case T_UINT:
    case T_OCTAL: return *(const unsigned *)r->field;
    case T_MEGS:
    case T_SIZE: return (double)*(const size_t *)r->field;
    default: return 0;
    }
}

/* Checks r's freshly set field against its bounds: SETTINGS_RUN, or the
 * row's exit status (message printed). */
static int check_bounds(const struct option_row *r, const char *arg)
{
    const struct bounds *b = &r->bounds;
    if (!b->checked)
        return SETTINGS_RUN;
    double v = field_value(r);
    bool low = b->lo_open ? v <= b->lo : v < b->lo;
    if (!low && v <= b->hi)
        return SETTINGS_RUN;
    const char *msg = low ? b->msg_lo : b->msg_hi;
    if (msg != NULL)
        print_msg(msg, arg);
    else if (r->short_opt != 0)
        fprintf(stderr, "Invalid value for -%c (--%s): \"%s\"\n", r->short_opt, r->name, arg);
    else
        fprintf(stderr, "Invalid value for -o %s: \"%s\"\n", r->name, arg);
    return b->status;
}

/* memcached 1.6.45's words for an option given without its value. */
static const char *missing_words(const char *key)
{
    static const char *const numeric[] = {"hashpower", "idle_timeout", "tail_repair_time"};
    for (size_t i = 0; i < sizeof(numeric) / sizeof(numeric[0]); i++)
        if (strcmp(key, numeric[i]) == 0)
            return "Missing numeric argument for %s\n";
    if (strcmp(key, "lru_crawler_sleep") == 0 || strcmp(key, "lru_crawler_tocrawl") == 0)
        return "Missing %s value\n";
    return "Missing %s argument\n";
}

/* A value set_value() could not read: the status, the message printed.
 * memcached's own options say 1.6.45's words; mcd's own options, and the
 * flags mcd reads strictly where 1.6.45 reads them with atoi, say
 * "Invalid value" (memcached-compat.md, "Command-line flags"). */
static int unparsable(const struct option_row *r, const char *val)
{
    if (r->field == &settings.lru_crawler_tocrawl) {
        fprintf(stderr, "lru_crawler_tocrawl takes a numeric 32bit value\n");
        return 1;
    }
    if (r->tune || r->type == T_ULONG || strncmp(r->name, "ssl_", 4) == 0) {
        fprintf(stderr, "could not parse argument to %s\n", r->name);
        return 1;
    }
    fprintf(stderr, "Invalid value for -o %s: \"%s\"\n", r->name, val);
    return EX_USAGE;
}

/* Checks a value its row's bounds cannot: SETTINGS_RUN or the status. */
static int check_value(const struct option_row *r, const char *val)
{
    if (r->field == &settings.hash_algorithm && strcmp(val, "jenkins") != 0 && strcmp(val, "murmur3") != 0 &&
        strcmp(val, "xxh3") != 0) {
        fprintf(stderr, "Unknown hash_algorithm option (jenkins, murmur3, xxh3)\n");
        return 1;
    }
    if (r->field == &settings.temporary_ttl)
        temp_lru = true;
    return SETTINGS_RUN;
}

/* The -o options to warn about (no effect in mcd), said only once the
 * whole command line is accepted. Names point into argv. */
#define SETTINGS_MAX_WARNINGS 64
static const char *no_effect[SETTINGS_MAX_WARNINGS];
static size_t n_no_effect;

static void warn_no_effect(const char *key)
{
    if (n_no_effect < SETTINGS_MAX_WARNINGS)
        no_effect[n_no_effect++] = key;
}

/* One -o list: SETTINGS_RUN or an exit status (message printed). */
static int parse_extended(char *list)
{
    char *save = NULL;
    for (char *opt = strtok_r(list, ",", &save); opt != NULL; opt = strtok_r(NULL, ",", &save)) {
        char *val = strchr(opt, '=');
        const struct option_row *r = NULL;
        bool negated = false;
        if (val != NULL)
            *val++ = '\0';
        if (strcmp(opt, "ext_path") == 0) {
            fprintf(stderr, "-o ext_path: mcd has no external storage (extstore); it keeps items in memory only\n");
            return 1;
        }
        for (size_t i = 0; i < NXOPTS && r == NULL; i++) {
            if (strcmp(opt, xopts[i].name) == 0)
                r = &xopts[i];
            else if (xopts[i].type == T_BOOL && strncmp(opt, "no_", 3) == 0 && strcmp(opt + 3, xopts[i].name) == 0)
                r = &xopts[i], negated = true;
        }
        if (r != NULL && r->type == T_BOOL) {
            *(bool *)r->field = !negated; /* a value (maxconns_fast=1) is ignored, as memcached */
            if (r->tune)
                warn_no_effect(opt);
            continue;
        }
        if (r != NULL) {
            if (val == NULL && r->field == &settings.slab_automove) {
                settings.slab_automove = 1; /* bare: on, as 1.6.45 */
                continue;
            }
            if (val == NULL) {
                fprintf(stderr, missing_words(r->name), r->name);
                return 1;
            }
            if (!set_value(r, val))
                return unparsable(r, val);
            int st = check_bounds(r, val);
            if (st == SETTINGS_RUN)
                st = check_value(r, val);
            if (st != SETTINGS_RUN)
                return st;
            if (r->tune)
                warn_no_effect(opt);
            continue;
        }
        bool known = false;
        for (const char *const *p = ignored_xopts; *p != NULL && !known; p++)
            known = strcmp(*p, opt) == 0;
        if (!known) {
            if (val != NULL)
                val[-1] = '=';
            fprintf(stderr, "Illegal suboption \"%s\"\n", opt);
            return 1;
        }
        warn_no_effect(opt);
    }
    return SETTINGS_RUN;
}

/* -B was on the command line (-S and -Y pick the protocol otherwise). */
static bool protocol_given;

/* Checks between settings, once every flag is parsed. */
static int check_settings(void)
{
    if (settings.item_size_max > settings.maxbytes / 2) {
        fprintf(stderr, "Cannot set item size limit higher than 1/2 of memory max.\n");
        return EX_USAGE;
    }
    if (settings.hot_lru_pct + settings.warm_lru_pct > 80) {
        fprintf(stderr, "hot_lru_pct + warm_lru_pct cannot be more than 80%% combined\n");
        return EX_USAGE;
    }
    if (temp_lru && !settings.lru_maintainer) {
        fprintf(stderr, "temporary_ttl requires lru_maintainer to be enabled\n");
        return EX_USAGE;
    }
    /* -o slab_chunk_max, when given, against -I as 1.6.45 checks it (its
     * default, half a 1 MB page, is not held against a smaller -I: mcd
     * takes -I down to 1k; memcached-compat.md) */
    if (settings.slab_chunk_max > 0) {
        size_t chunk = (size_t)settings.slab_chunk_max * 1024;
        if (chunk > settings.item_size_max) {
            fprintf(stderr, "slab_chunk_max (bytes: %zu) cannot be larger than -I (item_size_max %zu)\n", chunk,
                    settings.item_size_max);
            return EX_USAGE;
        }
        if (settings.item_size_max % chunk != 0) {
            fprintf(stderr, "-I (item_size_max: %zu) must be evenly divisible by slab_chunk_max (bytes: %zu)\n",
                    settings.item_size_max, chunk);
            return EX_USAGE;
        }
    }
    /* 1.6.45 keeps the hash table above its item lock table, whose size
     * grows with -t (mcd has no such table; the rule stays so that a
     * command line means the same to both) */
    if (settings.hashpower_init != 0) {
        unsigned t = settings.num_threads;
        unsigned locks = t < 3 ? 10 : t < 4 ? 11 : t < 5 ? 12 : t <= 10 ? 13 : t <= 20 ? 14 : 15;
        if (settings.hashpower_init <= locks) {
            fprintf(stderr,
                    "Hash table power size (%u) cannot be equal to or less than item lock table (%u)\n"
                    "Item lock table grows with `-t N` (worker threadcount)\n"
                    "Hash table grows with `-o hashpower=N` \n",
                    settings.hashpower_init, locks);
            return 1;
        }
    }
    if ((unsigned)settings.num_napi_ids > settings.num_threads) {
        fprintf(stderr, "Number of napi_ids(%d) cannot be greater than number of threads(%u)\n",
                settings.num_napi_ids, settings.num_threads);
        return EX_USAGE;
    }
    if (settings.memory_file != NULL) {
        fprintf(stderr, "-e %s: mcd has no restartable cache in a memory file; it keeps items in memory only\n",
                settings.memory_file);
        return 1;
    }
    /* authentication, with memcached 1.6.45's checks and messages */
    if (settings.enable_sasl) {
        if (!protocol_given) {
            settings.binding_protocol = PROTO_BINARY;
        } else if (settings.binding_protocol != PROTO_BINARY) {
            fprintf(stderr, "ERROR: You cannot allow the ASCII protocol while using SASL.\n");
            return EX_USAGE;
        }
        if (settings.udpport != 0) {
            fprintf(stderr, "ERROR: Cannot enable UDP while using binary SASL authentication.\n");
            return EX_USAGE;
        }
    }
    if (settings.auth_file != NULL) {
        if (!protocol_given) {
            settings.binding_protocol = PROTO_ASCII;
        } else if (settings.binding_protocol != PROTO_ASCII) {
            fprintf(stderr, "ERROR: You cannot allow the BINARY protocol while using ascii authentication tokens.\n");
            return EX_USAGE;
        }
        if (settings.udpport != 0) {
            fprintf(stderr, "Cannot use UDP with ascii authentication enabled (-U 0 to disable)\n");
            return EX_USAGE;
        }
    }
    if (settings.ssl_enabled && settings.port == 0) {
        /* before loading anything, as 1.6.45 (with -s, the unix socket
         * stays plain and -Z is accepted) */
        fprintf(stderr, "ERROR: You cannot enable SSL without a TCP port.\n");
        return EX_USAGE;
    }
#ifndef HAVE_TLS
    if (settings.ssl_enabled) {
        fprintf(stderr, "This server is not built with TLS support.\n");
        return EX_USAGE;
    }
#endif
    return SETTINGS_RUN;
}

int settings_parse(int argc, char **argv)
{
    struct option longopts[NFLAGS + 1];
    char shortopts[NFLAGS * 2 + 2];
    size_t ns = 0;

    settings_defaults();
    for (size_t i = 0; i < NFLAGS; i++) {
        longopts[i] = (struct option){flags[i].name, takes_arg(flags[i].type) ? required_argument : no_argument,
                                      NULL, flags[i].short_opt};
        shortopts[ns++] = (char)flags[i].short_opt;
        if (takes_arg(flags[i].type))
            shortopts[ns++] = ':';
    }
    longopts[NFLAGS] = (struct option){NULL, 0, NULL, 0};
    shortopts[ns] = '\0';

    int c;
    bool inter_given = false;
    static char *inter_list; /* several -l: joined with ',' as memcached does */
    free(inter_list);
    inter_list = NULL;
    optind = 1;
    protocol_given = false;
    temp_lru = false;
    n_no_effect = 0;
    while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        const struct option_row *r = NULL;
        for (size_t i = 0; i < NFLAGS && r == NULL; i++)
            if (flags[i].short_opt == c)
                r = &flags[i];
        if (r == NULL) {
            fprintf(stderr, "Illegal argument \"%c\"\n", c);
            return 1;
        }
        if (c == 'B')
            protocol_given = true;
        if (c == 'o') {
            int st = parse_extended(optarg);
            if (st != SETTINGS_RUN)
                return st;
            continue;
        }
        if (c == 'l' && inter_given) {
            size_t n = strlen(settings.inter) + strlen(optarg) + 2;
            char *joined = malloc(n);
            if (joined == NULL)
                return 1;
            snprintf(joined, n, "%s,%s", settings.inter, optarg);
            free(inter_list);
            settings.inter = inter_list = joined;
            continue;
        }
        if (c == 'l')
            inter_given = true;
        if (!set_value(r, optarg)) {
            fprintf(stderr, "Invalid value for -%c (--%s): \"%s\"\n", c, r->name, optarg ? optarg : "");
            return EX_USAGE;
        }
        int st = check_bounds(r, optarg);
        if (st != SETTINGS_RUN)
            return st;
    }
    if (optind < argc) {
        fprintf(stderr, "Unexpected argument \"%s\"\n", argv[optind]);
        return EX_USAGE;
    }
    if (settings.help) {
        settings_usage(stdout);
        return 0;
    }
    if (settings.version) {
        printf("%s %s\n", PACKAGE_NAME, PACKAGE_VERSION);
        return 0;
    }
    int st = check_settings();
    for (size_t i = 0; st == SETTINGS_RUN && i < n_no_effect; i++)
        fprintf(stderr, "mcd: warning: -o %s has no effect in mcd (see memcached-compat.md)\n", no_effect[i]);
    return st;
}
