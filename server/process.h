/*
 * process.h - the command layer: executes one parsed request (text, binary
 * or meta) against the store and appends its replies to a reply builder,
 * through a small context instead of the connection. The connection owns
 * the bytes and the I/O (server/conn.c); the command layer owns what a
 * request means. It never asks which protocol a classic request came in:
 * the context's encoder table (proto.h) words every outcome.
 *
 * Plain code over plain buffers: no socket, no libevent, so it runs the same
 * in a worker, in unit tests and in the request-path fuzz target. Runs on
 * the caller's thread and counts into the counters the context names.
 */
#ifndef MCD_PROCESS_H
#define MCD_PROCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/meta.h"
#include "proto/proto.h"

struct item;
struct reply;
struct store_tstats;
struct worker_tstats;

/* A parsed request: a classic one (text or binary) or a meta one. */
struct request {
    enum request_kind { REQUEST_CLASSIC, REQUEST_META } kind;
    struct mc_request mc;          /* REQUEST_CLASSIC */
    struct meta_request meta;      /* REQUEST_META */
};

/* Everything a command may touch. */
struct request_ctx {
    /* set by the caller */
    const struct mc_encoder *enc;  /* how classic outcomes are worded (text or binary) */
    struct reply *out;             /* replies are appended here */
    size_t out_cap;                /* a get of many keys stops between two keys once
                                      reply_weight(out) reaches this (PROCESS_MORE) */
    struct store_tstats *ts;       /* the thread's store counters */
    struct store_tstats *uncounted; /* internal store calls that must not show in stats */
    struct worker_tstats *ws;      /* the thread's server counters */
    size_t mget_pos;               /* in and out: the key a get line resumes at (0: first) */
    struct admin_job *job;         /* a dump under way (process_admin.c): the request
                                      returns PROCESS_MORE and is resumed as a get line */
    int cfd;                       /* the connection's socket, as `watch` lines name it */
    /* set by the command */
    bool broken;                   /* a reply could not be buffered (out of memory): close
                                      the connection once what is buffered is out */
    struct item *value_item;       /* PROCESS_NREAD: read the value into this item */
    size_t swallow;                /* PROCESS_SWALLOW: value bytes to drop (the
                                      protocol's terminator, if any, not counted) */
    uint32_t watch_streams;        /* PROCESS_WATCH: the TEXT_WATCH_* streams asked for */
};

enum process_next {
    PROCESS_CONTINUE = 0,  /* request done; parse the next one */
    PROCESS_NREAD,         /* a storage command: read the value into x->value_item, then
                              call process_value() with the same request */
    PROCESS_SWALLOW,       /* drop x->swallow value bytes (and the terminator), then continue */
    PROCESS_CLOSE,         /* close the connection after flushing replies */
    PROCESS_SHUTDOWN,      /* shutdown: stop the server now */
    PROCESS_GRACEFUL,      /* shutdown graceful: stop as on SIGUSR1 */
    PROCESS_MORE,          /* a get of many keys stopped at x->out_cap: call again with
                              the same request (and x->mget_pos) once output drains */
    PROCESS_WATCH,         /* watch: hand the connection to the logger as a watcher
                              of x->watch_streams (server/watch.h); nothing replied yet */
};

struct admin_job;

/* Frees what the context holds for a request cut short (a dump under way):
 * when the session goes. */
void process_ctx_release(struct request_ctx *x);

/* Executes one parsed request. */
enum process_next process_request(struct request_ctx *x, const struct request *req);

/* The value of a storage request (text, binary or ms) has been read into
 * `it` (the x->value_item of its PROCESS_NREAD); `chunk_ok` is false when the
 * bytes after it were not "\r\n". Links it (or not) and replies; releases
 * the caller's reference to it. */
void process_value(struct request_ctx *x, const struct request *req, struct item *it, bool chunk_ok);

#endif /* MCD_PROCESS_H */
