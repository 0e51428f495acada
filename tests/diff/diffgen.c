/*
 * diffgen.c - the generative differential tester's driver (a `make check`
 * program and, through tests/diff/diff-long.sh, a long-running hunter).
 *
 * For each flag set (seq.c) it starts memcached (the oracle) and the server
 * under test, plays generated sequences (gen.c) to both (run.c), and
 * compares the normalised replies (norm.c, compare.c). A difference is
 * confirmed on fresh servers, shrunk (shrink.c) unless its signature was
 * seen already, and printed as a C string with both replies, the flag set
 * and the seed that regenerates it.
 *
 * Each flag set gets two kinds of sequences:
 *   guard: well-formed requests of the classes in the fail list only
 *          (MCD_DIFFGEN_FAIL_CLASSES, comma-separated, or DEFAULT_FAIL_CLASSES
 *          below: the classes that already match memcached 1.6.45);
 *          MCD_DIFFGEN_GUARD_COUNT of them;
 *   hunt:  everything the generator makes, valid and malformed;
 *          MCD_DIFFGEN_COUNT of them.
 * Pass/fail policy (exit 1 = fail, 77 = skipped):
 *   - the server under test exiting (a crash) always fails;
 *   - a divergence in a guard sequence fails;
 *   - a divergence in a hunt sequence is printed (shrunk) and counted; it
 *     fails too unless MCD_DIFFGEN_STRICT=0 (strict is the default since
 *     the hunt came out clean across 25 seeds under every flag set).
 * A divergence that does not show on fresh servers is replayed after the
 * sequences the same server pair played before it (the state it needs),
 * and the shrinker drops the earlier sequences that are not needed and
 * tries to merge the rest into the diverging one.
 * What is not a divergence (compare.c): replies memcached holds when both
 * servers end a batch in the middle of a request; under a small -m,
 * whatever depends on which keys were evicted.
 *
 * Other knobs: MCD_DIFFGEN_SEED (base seed), MCD_DIFFGEN_FLAGS (comma-
 * separated flag set names, e.g. "default,-B ascii"), MCD_DIFFGEN_SECONDS
 * (repeat rounds until then), MCD_DIFFGEN_ROUND (the first round to play:
 * a report's seed names its round, and with it the state before it),
 * MCD_DIFFGEN_ROUNDS (play exactly that many rounds, whatever the time),
 * MCD_DIFFGEN_DRY=1 (generate and count, start no server: with the seed,
 * count and rounds of a finished run it counts that run's requests),
 * MCD_DIFFGEN_SEQSEED (play only the sequence
 * with that seed, from a report; with MCD_DIFFGEN_SEQGUARD=1 for a guard
 * one), MCD_DIFFGEN_SHRINK_TRIES, MCD_DIFFGEN_MAX_SHRINKS (new signatures
 * shrunk per run; later ones are reported unshrunk), MCD_DIFFGEN_STALL_MS,
 * MCD_DIFFGEN_REPORT (also append reports to this file), MCD_DIFFGEN_PRINT_MAX
 * (bytes of each request batch and reply printed, 1500),
 * MCD_DIFFGEN_AVOID (comma-separated tokens, e.g. "E77,s": leave out text and
 * meta requests whose command line has one, to look past a known divergence),
 * MCD_DIFFGEN_DOCUMENTED=1 (also generate the divergences memcached-compat.md
 * documents as memcached bugs not copied: unknown binary opcodes with
 * extras or a key, Touch/GAT/Stat with a body longer than extras + key,
 * a 251-byte key in a get line, `mg k T-1 t`).
 */
#include "config.h"

#include "tests/diff/diffgen.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/lib/harness.h"

/*
 * Classes that match memcached 1.6.45 today: all of them. A guard sequence
 * holds well-formed requests of these classes only (under every flag set);
 * text.junk and meta.junk are malformed by definition, so they appear in
 * hunt sequences only.
 */
