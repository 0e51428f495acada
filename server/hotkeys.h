/*
 * hotkeys.h - the most requested keys over the recent window of gets
 * (`stats hotkeys [N]`, the Prometheus endpoint).
 *
 * Each thread samples its gets (about one in HOTKEYS_SAMPLE_MEAN, at
 * random intervals drawn from a per-thread generator, so periodic traffic
 * does not alias) into its own space-saving summary of HOTKEYS_PER_THREAD
 * keys; a sample weighs the number of gets since the previous one, so a
 * count estimates gets, not samples. Counts halve every
 * HOTKEYS_HALF_LIFE seconds (of the server's clock), so a key that went
 * cold fades out. hotkeys_top() merges the threads' summaries: the same
 * key's counts add up.
 *
 * Threads: each summary has a mutex that only its own thread (once per
 * sample, uncontended) and readers (`stats`) take; no lock shared by the
 * threads is taken on the request path.
 */
#ifndef MCD_HOTKEYS_H
#define MCD_HOTKEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/proto.h"
#include "server/stats.h"

#define HOTKEYS_SAMPLE_MEAN 64
#define HOTKEYS_PER_THREAD 128
#define HOTKEYS_HALF_LIFE 30 /* seconds */
#define HOTKEYS_DEFAULT 10   /* `stats hotkeys` without N */
#define HOTKEYS_MAX 100      /* the largest N */

struct hotkey {
    char key[PROTO_KEY_MAX + 1]; /* nkey bytes, then a NUL (the key may hold any byte) */
    size_t nkey;
    bool binary;                 /* a meta key sent base64-encoded (b flag): a different key */
    uint64_t count;              /* estimated gets in the recent window */
};

/* Up to n of the hottest keys, highest count first, into out[0..]; returns
 * how many. Takes each thread's summary lock in turn (never two). */
size_t hotkeys_top(struct hotkey *out, size_t n);

/* `stats hotkeys [N]`: args is the whole group line ("hotkeys 20").
 * STATS_GROUP_OK with up to N lines "STAT hotkey <key> <count>" (a binary
 * key, or one with bytes a STAT line cannot carry, base64-encoded and
 * followed by " b", as meta's k flag shows it), or STATS_GROUP_BAD_ARGS
 * when N is not a number from 1 to HOTKEYS_MAX or more words follow. */
enum stats_group_status hotkeys_stats(const char *args, size_t len, stats_emit_fn emit, void *ctx);

/* `stats reset`: every summary starts empty. */
void hotkeys_reset(void);

/* On (the default) unless `-o no_hotkeys`; set before the workers start. */
void hotkeys_set_enabled(bool on);

/* ---- the request path ---- */

/* Gets until this thread's next sample (thread-local). */
extern _Thread_local uint32_t hotkeys_countdown;

/* The slow half of hotkeys_sample(): adds a sample, draws the next interval. */
void hotkeys_add(const char *key, size_t nkey, bool binary);

/* One get of a key (each key of a multi-key get; mg): a decrement, and one
 * time in HOTKEYS_SAMPLE_MEAN a call. */
static inline void hotkeys_sample(const char *key, size_t nkey, bool binary)
{
    if (--hotkeys_countdown == 0)
        hotkeys_add(key, nkey, binary);
}

#endif /* MCD_HOTKEYS_H */
