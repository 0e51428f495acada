/*
 * logbuf.h - one thread's ring of log records for `watch`: a bounded,
 * single-producer single-consumer byte ring. The producer is the thread
 * that owns it (a worker, or any thread that logs, each gets its own); the
 * consumer is the watch logger thread (server/watch.c). No lock: the
 * producer publishes with a release store of `tail`, the consumer frees
 * space with a release store of `head`. A record that does not fit is
 * dropped and counted, so a slow logger never blocks the producer.
 *
 * A record is a struct logbuf_rec header followed by `len` bytes of text,
 * padded to 8 bytes; a header with len LOGBUF_WRAP tells the consumer to
 * go on from the start of the ring.
 *
 * The ring's size is chosen when it is created (watch.c: -o
 * worker_logbuf_size) and is a power of two, LOGBUF_MIN_SIZE to
 * LOGBUF_MAX_SIZE: logbuf_ring_size() turns a wish into one. A record takes
 * at most half the ring, so the smallest ring still takes a record of
 * LOGBUF_REC_MAX text bytes.
 */
#ifndef MCD_LOGBUF_H
#define MCD_LOGBUF_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOGBUF_DEFAULT_SIZE (64 * 1024)  /* memcached's worker_logbuf_size default, 64 KB */
#define LOGBUF_MIN_SIZE (4 * 1024)       /* holds two records of LOGBUF_REC_MAX text bytes */
#define LOGBUF_MAX_SIZE (1024ul * 1024 * 1024) /* 1 GB */
#define LOGBUF_REC_MAX 1024              /* the longest text the smallest ring takes (watch.c's lines) */
#define LOGBUF_WRAP UINT32_MAX

struct logbuf_rec {
    uint32_t len;                  /* text bytes, or LOGBUF_WRAP */
    uint32_t stream;               /* one WATCH_* bit (server/watch.h) */
    int64_t sec;                   /* when it was logged */
    int64_t usec;
};

struct logbuf {
    _Atomic uint64_t tail;         /* bytes ever written (producer) */
    char pad1[56];
    _Atomic uint64_t head;         /* bytes ever consumed (consumer) */
    char pad2[56];
    _Atomic uint64_t dropped;      /* records that did not fit (producer) */
    _Atomic bool dead;             /* its thread exited: drain, then free (consumer) */
    uint64_t res_pos;              /* producer: where the reserved record starts */
    struct logbuf *next;           /* the registry's list (watch.c, under its lock) */
    size_t size;                   /* bytes of data: a power of two, set at creation */
    char data[];                   /* 8-aligned (logbuf.c checks) */
};

/*
 * The ring size for a wish of `bytes`: rounded up to a power of two, then
 * held to LOGBUF_MIN_SIZE .. LOGBUF_MAX_SIZE (0 gives the minimum).
 */
size_t logbuf_ring_size(uint64_t bytes);

/* A zeroed ring of logbuf_ring_size(size) bytes of data (so any size
 * will do). NULL when out of memory. */
struct logbuf *logbuf_create(size_t size);
void logbuf_destroy(struct logbuf *b);

/*
 * Producer: room for a record of up to `max` text bytes. Returns where to
 * write the text, or NULL when the ring has no room (the record is then
 * dropped and counted). logbuf_commit() publishes it with its real length
 * (<= max).
 */
char *logbuf_reserve(struct logbuf *b, size_t max);
void logbuf_commit(struct logbuf *b, size_t len, uint32_t stream, int64_t sec, int64_t usec);

/*
 * Consumer: the next record (its header, and its text in *text), or NULL
 * when the ring is empty. logbuf_next_done() releases its space.
 */
const struct logbuf_rec *logbuf_peek(struct logbuf *b, const char **text);
void logbuf_next_done(struct logbuf *b, const struct logbuf_rec *r);

#endif /* MCD_LOGBUF_H */