static const char DEFAULT_FAIL_CLASSES[] = "text.storage,text.get,text.gat,text.arith,text.delete,text.touch,"
                                           "text.version,text.flush,text.verbosity,text.quit,text.junk,text.admin,"
                                           "meta.mn,meta.mg,meta.ms,meta.md,meta.ma,meta.junk,"
                                           "bin.get,bin.store,bin.delete,bin.arith,bin.noop,bin.version,"
                                           "bin.flush,bin.touch,bin.gat,bin.sasl,bin.unknown,bin.stat,bin.quit";

#define RESTART_EVERY 250

struct knobs {
    uint64_t seed;
    long count, guard_count;
    bool seqguard;
    double seconds;
    bool strict;
    const char *fail_classes;
    const char *flags;
    uint64_t seqseed;
    bool have_seqseed;
    long round0;
    bool dry;
    long rounds;
    int shrink_tries;
    int max_shrinks;
    int stall_ms;
    size_t print_max;
    FILE *report;
};

struct seen {
    char sig[256];
    char cls[48];
    char flagsets[160];
    unsigned hits;
    bool fails;
    bool shrunk;
};

static struct seen seen[512];
static size_t nseen;
static unsigned long unreproduced; /* diverged once, not on fresh servers even after the state */
static unsigned long requests;     /* in the sequences played (before any shrinking) */
static unsigned long crashes;      /* sequences after which the server under test was gone */
static struct knobs K;

static long env_long(const char *name, long dflt)
{
    const char *v = getenv(name);

    return v != NULL && *v != '\0' ? strtol(v, NULL, 0) : dflt;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    if (K.report != NULL) {
        va_start(ap, fmt);
        vfprintf(K.report, fmt, ap);
        va_end(ap);
    }
}

/* C-string escaping: \r \n \t \" \\, other bytes as 3-digit octal; cut at max. */
static char *c_escape(const unsigned char *p, size_t len, size_t max)
{
    struct mcd_buf b = {0};
    size_t n = len > max ? max : len;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        if (c == '\r')
            mcd_buf_add(&b, "\\r", 2);
        else if (c == '\n')
            mcd_buf_add(&b, "\\n", 2);
        else if (c == '\t')
            mcd_buf_add(&b, "\\t", 2);
        else if (c == '"' || c == '\\')
            mcd_buf_addf(&b, "\\%c", c);
        else if (c >= 0x20 && c < 0x7f)
            mcd_buf_addc(&b, c);
        else
            mcd_buf_addf(&b, "\\%03o", c);
    }
    if (n < len)
        mcd_buf_addf(&b, "\"...(%zu more bytes)", len - n);
    else
        mcd_buf_addc(&b, '"');
    if (b.p == NULL)
        mcd_buf_addc(&b, '"');
    return (char *)b.p;
}

static bool flagset_selected(const struct dg_flagset *fs)
{
    const char *list = K.flags;

    if (list == NULL || *list == '\0')
        return true;
    while (list != NULL && *list != '\0') {
        const char *e = strchr(list, ',');
        size_t n = e != NULL ? (size_t)(e - list) : strlen(list);

        if (strlen(fs->name) == n && strncmp(fs->name, list, n) == 0)
            return true;
        list = e != NULL ? e + 1 : NULL;
    }
    return false;
}

static struct seen *find_seen(const char *sig)
{
    for (size_t i = 0; i < nseen; i++)
        if (strcmp(seen[i].sig, sig) == 0)
            return &seen[i];
    return NULL;
}

