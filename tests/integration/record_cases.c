/*
 * record_cases.c - replays the requests of a case table against the real
 * memcached and rewrites the table with the replies it gave.
 *
 * Usage: record_cases IN.cases [OUT.cases]   (OUT defaults to IN)
 * The binary is $MEMCACHED_BIN, else the oracle the build points at
 * (memcached 1.6.45, mcd_oracle_bin()); it is started with its defaults,
 * exactly as test_text_cases starts the server under test. Never run it on
 * text-mcd.cases: that table holds mcd's deliberate differences.
 * CAS numbers and the version string are recorded as {cas} and {str}.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "tests/lib/cases.h"
#include "tests/lib/harness.h"

int main(int argc, char **argv)
{
    struct mcd_case_file *f;
    struct mcd_server *srv;
    const char *bin = mcd_oracle_bin();
    char **replies;
    size_t *lens;
    bool *closed;
    int rc = 0;

    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s IN.cases [OUT.cases]\n", argv[0]);
        return 2;
    }
    if (bin == NULL) {
        fprintf(stderr, "memcached not found (set MEMCACHED_BIN)\n");
        return 2;
    }
    f = mcd_cases_load(argv[1]);
    if (f == NULL)
        return 1;
    srv = mcd_start_bin(bin, NULL);
    if (srv == NULL)
        return 1;
    replies = calloc(f->n, sizeof(*replies));
    lens = calloc(f->n, sizeof(*lens));
    closed = calloc(f->n, sizeof(*closed));
    if (replies == NULL || lens == NULL || closed == NULL)
        return 1;
    for (size_t i = 0; i < f->n; i++) {
        struct mcd_conn *c = mcd_conn_open(srv);
        bool synced;
        size_t rawlen;
        char *raw;

        if (c == NULL) {
            fprintf(stderr, "case %s: cannot connect\n", f->cases[i].name);
            rc = 1;
            break;
        }
        raw = mcd_case_collect(c, &f->cases[i], &rawlen, &closed[i], &synced);
        if (!synced && !closed[i]) {
            fprintf(stderr, "case %s: no sync reply (left the connection mid-command?)\n", f->cases[i].name);
            rc = 1;
        }
        replies[i] = mcd_reply_normalize(raw, rawlen, &lens[i]);
        free(raw);
        mcd_conn_close(c);
    }
    mcd_stop(srv);
    if (rc == 0 && !mcd_cases_write(f, argc == 3 ? argv[2] : argv[1], replies, lens, closed))
        rc = 1;
    for (size_t i = 0; i < f->n; i++)
        free(replies[i]);
    free(replies);
    free(lens);
    free(closed);
    mcd_cases_free(f);
    return rc;
}
