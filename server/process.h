/*
 * process.h - the command layer: executes a protocol-neutral request
 * against the store and hands each outcome to the connection's encoder.
 * Shared by every front end (text now; binary and meta plug in here).
 * Runs on the connection's worker thread; counts into that worker's stats.
 */
#ifndef MCD_PROCESS_H
#define MCD_PROCESS_H

#include "proto/proto.h"

struct conn;

enum process_next {
    PROCESS_CONTINUE = 0,  /* request done; parse the next one */
    PROCESS_NREAD,         /* a storage command: conn must read the value (c->nread_*) */
    PROCESS_SWALLOW,       /* drop c->swallow_left bytes of input, then continue */
    PROCESS_CLOSE,         /* close the connection after flushing replies */
    PROCESS_SHUTDOWN,      /* shutdown: stop the server */
    PROCESS_MORE,          /* a multi-key get stopped at the output cap (conn_out_full);
                              call again with the same request once output drains
                              (it resumes at c->mget_pos) */
};

/* Executes one parsed request. */
enum process_next process_request(struct conn *c, const struct mc_request *req);
/* Called by the connection once the value of a storage command (and its
 * terminator) has been read into c->nread_it. */
void process_complete_nread(struct conn *c);

#endif /* MCD_PROCESS_H */