/* The batches of s as C strings, "<CAS#n at +off>" where a placeholder goes. */
static void print_batches(const struct dg_seq *s, const char *indent)
{
    size_t batches = 0, from = 0, b = 0;

    for (size_t i = 0; i < s->n; i++)
        batches += s->reqs[i].batch_end;
    for (size_t i = 0; i < s->n; i++) {
        if (!s->reqs[i].batch_end)
            continue;
        struct mcd_buf bytes = {0};
        for (size_t j = from; j <= i; j++) {
            mcd_buf_add(&bytes, s->reqs[j].b, s->reqs[j].len);
            if (s->reqs[j].cas_ref >= 0)
                mcd_buf_addf(&bytes, "<CAS#%d at +%zu>", s->reqs[j].cas_ref, s->reqs[j].cas_off);
        }
        char *e = c_escape(bytes.p, bytes.len, K.print_max);
        say("%ssend%s %zu: \"%s\n", indent, batches > 1 ? " batch" : "", ++b, e);
        free(e);
        free(bytes.p);
        from = i + 1;
    }
}

static void print_repro(const struct dg_flagset *fs, const struct dg_seq *pre, size_t npre, const struct dg_seq *s,
                        uint64_t seed, const struct dg_verdict *v, const char *cls, bool guard)
{
    size_t batches = 0;

    for (size_t i = 0; i < s->n; i++)
        batches += s->reqs[i].batch_end;
    say("\n=== DIVERGENCE [%s] class=%s flags=\"%s\" seed=0x%016" PRIx64 "\n", v->sig, cls, fs->name, seed);
    say("    regenerate: MCD_DIFFGEN_FLAGS='%s' MCD_DIFFGEN_SEQSEED=0x%016" PRIx64 "%s%s\n", fs->name, seed,
        guard ? " MCD_DIFFGEN_SEQGUARD=1" : "",
        npre > 0 ? " (alone it does not diverge: the state below comes first)" : "");
    for (size_t p = 0; p < npre; p++) {
        say("    state %zu of %zu (its own %s connection, replies not compared):\n", p + 1, npre,
            pre[p].mode == DG_BINARY ? "binary" : "text");
        print_batches(&pre[p], "      ");
    }
    say("    minimal: %zu request(s), %zu batch(es), %s, %s connection%s\n", s->n, batches,
        s->chunk_seed ? "sent in random chunks" : "each batch in one send()",
        s->mode == DG_BINARY ? "binary" : "text", npre > 0 ? " (after the state)" : "");
    print_batches(s, "    ");
    for (int i = 0; i < 2; i++) {
        char *e = c_escape(v->r[i].raw.p, v->r[i].raw.len, K.print_max);
        say("    %-9s \"%s  <%s%s>\n", i == 0 ? "memcached" : "mcd", e, dg_end_names[v->r[i].end],
            v->exited[i] ? ", process exited" : "");
        free(e);
    }
}

/* The sequences played on the running pair since it started (the state a divergence may need). */
struct played {
    uint64_t seed;
    bool guard;
};
static struct played hist[RESTART_EVERY + 1];
static size_t nhist;

static void make_seq(const struct dg_flagset *fs, uint64_t seed, bool guard, struct dg_seq *s)
{
    char prefix[16];

    snprintf(prefix, sizeof(prefix), "p%05u_", (unsigned)(seed % 100000));
    dg_generate(s, seed, fs, prefix, guard ? K.fail_classes : NULL);
}

static void free_prefix(struct dg_seq *pre, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dg_seq_free(&pre[i]);
    free(pre);
}

