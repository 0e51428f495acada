/*
 * settings.h - the server's settings: one struct generated from
 * settings.def, filled once at startup by settings_parse() and read-only
 * afterwards (so threads read it without locks).
 */
#ifndef MCD_SETTINGS_H
#define MCD_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum proto_binding { PROTO_AUTO = 0, PROTO_ASCII, PROTO_BINARY };

#define SETTING_CTYPE_INT int
#define SETTING_CTYPE_UINT unsigned
#define SETTING_CTYPE_ULONG unsigned long
#define SETTING_CTYPE_ATOI int
#define SETTING_CTYPE_ATOF double
#define SETTING_CTYPE_MEGS size_t
#define SETTING_CTYPE_SIZE size_t
#define SETTING_CTYPE_DOUBLE double
#define SETTING_CTYPE_STR const char *
#define SETTING_CTYPE_OCTAL unsigned
#define SETTING_CTYPE_SET bool
#define SETTING_CTYPE_CLEAR bool
#define SETTING_CTYPE_COUNT int
#define SETTING_CTYPE_PROTO enum proto_binding
#define SETTING_CTYPE_BOOL bool

#define SETTINGS_STR_(x) #x
#define SETTINGS_XSTR(x) SETTINGS_STR_(x)

struct settings {
#define FLAG(field, type, sh, lname, def, bounds, stat, fmt, help) SETTING_CTYPE_##type field;
#define XOPT(field, type, key, def, bounds, stat, fmt, help) SETTING_CTYPE_##type field;
#define TUNE(field, type, key, def, bounds, stat, fmt) SETTING_CTYPE_##type field;
#include "server/settings.def"
};

extern struct settings settings;

/* settings_parse()'s "go on and start the server" (any other value is an
 * exit status). */
#define SETTINGS_RUN (-1)

/*
 * Sets every default, then parses argv (getopt_long; -o lists), checking
 * each value against its row's bounds as it is parsed. Returns SETTINGS_RUN,
 * or the status main() exits with: 0 after -h/-V; for a bad flag the status
 * memcached 1.6.45 exits with (1 or EX_USAGE), its message printed on
 * stderr. May be called more than once (tests); keeps pointers into argv.
 */
int settings_parse(int argc, char **argv);
/* Writes the help text (`-h`): every FLAG, XOPT, TUNE and IGNORED row. */
void settings_usage(FILE *out);
/* memcached's temp_lru: on once -o temporary_ttl was given. */
bool settings_temp_lru(void);
const char *settings_protocol_name(enum proto_binding b);

#endif /* MCD_SETTINGS_H */
