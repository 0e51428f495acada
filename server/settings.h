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
#define SETTING_CTYPE_MEGS size_t
#define SETTING_CTYPE_SIZE size_t
#define SETTING_CTYPE_DOUBLE double
#define SETTING_CTYPE_STR const char *
#define SETTING_CTYPE_OCTAL unsigned
#define SETTING_CTYPE_SET bool
#define SETTING_CTYPE_CLEAR bool
#define SETTING_CTYPE_COUNT int
#define SETTING_CTYPE_PROTO enum proto_binding

struct settings {
#define SETTING(field, type, sh, lname, def, help) SETTING_CTYPE_##type field;
#include "server/settings.def"
#undef SETTING
    /* extended (-o) options */
    unsigned hashpower_init;   /* 0: default */
    unsigned idle_timeout;     /* seconds; 0: never */
    bool maxconns_fast;
    bool lru_crawler;          /* background expiry sweep */
};

extern struct settings settings;

enum settings_result {
    SETTINGS_RUN = 0,   /* start the server */
    SETTINGS_EXIT_OK,   /* -h / -V done: exit 0 */
    SETTINGS_EXIT_USAGE /* bad flag: message printed; exit EX_USAGE */
};

/* Sets defaults, then parses argv. Prints errors to stderr. */
enum settings_result settings_parse(int argc, char **argv);
/* Writes the help text (`-h`). */
void settings_usage(FILE *out);
const char *settings_protocol_name(enum proto_binding b);

#endif /* MCD_SETTINGS_H */
