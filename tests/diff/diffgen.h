/*
 * diffgen.h - the generative differential tester's shared types: a request,
 * a sequence of requests cut into batches, the flag sets, the random source,
 * the per-server CAS map and the entry points of its four parts:
 *
 *   gen.c     builds random request sequences (text, meta, binary; valid and
 *             malformed) from a seed
 *   norm.c    turns one server's raw reply bytes into a comparable form
 *             (CAS numbers mapped to first-seen order, version and TTL
 *             tokens masked) and learns the CAS map on the way
 *   run.c     plays a sequence to one server: CAS placeholders filled from
 *             that server's map, random-size chunks, a sentinel after each
 *             batch read back before the next batch goes out
 *   shrink.c  reduces a diverging sequence while it keeps diverging the same
 *             way
 *   diffgen.c the driver: flag sets, servers, the pass/fail policy, reports
 *
 * Nothing here is thread-safe; the tester is one thread.
 */
#ifndef MCD_DIFFGEN_H
#define MCD_DIFFGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tests/lib/buf.h"

struct mcd_server;

/* The protocol a sequence speaks on its one connection. */
enum dg_mode { DG_TEXT, DG_BINARY };

/* What a server's own -B says the connection will be (from the flag set). */
enum dg_proto { DG_AUTO, DG_ONLY_BINARY, DG_ONLY_ASCII };

struct dg_flagset {
    const char *name;         /* e.g. "-B ascii"; printed in reports */
    const char *args[8];      /* NULL-terminated extra server arguments */
    enum dg_proto proto;
    bool big_values;          /* generate values near -I (1m or 2m) */
    long item_max;            /* -I in bytes */
    bool evictions;           /* small -m: big set+get pairs on fresh keys */
};

extern const struct dg_flagset dg_flagsets[];
extern const size_t dg_nflagsets;

/* xorshift64*: the whole run is reproducible from the seeds it prints. */
struct dg_rng {
    uint64_t s;
};
void dg_rng_seed(struct dg_rng *r, uint64_t seed);
uint64_t dg_rng_next(struct dg_rng *r);
/* Uniform in [0, n) (n > 0). */
uint32_t dg_rng_below(struct dg_rng *r, uint32_t n);
/* True with probability num/den. */
bool dg_rng_chance(struct dg_rng *r, uint32_t num, uint32_t den);

/*
 * One request. When cas_ref >= 0 the server's cas_ref-th distinct CAS value
 * (first-seen order, see norm.c) is filled in at send time: as decimal text
 * inserted at byte cas_off, or (cas_bin) as 8 big-endian bytes written over
 * b[cas_off..cas_off+8). A reference to a CAS the server has not shown yet
 * becomes DG_CAS_UNKNOWN.
 */
#define DG_CAS_UNKNOWN 987654321ull
struct dg_req {
    unsigned char *b;
    size_t len;
    int cas_ref;
    size_t cas_off;
    bool cas_bin;
    const char *cls;     /* command class, e.g. "text.get", "bin.malformed" */
    bool batch_end;      /* a sentinel follows this request */
};

struct dg_seq {
    enum dg_mode mode;
    struct dg_req *reqs;
    size_t n, cap;
    uint64_t chunk_seed; /* send-chunk sizes; 0 = every batch in one send() */
};

void dg_seq_free(struct dg_seq *s);
/* Deep copy. */
void dg_seq_copy(struct dg_seq *dst, const struct dg_seq *src);
/* Appends a deep copy of r. */
void dg_seq_push(struct dg_seq *s, const struct dg_req *r);

/* gen.c: also generate the divergences memcached-compat.md documents. */
extern bool dg_gen_documented;
/* gen.c: comma-separated tokens; a text request whose command line has one is left out. */
extern const char *dg_gen_avoid;

/*
 * gen.c: a random sequence for flag set fs; `prefix` starts every key.
 * With `only` (a comma-separated class list, see dg_class_in) the sequence
 * has no malformed request and only requests of those classes.
 */
void dg_generate(struct dg_seq *out, uint64_t seed, const struct dg_flagset *fs, const char *prefix,
                 const char *only);
