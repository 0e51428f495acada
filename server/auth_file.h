/*
 * auth_file.h - the ASCII auth file (-Y FILE), as memcached 1.6.45 has it:
 * the table of `user:password` lines (loaded at startup, reloaded on
 * SIGHUP), the constant-time password check, and the handshake a text
 * connection must pass before any other command: a storage-shaped line
 * `set <key> <flags> <exptime> <len>` whose data block is `user pass`.
 *
 * The parsers work on plain buffers (no fd, no libevent): the session
 * calls auth_line_parse() on its read buffer, the fuzz targets call both.
 */
#ifndef MCD_AUTH_FILE_H
#define MCD_AUTH_FILE_H

#include <stdbool.h>
#include <stddef.h>

struct auth_table;

/*
 * Parses an auth file's bytes: one `user:password` entry a line (the user
 * is everything before the first ':', the password everything after it, a
 * trailing "\r" dropped; the last line may lack its "\n"). As 1.6.45, a
 * line without ':' (blank lines and `#` lines included) and a file with no
 * entry are malformed: NULL. NULL also when out of memory.
 */
struct auth_table *auth_table_parse(const char *buf, size_t len);
void auth_table_free(struct auth_table *t);
/* True when some entry has exactly this user and password. Every entry is
 * compared, each in time that depends on the offered user and password
 * lengths only (not on the stored ones, nor on where the bytes differ), so
 * the time taken tells a guesser nothing about the stored passwords. */
bool auth_table_check(const struct auth_table *t, const char *user, size_t ulen, const char *pass,
                      size_t plen);

/* 0 when the stored bytes e[0..ne) equal the offered o[0..no). The loop
 * runs over the offered bytes only (the stored ones read cyclically), so
 * the time depends on what the client sent, not on the stored length or on
 * where the bytes differ. */
unsigned auth_diff_bytes(const char *e, size_t ne, const char *o, size_t no);

/* Loads `path` as the server's table (startup). 0, or -1 with memcached's
 * message printed on stderr (the caller exits 1). */
int auth_file_setup(const char *path);
/* SIGHUP: rereads the file; a file that no longer loads keeps the old
 * table (logged). Main thread only. The table a worker may be reading is
 * retired, not freed, until auth_file_teardown(). */
void auth_file_reload(void);
void auth_file_teardown(void);
/* Installs t (owned from now on) as the server's table without a file:
 * for the unit tests and the fuzz target. */
void auth_file_use(struct auth_table *t);
/* Checks a user and password against the current table (any thread). */
bool auth_file_check(const char *user, size_t ulen, const char *pass, size_t plen);

/* Largest `user pass` block 1.6.45 takes: a longer one is refused with
 * "CLIENT_ERROR auth token too long" (its line consumed, nothing more). */
#define AUTH_TOKEN_MAX 16384
/* A line of fewer bytes than this before its "\n" closes the connection
 * (1.6.45: no such line can be the handshake). */
#define AUTH_LINE_MIN 6
/* Bytes with no "\n" after which the connection is closed. */
#define AUTH_LINE_MAX 2048

/* What the unauthenticated connection's next input is (auth_line_parse). */
enum auth_step {
    AUTH_NEED_MORE,       /* nothing complete yet */
    AUTH_CLOSE,           /* close at once, no reply */
    AUTH_UNAUTHENTICATED, /* any other line: "CLIENT_ERROR unauthenticated" */
    AUTH_TOO_LONG,        /* "CLIENT_ERROR auth token too long" (the line only) */
    AUTH_BAD_TERMINATION, /* the block is not followed by "\r\n" */
    AUTH_BAD_FORMAT,      /* the block holds no space */
    AUTH_TOKEN,           /* user and pass are in *tok: check them */
};

struct auth_token {
    const char *user, *pass;   /* point into the buffer */
    size_t ulen, plen;
};

/*
 * Looks at buf[0..len), the input of a connection not yet authenticated.
 * *consumed: the bytes the step used (0 for AUTH_NEED_MORE and AUTH_CLOSE).
 */
enum auth_step auth_line_parse(const char *buf, size_t len, size_t *consumed, struct auth_token *tok);

/* The reply line of a step (without "\r\n"; NULL for steps with none).
 * AUTH_TOKEN: `ok` says whether the check passed. */
const char *auth_step_reply(enum auth_step step, bool ok);

#endif /* MCD_AUTH_FILE_H */
