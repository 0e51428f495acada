/*
 * cases.h - byte-level request/reply tables (tests/integration/cases/NAME.cases).
 *
 * File format, one directive per line:
 *   # comment                 kept when the recorder rewrites the file
 *   === name                  starts a case (names are unique)
 *   > bytes                   one send() of the (escaped) bytes
 *   >1 bytes                  the same bytes sent one byte per send()
 *   < bytes                   expected reply; several "<" lines concatenate
 *   <close                    the server closes the connection after the reply
 * Escapes in bytes: \r \n \t \\ \{ \xHH, and {rep:N:c} = N copies of the
 * byte c. In replies, {cas} matches a CAS number (digits) and {str} a
 * non-empty rest of line (used for the version string).
 *
 * Each case runs on a fresh connection. After the case's sends a sync
 * sentinel (a noreply set of a private key then a get of it) marks the end
 * of the reply, so collecting a reply never waits for silence.
 */
#ifndef MCD_TEST_CASES_H
#define MCD_TEST_CASES_H

#include <stdbool.h>
#include <stddef.h>

struct mcd_conn;
struct mcd_server;

struct mcd_case_step {
    char *data;
    size_t len;
    bool bytewise;
};

struct mcd_case {
    char *name;
    int line;                    /* line of "=== name" */
    struct mcd_case_step *steps;
    size_t nsteps;
    char *expect;                /* pattern bytes (escapes resolved) */
    size_t elen;
    bool has_expect;             /* any "<" line seen */
    bool expect_close;
    char **raw;                  /* comments before, "===", ">" lines: verbatim */
    size_t nraw;
};

struct mcd_case_file {
    struct mcd_case *cases;
    size_t n;
    char **trailer;              /* comments after the last case */
    size_t ntrailer;
};

/* Loads and parses a table; NULL (with a message on stderr) on error. */
struct mcd_case_file *mcd_cases_load(const char *path);
void mcd_cases_free(struct mcd_case_file *f);

/*
 * Sends the case's steps on c, then the sync sentinel, and collects every
 * reply byte before the sentinel's reply (or up to EOF). Returns a malloc'd
 * buffer (NUL-terminated, *len bytes); *closed tells whether the server
 * closed the connection. *synced is false when the sentinel never came back
 * within the deadline (the reply is then whatever arrived).
 */
char *mcd_case_collect(struct mcd_conn *c, const struct mcd_case *k, size_t *len, bool *closed, bool *synced);

/*
 * Runs case k on a fresh connection to srv and compares with its expected
 * reply. On mismatch prints the case name, expected and actual (escaped).
 */
bool mcd_case_check(const struct mcd_server *srv, const struct mcd_case *k);

/*
 * Rewrites CAS numbers in VALUE lines to "{cas}" and the version string to
 * "{str}", walking data blocks by their length. Returns a malloc'd buffer.
 */
char *mcd_reply_normalize(const char *buf, size_t len, size_t *outlen);

/*
 * Writes f to path with the given recorded (already normalized) replies:
 * replies[i]/lens[i]/closed[i] for case i.
 */
bool mcd_cases_write(const struct mcd_case_file *f, const char *path, char *const *replies, const size_t *lens,
                     const bool *closed);

#endif /* MCD_TEST_CASES_H */
