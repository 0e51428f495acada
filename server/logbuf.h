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
 */
#ifndef MCD_LOGBUF_H
#define MCD_LOGBUF_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOGBUF_SIZE (64 * 1024)     /* bytes per ring (memcached's worker_logbuf_size) */
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
    char data[LOGBUF_SIZE];
};

/* A zeroed ring. NULL when out of memory. */
struct logbuf *logbuf_create(void);
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