/* Returns true when this divergence makes the run fail. */
static bool handle_divergence(const struct dg_flagset *fs, struct dg_seq *s, uint64_t seed,
                              const struct dg_verdict *first, bool guard)
{
    struct dg_verdict v;
    struct seen *e;
    struct dg_seq *pre = NULL;
    size_t npre = 0;

    if (!dg_compare_fresh(fs, NULL, 0, s, K.stall_ms * 4, &v) || !v.differs) {
        /* not alone: replay what this server pair played before it, then it */
        dg_verdict_free(&v);
        pre = mcd_xrealloc(NULL, (nhist + 1) * sizeof(*pre));
        for (npre = 0; npre < nhist; npre++)
            make_seq(fs, hist[npre].seed, hist[npre].guard, &pre[npre]);
        if (npre == 0 || !dg_compare_fresh(fs, pre, npre, s, K.stall_ms * 4, &v) || !v.differs) {
            say("  (not reproduced: seed 0x%016" PRIx64 " under \"%s\" diverged [%s] but not on fresh servers,"
                " alone or after the %zu sequence(s) played before it: timing?)\n",
                seed, fs->name, first->sig, npre);
            print_batches(s, "    ");
            for (int i = 0; i < 2; i++) {
                char *raw = c_escape(first->r[i].raw.p, first->r[i].raw.len, K.print_max);
                say("    %-9s \"%s  <%s>\n", i == 0 ? "memcached" : "mcd", raw, dg_end_names[first->r[i].end]);
                free(raw);
            }
            dg_verdict_free(&v);
            free_prefix(pre, npre);
            unreproduced++;
            return false;
        }
    }
    e = find_seen(v.sig);
    if (e != NULL) {
        e->hits++;
        if (strstr(e->flagsets, fs->name) == NULL && strlen(e->flagsets) + strlen(fs->name) + 3 < sizeof(e->flagsets))
            snprintf(e->flagsets + strlen(e->flagsets), sizeof(e->flagsets) - strlen(e->flagsets), ", %s",
                     fs->name);
        e->fails |= guard;
        dg_verdict_free(&v);
        free_prefix(pre, npre);
        return guard;
    }
    char sig[256];
    snprintf(sig, sizeof(sig), "%s", v.sig);
    bool crashed = v.exited[1] && !v.exited[0];
    bool shrunk = false;
    if (K.shrink_tries > 0 && K.max_shrinks > 0) {
        int used = 0;
        shrunk = true;
        K.max_shrinks--;
        dg_verdict_free(&v);
        if (npre > 0)
            used = dg_shrink_prefix(fs, pre, &npre, s, sig, K.stall_ms, K.shrink_tries);
        dg_shrink(fs, pre, npre, s, sig, K.stall_ms, npre > 0 ? K.shrink_tries - used / 2 : K.shrink_tries);
        if (!dg_compare_fresh(fs, pre, npre, s, K.stall_ms * 4, &v))
            memset(&v, 0, sizeof(v));
    }
    const char *cls = !shrunk ? "(unshrunk)" : s->n > 0 ? s->reqs[s->n - 1].cls : "?";
    if (nseen < sizeof(seen) / sizeof(seen[0])) {
        e = &seen[nseen++];
        snprintf(e->sig, sizeof(e->sig), "%s", sig);
        snprintf(e->cls, sizeof(e->cls), "%s%s", cls, npre > 0 ? "+state" : "");
        snprintf(e->flagsets, sizeof(e->flagsets), "%s", fs->name);
        e->hits = 1;
        e->fails = crashed || guard || K.strict;
        e->shrunk = shrunk;
    }
    print_repro(fs, pre, npre, s, seed, &v, cls, guard);
    bool fails = crashed || guard || K.strict;
    say("    verdict: %s\n", crashed ? "FAIL (the server under test exited)"
                            : guard ? "FAIL (a guard sequence: only classes in the fail list)"
                            : fails ? "FAIL (strict: MCD_DIFFGEN_STRICT=0 only reports hunt divergences)"
                                    : "reported (a hunt sequence; MCD_DIFFGEN_STRICT=0)");
    fflush(stdout);
    dg_verdict_free(&v);
    free_prefix(pre, npre);
    return fails;
}

struct pair {
    struct mcd_server *srv[2];
};

static bool pair_start(struct pair *p, const struct dg_flagset *fs)
{
    nhist = 0;
    p->srv[0] = dg_start(mcd_oracle_bin(), fs);
    p->srv[1] = dg_start(NULL, fs);
    return p->srv[0] != NULL && p->srv[1] != NULL;
}

static void pair_stop(struct pair *p)
{
    mcd_kill(p->srv[0]);
    mcd_stop(p->srv[1]);
    p->srv[0] = p->srv[1] = NULL;
}