/* True when cls is in the comma-separated list: equal to an entry, or an
 * entry followed by "." (so "text.get" covers "text.get.big"). */
bool dg_class_in(const char *cls, const char *list);

/* norm.c: a server's CAS values in first-seen order (0 maps to itself). */
struct dg_casmap {
    uint64_t *v;
    size_t n, cap;
};
void dg_casmap_free(struct dg_casmap *m);
/* Index of v, adding it when new. */
size_t dg_casmap_index(struct dg_casmap *m, uint64_t v);
/*
 * Appends the normalised form of raw[0..len) to out, learning CAS values
 * into m. Text replies stay text (CAS as "#N", VERSION masked, meta t/l
 * tokens masked); binary replies (first byte 0x81) become one line per
 * packet. Bytes that parse as neither are kept, escaped.
 */
void dg_normalize(const unsigned char *raw, size_t len, struct dg_casmap *m, struct mcd_buf *out);

/* run.c: how a sequence's replies ended on one server. */
enum dg_end { DG_END_SYNC, DG_END_EOF, DG_END_STALL };
extern const char *const dg_end_names[];

struct dg_result {
    struct mcd_buf norm;   /* normalised replies of all batches */
    struct mcd_buf raw;    /* raw reply bytes (sentinel replies removed) */
    enum dg_end end;
    size_t batches_done;
    size_t last_norm_from; /* where the last batch played begins in norm */
    size_t last_raw_from;  /* and in raw */
};
void dg_result_free(struct dg_result *r);

/*
 * Plays s on a fresh connection to srv, which runs under fs. Waits at most
 * stall_ms for each batch's sentinel. Returns false when it could not even
 * connect.
 */
bool dg_run(const struct mcd_server *srv, const struct dg_flagset *fs, const struct dg_seq *s, int stall_ms,
            struct dg_result *res);

/* The bytes of batch [from, to) of s with CAS placeholders filled from m. */
void dg_batch_bytes(const struct dg_seq *s, size_t from, size_t to, const struct dg_casmap *m, struct mcd_buf *out);

/* shrink.c / diffgen.c: a divergence and its signature. */
struct dg_verdict {
    bool differs;
    char sig[256];         /* first differing line of each side, digits masked */
    struct dg_result r[2]; /* [0] oracle, [1] server under test */
    bool exited[2];        /* the server process was gone after the run */
};
void dg_verdict_free(struct dg_verdict *v);

/*
 * Starts fresh servers (oracle and mcd) under fs, plays the nprefix
 * sequences of `prefix` (the state; their replies are not compared), then
 * s on both, stops them and fills v. Returns false when a server did not
 * start.
 */
bool dg_compare_fresh(const struct dg_flagset *fs, const struct dg_seq *prefix, size_t nprefix,
                      const struct dg_seq *s, int stall_ms, struct dg_verdict *v);
/* Starts bin (NULL = the server under test) under fs on a free port. */
struct mcd_server *dg_start(const char *bin, const struct dg_flagset *fs);
/* Compares two results already collected under fs (under a small -m only what must match: compare.c). */
void dg_judge(struct dg_verdict *v, const struct dg_flagset *fs);

/*
 * Shrinks s in place while dg_compare_fresh (after the nprefix sequences
 * of `prefix`) still reports the signature `sig`: drops requests, merges
 * batches, drops chunking, then shortens requests token by token. At most
 * max_tries comparisons.
 */
void dg_shrink(const struct dg_flagset *fs, const struct dg_seq *prefix, size_t nprefix, struct dg_seq *s,
               const char *sig, int stall_ms, int max_tries);
/*
 * A divergence that needs the state left by earlier sequences: drops the
 * prefix sequences (*prefix, *nprefix, reordered and cut in place; they
 * stay owned by the caller) that are not needed for `sig`, then tries to
 * merge what is left and s into one sequence on one connection (s becomes
 * it and *nprefix 0 when that still diverges the same way). Returns the
 * comparisons used.
 */
int dg_shrink_prefix(const struct dg_flagset *fs, struct dg_seq *prefix, size_t *nprefix, struct dg_seq *s,
                     const char *sig, int stall_ms, int max_tries);

#endif /* MCD_DIFFGEN_H */