/* A sequence's seed: the base seed mixed, so that runs with nearby base seeds play different sequences. */
static uint64_t seq_seed(size_t fsi, long round, long i, bool guard)
{
    struct dg_rng r;

    dg_rng_seed(&r, K.seed);
    return dg_rng_next(&r) ^ ((uint64_t)fsi << 56) ^ ((uint64_t)round << 32) ^ (uint64_t)i ^ (guard ? 1ull << 31 : 0);
}

/* Plays one sequence on the running pair; true when the run must fail. */
static bool one(struct pair *p, const struct dg_flagset *fs, uint64_t seed, bool guard, unsigned long *played,
                unsigned long *diffs)
{
    struct dg_seq s;
    struct dg_verdict v;
    bool fails = false;

    make_seq(fs, seed, guard, &s);
    requests += s.n;
    if (K.dry) {
        (*played)++;
        dg_seq_free(&s);
        return false;
    }
    memset(&v, 0, sizeof(v));
    bool ok = dg_run(p->srv[0], fs, &s, K.stall_ms, &v.r[0]) && dg_run(p->srv[1], fs, &s, K.stall_ms, &v.r[1]);
    v.exited[0] = mcd_wait_exit(p->srv[0], 0);
    v.exited[1] = mcd_wait_exit(p->srv[1], 0);
    if (ok)
        dg_judge(&v, fs);
    (*played)++;
    if (!ok || v.differs || v.exited[0] || v.exited[1]) {
        (*diffs)++;
        if (v.sig[0] == '\0')
            snprintf(v.sig, sizeof(v.sig), "%s", "[no connection]");
        fails = handle_divergence(fs, &s, seed, &v, guard);
    }
    if (v.exited[1] && !v.exited[0]) {
        crashes++; /* fails even when a replay does not crash it again */
        fails = true;
    }
    if (nhist < sizeof(hist) / sizeof(hist[0]))
        hist[nhist++] = (struct played){seed, guard};
    if (v.exited[0] || v.exited[1] || !ok) {
        pair_stop(p);
        if (!pair_start(p, fs)) {
            say("diffgen: servers do not start again under \"%s\"\n", fs->name);
            fails = true;
        }
    }
    dg_verdict_free(&v);
    dg_seq_free(&s);
    return fails;
}

int main(void)
{
    const char *ob = mcd_oracle_bin();
    const char *rp = getenv("MCD_DIFFGEN_REPORT");
    bool failed = false;
    unsigned long played = 0, diffs = 0;
    long long t0 = mcd_now_ms();
    struct stat a, b;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (ob == NULL) {
        printf("diffgen: no memcached oracle installed: skipped\n");
        return 77;
    }
    if (stat(ob, &a) == 0 && stat(mcd_bin(), &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev) {
        printf("diffgen: the server under test is the oracle itself: skipped\n");
        return 77;
    }
    K.seed = (uint64_t)strtoull(getenv("MCD_DIFFGEN_SEED") ? getenv("MCD_DIFFGEN_SEED") : "20261206", NULL, 0);
    K.count = env_long("MCD_DIFFGEN_COUNT", 150);
    K.round0 = env_long("MCD_DIFFGEN_ROUND", 0);
    K.dry = env_long("MCD_DIFFGEN_DRY", 0) != 0;
    K.rounds = env_long("MCD_DIFFGEN_ROUNDS", 0);
    K.guard_count = env_long("MCD_DIFFGEN_GUARD_COUNT", 30);
    K.seqguard = env_long("MCD_DIFFGEN_SEQGUARD", 0) != 0;
    K.seconds = (double)env_long("MCD_DIFFGEN_SECONDS", 0);
    K.strict = env_long("MCD_DIFFGEN_STRICT", 1) != 0;
    K.fail_classes = getenv("MCD_DIFFGEN_FAIL_CLASSES") != NULL ? getenv("MCD_DIFFGEN_FAIL_CLASSES")
                                                                 : DEFAULT_FAIL_CLASSES;
    K.flags = getenv("MCD_DIFFGEN_FLAGS");
    K.have_seqseed = getenv("MCD_DIFFGEN_SEQSEED") != NULL && *getenv("MCD_DIFFGEN_SEQSEED") != '\0';
    K.seqseed = K.have_seqseed ? (uint64_t)strtoull(getenv("MCD_DIFFGEN_SEQSEED"), NULL, 0) : 0;
    K.shrink_tries = (int)env_long("MCD_DIFFGEN_SHRINK_TRIES", 150);
    K.max_shrinks = (int)env_long("MCD_DIFFGEN_MAX_SHRINKS", 6);
    K.stall_ms = (int)env_long("MCD_DIFFGEN_STALL_MS", 500);
    K.print_max = (size_t)env_long("MCD_DIFFGEN_PRINT_MAX", 1500);
    dg_gen_documented = env_long("MCD_DIFFGEN_DOCUMENTED", 0) != 0;
    dg_gen_avoid = getenv("MCD_DIFFGEN_AVOID");
    K.report = rp != NULL && *rp != '\0' ? fopen(rp, "a") : NULL;

    printf("diffgen: %s vs oracle %s, seed %" PRIu64 ", %ld sequences per flag set%s%s\n", mcd_bin(), ob, K.seed,
           K.count, K.strict ? ", strict" : "", K.have_seqseed ? ", one sequence" : "");
    printf("diffgen: after each batch a sentinel follows (text: \"set __dg_sync 0 0 8 noreply\\r\\nSYNC<batch>\\r\\n"
           "get __dg_sync\\r\\n\", binary: a NOOP); replies are cut before its reply\n");
    for (long round = K.round0;; round++) {
        for (size_t f = 0; f < dg_nflagsets; f++) {
            const struct dg_flagset *fs = &dg_flagsets[f];
            struct pair p;

            if (!flagset_selected(fs))
                continue;
            if (K.dry) {
                p.srv[0] = p.srv[1] = NULL;
            } else if (!pair_start(&p, fs)) {
                printf("diffgen: servers do not start under \"%s\"\n", fs->name);
                pair_stop(&p);
                return 1;
            }
            if (K.have_seqseed) {
                failed |= one(&p, fs, K.seqseed, K.seqguard, &played, &diffs);
            } else {
                for (long i = 0; i < K.guard_count + K.count; i++) {
                    bool guard = i < K.guard_count;

                    if (i > 0 && i % RESTART_EVERY == 0 && !K.dry) {
                        pair_stop(&p);
                        if (!pair_start(&p, fs))
                            return 1;
                    }
                    failed |= one(&p, fs, seq_seed(f, round, i, guard), guard, &played, &diffs);
                }
            }
            pair_stop(&p);
        }
        if (K.rounds > 0) {
            if (round + 1 - K.round0 >= K.rounds)
                break;
        } else if (K.have_seqseed || K.seconds <= 0 || (double)(mcd_now_ms() - t0) / 1000.0 >= K.seconds) {
            break;
        }
    }

    say("\ndiffgen: %lu sequences, %lu requests, %lu diverged (%lu not reproduced), %zu distinct signature(s), "
        "%lu crash(es), %.1f s%s\n",
        played, requests, diffs, unreproduced, nseen, crashes, (double)(mcd_now_ms() - t0) / 1000.0,
        K.dry ? " (MCD_DIFFGEN_DRY: generated, not played)" : "");
    for (size_t i = 0; i < nseen; i++)
        say("  %s %4u x  %-22s [%s]  flags: %s\n", seen[i].fails ? "FAIL" : "seen", seen[i].hits, seen[i].cls,
            seen[i].sig, seen[i].flagsets);
    if (failed)
        say("diffgen: FAILED (a guard divergence, a crash, or a hunt divergence while strict); MCD_DIFFGEN_STRICT=%d\n",
            K.strict);
    if (K.report != NULL)
        fclose(K.report);
    return failed ? 1 : 0;
}
