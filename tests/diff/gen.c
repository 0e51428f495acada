/*
 * gen.c - random request sequences for the differential tester.
 *
 * Owns the request grammar: text storage, retrieval, arithmetic and misc
 * commands, meta mg/ms/md/ma/mn/me, binary packets for every opcode, each
 * valid or malformed (bad numbers, missing arguments, keys over 250 bytes,
 * data blocks longer or shorter than declared, unknown commands and flags,
 * binary packets with wrong lengths, magic or extras).
 *
 * Rules that keep both servers' answers deterministic, so that a difference
 * is a real divergence and not noise:
 *  - TTLs are 0, far (100000 s or an absolute time in 2096) or already
 *    past (-1, an absolute time in 1970): nothing expires while we watch.
 *  - A data block shorter than declared is padded with filler so the
 *    declared length is always there: a server never waits for bytes that
 *    will not come, and what it swallows is decided by the bytes alone.
 *  - Values use only "0-9wxyz", never a command word, so a block read as a
 *    command line by a confused parser gives the same ERROR everywhere.
 *  - incr/decr (and ma, binary incr/decr) only on the numeric keys n0..n2,
 *    and never in a batch after a read of those keys: memcached pads a
 *    shorter result in place only when no pending reply still holds the
 *    item, which would otherwise depend on socket timing.
 *  - With evictions (small -m) big values go to fresh keys, and only the
 *    key just written is read back, in the same batch.
 *  - No stats, no me on live keys, no small flush_all delays, no
 *    verbosity output: their answers depend on time or on internals.
 */
#include "config.h"

#include "tests/diff/diffgen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool dg_gen_documented;
const char *dg_gen_avoid;

/* True when the first line of r has a space-separated token listed in `avoid`. */
static bool avoided(const struct dg_req *r, const char *avoid)
{
    const unsigned char *nl = memchr(r->b, '\n', r->len);
    size_t end = nl != NULL ? (size_t)(nl - r->b) : r->len;

    for (size_t i = 0; i < end;) {
        while (i < end && r->b[i] == ' ')
            i++;
        size_t s = i;
        while (i < end && r->b[i] != ' ' && r->b[i] != '\r')
            i++;
        const char *a = avoid;
        while (i > s && a != NULL && *a != '\0') {
            const char *e = strchr(a, ',');
            size_t n = e != NULL ? (size_t)(e - a) : strlen(a);
            if (n == i - s && memcmp(a, r->b + s, n) == 0)
                return true;
            a = e != NULL ? e + 1 : NULL;
        }
        if (i < end && r->b[i] == '\r')
            break;
    }
    return false;
}

struct gen {
    struct dg_rng r;
    const struct dg_flagset *fs;
    const char *prefix;
    struct dg_seq *seq;
    bool nread;        /* a numeric key was read in this batch */
    unsigned big;      /* fresh big-key counter */
    bool clean;        /* this sequence has no malformed requests */
    bool bad;          /* the request being built has a malformation */
    bool short_keys;   /* no 251-byte key (text get family: memcached-compat.md (t2)) */
    bool ascii_bin;    /* binary packets to an ascii-only server: values under 500 bytes */
};

#define R(n) dg_rng_below(&g->r, (n))
#define CH(a, b) dg_rng_chance(&g->r, (a), (b))
#define PICK(arr) (arr)[R((uint32_t)(sizeof(arr) / sizeof((arr)[0])))]
/* A malformation with probability a/b, never in a clean sequence. */
#define BAD(a, b) bad_chance(g, (a), (b))

static bool bad_chance(struct gen *g, uint32_t a, uint32_t b)
{
    if (g->clean || !dg_rng_chance(&g->r, a, b))
        return false;
    g->bad = true;
    return true;
}

/* "cls" or "cls.bad" as a string that lives as long as the program. */
static const char *klass(const char *cls, bool bad)
{
    static char pool[64][48];
    static const char *names[64];
    static size_t n;
    char want[48];

    snprintf(want, sizeof(want), "%s%s", cls, bad ? ".bad" : "");
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], want) == 0)
            return names[i];
    if (n == 64)
        return "other";
    snprintf(pool[n], sizeof(pool[n]), "%s", want);
    names[n] = pool[n];
    return names[n++];
}

static const char VALCH[] = "0123456789wxyz";

static void push(struct gen *g, struct mcd_buf *b, const char *cls, int cas_ref, size_t cas_off, bool cas_bin)
{
    struct dg_req q = {
        .b = b->p, .len = b->len, .cas_ref = cas_ref, .cas_off = cas_off, .cas_bin = cas_bin,
        .cls = klass(cls, g->bad),
    };

    dg_seq_push(g->seq, &q);
    free(b->p);
    memset(b, 0, sizeof(*b));
    g->bad = false;
}

/* --- shared pieces ----------------------------------------------------- */

static void add_key(struct gen *g, struct mcd_buf *b, bool numeric)
{
    size_t plen = strlen(g->prefix);
    uint32_t k = R(100);

    if (numeric || k < 8) {
        mcd_buf_addf(b, "%sn%u", g->prefix, R(3));
    } else if (k < 92) {
        mcd_buf_addf(b, "%sk%u", g->prefix, R(5));
    } else if (k < 95) {
        mcd_buf_addf(b, "%s", g->prefix);
        for (size_t i = plen; i < 250; i++)
            mcd_buf_addc(b, 'L');
    } else if (k < 98 && !g->short_keys && BAD(1, 1)) {
        mcd_buf_addf(b, "%s", g->prefix);
        for (size_t i = plen; i < 251; i++)
            mcd_buf_addc(b, 'L');
    } else {
        mcd_buf_addf(b, "%sk%u", g->prefix, R(5)); /* numeric-looking key */
    }
}

/*
 * Whether an incr/decr/ma request goes to a numeric key: seven times in
 * eight, and always without MCD_DIFFGEN_DOCUMENTED, because numeric keys
 * never hold a value over 512 KB then (big_ok): 1.6.45 stores such a value
 * in chunks and answers "non-numeric" for it before it compares a CAS,
 * which it compares first for a smaller value (memcached-compat.md); mcd
 * compares the CAS first for every size.
 */
static bool arith_numeric(struct gen *g)
{
    return !CH(1, 8) || !dg_gen_documented;
}

/* A value length for the key at b[key_at]: see arith_numeric. */
static size_t big_ok(const struct gen *g, const unsigned char *key, size_t vlen)
{
    if (!dg_gen_documented && vlen > 512 * 1024 && key[strlen(g->prefix)] == 'n')
        return 1000 + vlen % 1000;
    return vlen;
}

static bool is_numeric_key(const struct mcd_buf *b, size_t key_at, size_t plen)
{
    return b->len > key_at + plen && b->p[key_at + plen] == 'n';
}

/* Value bytes: mostly short, sometimes empty or near the size limit. */
static size_t value_len(struct gen *g)
{
    uint32_t k = R(1000);

    if (k < 40)
        return 0;
    if (k < 900)
        return 1 + R(24);
    if (k < 990)
        return 100 + R(3000);
    if (!g->fs->big_values)
        return 5000 + R(20000);
    /* around the item size limit: both sides of memcached's maximum */
    static const long around[] = {-1100, -400, -120, -60, -20, 0, 100, 4096};
    long v = g->fs->item_max + PICK(around);
    return v > 0 ? (size_t)v : 10;
}

static void add_value(struct gen *g, struct mcd_buf *b, size_t n, bool numeric)
{
    if (numeric && n < 21) {
        static const char *const nums[] = {"0", "1", "9", "10", "99", "100", "18446744073709551615",
                                           "18446744073709551614", "4294967296", " 12", "12x", "-3"};
        mcd_buf_addf(b, "%s", PICK(nums));
        return;
    }
    for (size_t i = 0; i < n; i++)
        mcd_buf_addc(b, (unsigned char)VALCH[R(sizeof(VALCH) - 1)]);
}

/* A storage value's length: for a numeric key (when may_number), three
 * times in four a number, written into num[32] as the value to send;
 * otherwise a random length (num stays ""). */
static size_t pick_value_len(struct gen *g, bool may_number, char num[32])
{
    if (may_number && CH(3, 4)) {
        struct mcd_buf t = {0};
        add_value(g, &t, 1, true);
        snprintf(num, 32, "%s", (char *)t.p);
        free(t.p);
        return strlen(num);
    }
    return value_len(g);
}

static const char *ttl_tok(struct gen *g)
{
    static const char *const ok[] = {"0", "0", "100000", "-1", "4000000000", "2592001", "3999999999"};
    static const char *const bad[] = {"abc", "1x", "", "99999999999999999999", "+5", "0x10"};

    return BAD(1, 12) ? PICK(bad) : PICK(ok);
}

static const char *flags_tok(struct gen *g)
{
    static const char *const ok[] = {"0", "0", "1", "42", "65535", "4294967295"};
    static const char *const bad[] = {"-1", "4294967296", "abc", "1.5", "18446744073709551616"};

    return BAD(1, 12) ? PICK(bad) : PICK(ok);
}

/*
 * Appends "<len>\r\n<data>\r\n"-style framing for a declared length and the
 * data itself: usually exact; sometimes longer than declared, or shorter and
 * padded so the declared length plus two bytes is always supplied.
 */
static void add_block(struct gen *g, struct mcd_buf *line, size_t declared, bool numeric, bool malformed_len)
{
    size_t actual = declared;

    if (malformed_len && CH(1, 2) && declared > 0)
        actual = declared - 1 - R((uint32_t)(declared < 5 ? declared : 5));
    else if (malformed_len)
        actual = declared + 1 + R(4);
    if (actual == declared) {
        if (numeric && declared < 21) {
            /* the caller wrote the number already when it chose the length */
            return;
        }
        add_value(g, line, declared, false);
        mcd_buf_add(line, "\r\n", 2);
        return;
    }
    add_value(g, line, actual, false);
    mcd_buf_add(line, "\r\n", 2);
    for (size_t i = actual; i < declared; i++)
        mcd_buf_addc(line, 'z');
}

/* --- text protocol ----------------------------------------------------- */

static void text_storage(struct gen *g)
{
    static const char *const cmds[] = {"set", "set", "set", "add", "replace", "append", "prepend", "cas", "cas"};
    struct mcd_buf b = {0};
    const char *cmd = PICK(cmds);
    size_t key_at, cas_off = 0;
    int cas_ref = -1;
    bool numeric, badlen = BAD(1, 14);

    g->bad = false; /* from here on: is the command line itself malformed? */
    mcd_buf_addf(&b, "%s ", cmd);
    key_at = b.len;
    add_key(g, &b, CH(1, 5));
    numeric = is_numeric_key(&b, key_at, strlen(g->prefix));
    mcd_buf_addf(&b, " %s %s ", flags_tok(g), ttl_tok(g));

    char num[32] = "";
    size_t vlen = big_ok(g, b.p + key_at, pick_value_len(g, numeric && !badlen, num));

    static const char *const badlens[] = {"-1", "abc", "4294967297", "", "1x", "-0"};
    bool badtok = BAD(1, 25);
    if (badtok)
        mcd_buf_addf(&b, "%s", PICK(badlens));
    else
        mcd_buf_addf(&b, "%zu", vlen);
    if (strcmp(cmd, "cas") == 0) {
        uint32_t c = R(10);
        if (c < 7 || g->clean) {
            mcd_buf_addc(&b, ' ');
            cas_ref = (int)R(6);
            cas_off = b.len;
        } else if (c < 9 && BAD(1, 1)) {
            static const char *const badcas[] = {"abc", "-1", "0", "18446744073709551616"};
            mcd_buf_addf(&b, " %s", PICK(badcas));
        } else {
            g->bad = true; /* missing */
        }
    }
    if (CH(1, 7))
        mcd_buf_addf(&b, " noreply");
    else if (BAD(1, 40))
        mcd_buf_addf(&b, " norepl");
    mcd_buf_add(&b, "\r\n", 2);
    /*
     * A refused command line leaves its data block to be read as a command
     * line. Over 2048 bytes with no newline yet, both servers close or
     * answer ERROR depending on how the bytes arrive (see dg_generate): so
     * a block that long goes only with a well-formed line.
     */
    if (g->bad && vlen > 2000 && !g->clean) {
        free(b.p);
        g->clean = true;
        text_storage(g);
        g->clean = false;
        return;
    }
    g->bad |= badlen;
    if (num[0] != '\0' && !badtok) {
        mcd_buf_addf(&b, "%s\r\n", num);
    } else {
        add_block(g, &b, vlen, false, badlen);
    }
    push(g, &b, "text.storage", cas_ref, cas_off, false);
}

static void text_retrieval(struct gen *g)
{
    static const char *const cmds[] = {"get", "get", "gets", "gat", "gats"};
    struct mcd_buf b = {0};
    const char *cmd = PICK(cmds);
    uint32_t nkeys = BAD(1, 10) ? 0 : 1 + R(3);
    bool gat = cmd[1] == 'a';

    mcd_buf_addf(&b, "%s", cmd);
    if (gat)
        mcd_buf_addf(&b, " %s", ttl_tok(g));
    for (uint32_t i = 0; i < nkeys; i++) {
        size_t at;
        mcd_buf_addc(&b, ' ');
        at = b.len;
        /* a 251-byte key in a get line hits 1.6.45's documented bug (it
         * drops the earlier replies and adds an empty line) */
        g->short_keys = !dg_gen_documented;
        add_key(g, &b, CH(1, 6));
        g->short_keys = false;
        if (is_numeric_key(&b, at, strlen(g->prefix)))
            g->nread = true;
    }
    if (BAD(1, 20))
        mcd_buf_addc(&b, ' ');
    mcd_buf_add(&b, "\r\n", 2);
    push(g, &b, gat ? "text.gat" : "text.get", -1, 0, false);
}

static void text_arith(struct gen *g)
{
    static const char *const deltas[] = {"1", "1", "5", "0", "100", "18446744073709551615"};
    static const char *const bad[] = {"18446744073709551616", "-1", "abc", "", "1x"};
    struct mcd_buf b = {0};
    const char *cmd = CH(1, 2) ? "incr" : "decr";

    mcd_buf_addf(&b, "%s ", cmd);
    add_key(g, &b, arith_numeric(g));
    mcd_buf_addf(&b, " %s", BAD(1, 8) ? PICK(bad) : PICK(deltas));
    if (CH(1, 7))
        mcd_buf_addf(&b, " noreply");
    mcd_buf_add(&b, "\r\n", 2);
    push(g, &b, "text.arith", -1, 0, false);
}

static void text_misc(struct gen *g)
{
    struct mcd_buf b = {0};
    const char *cls = "text.misc";
    uint32_t k = R(100);

    if (k < 30) {
        static const char *const tail[] = {"", "", " 0", " noreply", " 0 noreply"};
        static const char *const bad[] = {" 1", " x", " 0 0", " noreply 0"};
        mcd_buf_addf(&b, "delete ");
        add_key(g, &b, CH(1, 6));
        mcd_buf_addf(&b, "%s\r\n", BAD(1, 6) ? PICK(bad) : PICK(tail));
        cls = "text.delete";
    } else if (k < 55) {
        mcd_buf_addf(&b, "touch ");
        add_key(g, &b, CH(1, 6));
        mcd_buf_addf(&b, " %s%s\r\n", ttl_tok(g), CH(1, 6) ? " noreply" : "");
        cls = "text.touch";
    } else if (k < 62) {
        mcd_buf_addf(&b, "version\r\n");
        cls = "text.version";
    } else if (k < 67) {
        static const char *const fl[] = {"flush_all\r\n", "flush_all 0\r\n", "flush_all noreply\r\n",
                                         "flush_all 0 noreply\r\n", "flush_all 100000\r\n"};
        static const char *const bad[] = {"flush_all -1\r\n", "flush_all abc\r\n", "flush_all 0 0\r\n"};
        mcd_buf_addf(&b, "%s", BAD(1, 4) ? PICK(bad) : PICK(fl));
        cls = "text.flush";
    } else if (k < 72) {
        static const char *const vb[] = {"verbosity 0\r\n", "verbosity 0 noreply\r\n"};
        static const char *const bad[] = {"verbosity\r\n", "verbosity x\r\n", "verbosity 0 0 0\r\n"};
        mcd_buf_addf(&b, "%s", BAD(1, 3) ? PICK(bad) : PICK(vb));
        cls = "text.verbosity";
    } else if (k < 74) {
        /* lru_crawler and stats cachedump replies that do not depend on
         * timing or order (no crawl: OK or BUSY is timing; no dump of a
         * class: memcached lists only its HOT segment; no "," class list:
         * 1.6.45 then sends a stray OK; no metadump/mgdump: 1.6.45 refuses
         * them behind pipelined commands, mcd does not; memcached-compat.md) */
        static const char *const ok[] = {"lru_crawler tocrawl 0\r\n", "lru_crawler sleep 100\r\n",
                                         "stats cachedump 0 1\r\n"};
        static const char *const bad[] = {
            "lru_crawler crawl 0\r\n", "lru_crawler crawl 64\r\n", "lru_crawler crawl x\r\n",
            "lru_crawler crawl 1,x\r\n", "lru_crawler tocrawl x\r\n", "lru_crawler sleep 2000000\r\n",
            "lru_crawler bogus\r\n", "lru_crawler crawl\r\n", "stats cachedump\r\n", "stats cachedump 1\r\n",
            "stats cachedump x 1\r\n", "stats cachedump 100 1\r\n", "lru_crawler tocrawl 1 noreply\r\n",
        };
        mcd_buf_addf(&b, "%s", BAD(1, 2) ? PICK(bad) : PICK(ok));
        cls = "text.admin";
    } else if (BAD(1, 1)) {
        static const char *const junk[] = {
            "\r\n", " \r\n", "foo\r\n", "GET k\r\n", "get\r\n", "gets\r\n", "set\r\n", "set k\r\n",
            "set k 0 0\r\n", "incr\r\n", "incr k\r\n", "decr k\r\n", "touch k\r\n", "delete\r\n", "cas k 0 0 1\r\nx\r\n",
            "gat\r\n", "gat 0\r\n", "\n", "get k\n", "  get k\r\n", "get  k\r\n", "get k \r\n", "\x80\r\n",
            "stats nosuchgroup\r\n", "slabs\r\n", "lru_crawler\r\n", "mx k\r\n", "m\r\n",
            "cache_memlimit\r\n", "shutdown\r\n", "misbehave\r\n", "quit x\r\n", "\t\r\n", "get k\rx\r\n",
            "set k 0 0 1 2 3 4\r\n1\r\n", "verbosity\r\n", "version x\r\n",
            /* no watch: a good one ends the session, and a bad one's reply
             * depends on whether earlier replies are still unsent when it
             * is read ("ERROR cannot pipeline ..." or "ERROR"), which
             * depends on how the bytes arrive (test_watch covers it) */
            /* the memory commands' replies that do not depend on page layouts */
            "cache_memlimit 7\r\n", "cache_memlimit x\r\n", "cache_memlimit 4294967295\r\n",
            "slabs reassign x 1\r\n", "slabs automove 1\r\n", /* (not others: BUSY while an automover moves) */
            "refresh_certs\r\n", /* without -Z: "Error TLS not enabled" */
        };
        mcd_buf_addf(&b, "%s", PICK(junk));
        if (CH(1, 10)) {
            /* a long line: many keys, or one token over every limit */
            mcd_buf_addf(&b, "get");
            uint32_t n = 20 + R(400);
            for (uint32_t i = 0; i < n; i++)
                mcd_buf_addf(&b, " %sk%u", g->prefix, R(5));
            mcd_buf_add(&b, "\r\n", 2);
        }
        cls = "text.junk";
    } else {
        mcd_buf_addf(&b, "mn\r\n");
        cls = "meta.mn";
    }
    push(g, &b, cls, -1, 0, false);
}

/* --- meta protocol ----------------------------------------------------- */

/*
 * Appends up to four flags from `ok` (never two with the same letter), and
 * in a malformed request one from `bad` or a repeated letter.
 */
static void add_meta_flags(struct gen *g, struct mcd_buf *b, const char *const *ok, size_t nok,
                           const char *const *bad, size_t nbad, int *cas_ref, size_t *cas_off)
{
    uint32_t n = R(5);
    char used[16] = "";

    for (uint32_t i = 0; i < n; i++) {
        const char *f = ok[R((uint32_t)nok)];

        if (strchr(used, f[0]) != NULL && !BAD(1, 6))
            continue;
        if (strlen(used) < sizeof(used) - 1)
            used[strlen(used)] = f[0];
        mcd_buf_addc(b, ' ');
        if (strcmp(f, "C") == 0) {
            if (*cas_ref < 0) {
                mcd_buf_addc(b, 'C');
                *cas_ref = (int)R(6);
                *cas_off = b->len;
            } else {
                mcd_buf_addf(b, "C1");
            }
            continue;
        }
        mcd_buf_addf(b, "%s", f);
    }
    if (BAD(1, 6)) {
        const char *f = bad[R((uint32_t)nbad)];

        /*
         * Left out unless asked for: `b` with N (vivify) or an append mode
         * (memcached-compat.md: 1.6.45 then loses the binary-key mark and
         * prints the decoded key raw after k, a bug not copied).
         */
        if (strcmp(f, "b") == 0 && !dg_gen_documented && (strchr(used, 'N') != NULL || strchr(used, 'M') != NULL))
            return;
        mcd_buf_addf(b, " %s", f);
    }
}

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static void meta_cmd(struct gen *g)
{
    static const char *const mgf[] = {"v", "v", "k", "c", "f", "s", "t", "h", "l", "O123", "q", "u",
                                      "T100000", "T-1", "N100000", "R30", "E77", "C"};
    /* without MCD_DIFFGEN_DOCUMENTED: no T-1 (memcached-compat.md: 1.6.45 shows `T-1 t` as an unsigned wrap) */
    static const char *const mgf_plain[] = {"v", "v", "k", "c", "f", "s", "t", "h", "l", "O123", "q", "u",
                                            "T100000", "T0", "N100000", "R30", "E77", "C"};
    static const char *const mgbad[] = {"Tx", "j", "O", "b", "x", "E", "N", "Oabcdefghijklmnopqrstuvwxyz0123456789"};
    static const char *const msf[] = {"c", "k", "s", "T100000", "T0", "T-1", "F5", "I", "q", "O9", "MS", "ME",
                                      "MA", "MP", "MR", "Ma", "N100000", "C", "E123"};
    static const char *const msbad[] = {"F4294967296", "Mx", "b", "S5", "z", "T", "Tx", "M"};
    static const char *const mdf[] = {"q", "I", "k", "O1", "T100000", "C", "x"};
    static const char *const mdbad[] = {"b", "E5", "Q", "Tx", "C"};
    static const char *const maf[] = {"v", "v", "N100000", "J13", "J18446744073709551615", "D5", "D0", "MI", "MD",
                                      "M+", "M-", "q", "O77", "t", "c", "k", "T100000", "C", "E9"};
    /* without MCD_DIFFGEN_DOCUMENTED: no E (memcached-compat.md: when the
     * result is longer than the value, 1.6.45 stores it with a CAS of its
     * own and answers E's) */
    static const char *const maf_plain[] = {"v", "v", "N100000", "J13", "J18446744073709551615", "D5", "D0", "MI",
                                            "MD", "M+", "M-", "q", "O77", "t", "c", "k", "T100000", "C"};
    static const char *const mabad[] = {"Dabc", "Mx", "b", "J-1", "D-1", "N", "Jx"};
    struct mcd_buf b = {0};
    int cas_ref = -1;
    size_t cas_off = 0, key_at;
    uint32_t k = R(100);
    const char *cls;

    if (k < 35) {
        mcd_buf_addf(&b, "mg ");
        key_at = b.len;
        add_key(g, &b, CH(1, 6));
        if (is_numeric_key(&b, key_at, strlen(g->prefix)))
            g->nread = true;
        if (dg_gen_documented)
            add_meta_flags(g, &b, mgf, NELEM(mgf), mgbad, NELEM(mgbad), &cas_ref, &cas_off);
        else
            add_meta_flags(g, &b, mgf_plain, NELEM(mgf_plain), mgbad, NELEM(mgbad), &cas_ref, &cas_off);
        mcd_buf_add(&b, "\r\n", 2);
        cls = "meta.mg";
    } else if (k < 65) {
        bool numeric, badlen = BAD(1, 14), badtok = BAD(1, 25);
        size_t vlen;
        char num[32] = "";

        mcd_buf_addf(&b, "ms ");
        key_at = b.len;
        add_key(g, &b, CH(1, 5));
        numeric = is_numeric_key(&b, key_at, strlen(g->prefix));
        vlen = big_ok(g, b.p + key_at, pick_value_len(g, numeric && !badlen, num));
        if (badtok) {
            static const char *const bl[] = {"-1", "abc", "", "S3", "4294967297"};
            mcd_buf_addf(&b, " %s", PICK(bl));
            if (vlen > 2000)
                vlen = 2000; /* read as a command line: see text_storage */
        } else {
            mcd_buf_addf(&b, " %zu", vlen);
        }
        add_meta_flags(g, &b, msf, NELEM(msf), msbad, NELEM(msbad), &cas_ref, &cas_off);
        mcd_buf_add(&b, "\r\n", 2);
        if (num[0] != '\0' && !badtok)
            mcd_buf_addf(&b, "%s\r\n", num);
        else
            add_block(g, &b, vlen, false, badlen);
        cls = "meta.ms";
    } else if (k < 77) {
        mcd_buf_addf(&b, "md ");
        add_key(g, &b, CH(1, 6));
        add_meta_flags(g, &b, mdf, NELEM(mdf), mdbad, NELEM(mdbad), &cas_ref, &cas_off);
        mcd_buf_add(&b, "\r\n", 2);
        cls = "meta.md";
    } else if (k < 90) {
        mcd_buf_addf(&b, "ma ");
        add_key(g, &b, arith_numeric(g));
        if (dg_gen_documented)
            add_meta_flags(g, &b, maf, NELEM(maf), mabad, NELEM(mabad), &cas_ref, &cas_off);
        else
            add_meta_flags(g, &b, maf_plain, NELEM(maf_plain), mabad, NELEM(mabad), &cas_ref, &cas_off);
        mcd_buf_add(&b, "\r\n", 2);
        cls = "meta.ma";
    } else if (k < 95 || !BAD(1, 1)) {
        mcd_buf_addf(&b, "mn\r\n");
        cls = "meta.mn";
    } else {
        static const char *const odd[] = {"mg\r\n", "ms\r\n", "md\r\n", "ma\r\n", "me\r\n", "mg  \r\n",
                                          "ms k\r\n", "mn x\r\n", "mz k\r\n", "mg k v v v v v v v v v v v v\r\n"};
        if (CH(1, 3)) {
            mcd_buf_addf(&b, "me ");
            for (int i = 0; i < 251; i++)
                mcd_buf_addc(&b, 'L');
            mcd_buf_add(&b, "\r\n", 2);
        } else {
            mcd_buf_addf(&b, "%s", PICK(odd));
        }
        cls = "meta.junk";
    }
    push(g, &b, cls, cas_ref, cas_off, false);
}

/* --- binary protocol --------------------------------------------------- */

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static void put64(unsigned char *p, uint64_t v)
{
    put32(p, (uint32_t)(v >> 32));
    put32(p + 4, (uint32_t)v);
}

/* Shape of a well-formed request per opcode: extras length, key, value. */
struct bin_shape {
    uint8_t op;
    uint8_t ext;
    bool key, value, quiet_close;
    const char *cls;
};

static const struct bin_shape bin_ops[] = {
    {0x00, 0, true, false, false, "bin.get"},    {0x09, 0, true, false, false, "bin.get"},
    {0x0c, 0, true, false, false, "bin.get"},    {0x0d, 0, true, false, false, "bin.get"},
    {0x01, 8, true, true, false, "bin.store"},   {0x11, 8, true, true, false, "bin.store"},
    {0x02, 8, true, true, false, "bin.store"},   {0x12, 8, true, true, false, "bin.store"},
    {0x03, 8, true, true, false, "bin.store"},   {0x13, 8, true, true, false, "bin.store"},
    {0x01, 8, true, true, false, "bin.store"},   {0x0e, 0, true, true, false, "bin.store"},
    {0x0f, 0, true, true, false, "bin.store"},   {0x19, 0, true, true, false, "bin.store"},
    {0x1a, 0, true, true, false, "bin.store"},   {0x04, 0, true, false, false, "bin.delete"},
    {0x14, 0, true, false, false, "bin.delete"}, {0x05, 20, true, false, false, "bin.arith"},
    {0x06, 20, true, false, false, "bin.arith"}, {0x15, 20, true, false, false, "bin.arith"},
    {0x16, 20, true, false, false, "bin.arith"}, {0x0a, 0, false, false, false, "bin.noop"},
    {0x0b, 0, false, false, false, "bin.version"}, {0x08, 0, false, false, false, "bin.flush"},
    {0x18, 4, false, false, false, "bin.flush"}, {0x1c, 4, true, false, false, "bin.touch"},
    {0x1d, 4, true, false, false, "bin.gat"},    {0x1e, 4, true, false, false, "bin.gat"},
    {0x23, 4, true, false, false, "bin.gat"},    {0x24, 4, true, false, false, "bin.gat"},
    {0x20, 0, false, false, false, "bin.sasl"},  {0x21, 0, true, true, false, "bin.sasl"},
    {0x1b, 4, false, false, false, "bin.unknown"}, {0x30, 0, true, false, false, "bin.unknown"},
    {0xff, 0, false, false, false, "bin.unknown"}, {0x10, 0, true, false, false, "bin.stat"},
};

static void bin_cmd(struct gen *g)
{
    const struct bin_shape *sh = &bin_ops[R(sizeof(bin_ops) / sizeof(bin_ops[0]))];
    struct mcd_buf key = {0}, val = {0};
    unsigned char ext[32];
    unsigned char hdr[24];
    size_t extlen = sh->ext, vlen = 0;
    uint8_t magic = 0x80, op = sh->op, dtype = 0;
    uint32_t opaque = dg_rng_next(&g->r) & 0x0fffffff;
    int cas_ref = -1;
    uint64_t cas = 0;
    bool malformed = false;
    long bodyfix = 0;
    const char *cls = sh->cls;

    if (sh->key) {
        add_key(g, &key, sh->op == 0x05 || sh->op == 0x06 || sh->op == 0x15 || sh->op == 0x16 ? arith_numeric(g)
                                                                                                : CH(1, 6));
        if (op == 0x10) {
            /* stat: only groups whose answer is fixed */
            free(key.p);
            memset(&key, 0, sizeof(key));
            mcd_buf_addf(&key, "%s", CH(1, 2) ? "nosuchgroup" : "detail x");
        }
    }
    if ((op == 0x00 || op == 0x09 || op == 0x0c || op == 0x0d || op == 0x1d || op == 0x1e || op == 0x23 ||
         op == 0x24) &&
        key.len > strlen(g->prefix) && key.p[strlen(g->prefix)] == 'n')
        g->nread = true;
    memset(ext, 0, sizeof(ext));
    if (extlen == 8) {
        static const uint32_t fl[] = {0, 0, 1, 0xdeadbeef, 0xffffffff};
        static const uint32_t ex[] = {0, 0, 100000, 0xffffffff, 2592001, 4000000000u};
        put32(ext, PICK(fl));
        put32(ext + 4, PICK(ex));
    } else if (extlen == 20) {
        static const uint64_t d[] = {1, 1, 5, 0, 100, 0xffffffffffffffffull};
        static const uint64_t in[] = {0, 7, 100, 0xffffffffffffffffull};
        static const uint32_t ex[] = {0, 100000, 0xffffffff, 0xffffffff};
        put64(ext, PICK(d));
        put64(ext + 8, PICK(in));
        put32(ext + 16, PICK(ex));
    } else if (extlen == 4) {
        static const uint32_t ex[] = {0, 100000, 0xffffffff, 2592001};
        put32(ext, PICK(ex));
    }
    if (sh->value) {
        vlen = key.len > strlen(g->prefix) ? big_ok(g, key.p, value_len(g)) : value_len(g);
        if (g->ascii_bin && vlen > 500)
            vlen = 500;
        add_value(g, &val, vlen, false);
    }
    if (op == 0x01 || op == 0x11 || op == 0x04 || op == 0x14 || op == 0x0e || op == 0x05 || op == 0x1c) {
        if (CH(1, 3))
            cas_ref = (int)R(6);
        else if (CH(1, 6))
            cas = 123456789;
    }
    /* malformations: one at a time, so a repro names one cause */
    if (BAD(1, 9)) {
        malformed = true;
        switch (R(9)) {
        case 0: extlen = extlen == 0 ? 4 : extlen - 4; break;              /* wrong extras length */
        case 1:                                                            /* missing key */
            if (op != 0x10) { /* Stat without a key is every counter: not comparable */
                free(key.p);
                memset(&key, 0, sizeof(key));
            }
            break;
        case 2:                                                            /* key over 250 bytes */
            free(key.p);
            memset(&key, 0, sizeof(key));
            for (int i = 0; i < 251; i++)
                mcd_buf_addc(&key, 'L');
            break;
        case 3: if (!sh->value) { add_value(g, &val, 1 + R(8), false); vlen = val.len; } break; /* stray body */
        case 4: magic = CH(1, 2) ? 0x81 : (uint8_t)R(256); break;         /* bad magic */
        case 5: dtype = 1; break;                                          /* datatype */
        case 6: bodyfix = -(long)(1 + R(4)); break;                        /* body shorter than ext+key */
        case 7: op = (uint8_t)(0x25 + R(0xda)); break;                     /* unknown opcode, real shape */
        default: bodyfix = 1 + R(3); break;                                /* body longer than sent */
        }
    }

    /*
     * Unless asked for, leave out the two divergences memcached-compat.md
     * documents (memcached bugs mcd does not copy): an unknown opcode with
     * extras or a key, and Touch/GAT/Stat with more body than extras + key.
     */
    bool unknown = op == 0x1b || op == 0x1f || op >= 0x25;
    bool loose = op == 0x1c || op == 0x1d || op == 0x1e || op == 0x23 || op == 0x24 || op == 0x10;
    if (!dg_gen_documented && unknown) {
        extlen = 0;
        vlen = 0;
        free(key.p);
        memset(&key, 0, sizeof(key));
        bodyfix = bodyfix < 0 ? bodyfix : 0;
    }
    if (!dg_gen_documented && loose && (vlen > 0 || bodyfix > 0)) {
        vlen = 0;
        bodyfix = 0;
    }
    struct mcd_buf b = {0};
    long body = (long)(extlen + key.len + vlen) + bodyfix;
    if (body < 0)
        body = 0;
    memset(hdr, 0, sizeof(hdr));
    hdr[0] = magic;
    hdr[1] = op;
    hdr[2] = (unsigned char)(key.len >> 8);
    hdr[3] = (unsigned char)key.len;
    hdr[4] = (unsigned char)extlen;
    hdr[5] = dtype;
    put32(hdr + 8, (uint32_t)body);
    put32(hdr + 12, opaque);
    put64(hdr + 16, cas);
    mcd_buf_add(&b, hdr, sizeof(hdr));
    mcd_buf_add(&b, ext, extlen);
    if (key.len > 0)
        mcd_buf_add(&b, key.p, key.len);
    if (vlen > 0)
        mcd_buf_add(&b, val.p, vlen);
    /* a body declared longer than sent: supply the bytes so nothing stalls */
    for (long i = 0; i < bodyfix; i++)
        mcd_buf_addc(&b, 'z');
    free(key.p);
    free(val.p);
    (void)malformed;
    push(g, &b, cls, cas_ref, 16, true);
}

/* --- evictions: a big value on a fresh key, read back at once ---------- */

static void big_pair(struct gen *g, bool binary)
{
    static const size_t sizes[] = {150000, 230000, 300000};
    size_t n = PICK(sizes);
    struct mcd_buf b = {0}, key = {0};

    mcd_buf_addf(&key, "%sbig%u", g->prefix, g->big++);
    if (!binary) {
        mcd_buf_addf(&b, "set %s 0 0 %zu\r\n", (char *)key.p, n);
        add_value(g, &b, n, false);
        mcd_buf_add(&b, "\r\n", 2);
        push(g, &b, "text.storage.big", -1, 0, false);
        mcd_buf_addf(&b, "get %s\r\n", (char *)key.p);
        push(g, &b, "text.get.big", -1, 0, false);
    } else {
        unsigned char hdr[24] = {0x80, 0x01};
        unsigned char ext[8] = {0};
        hdr[3] = (unsigned char)key.len;
        hdr[4] = 8;
        put32(hdr + 8, (uint32_t)(8 + key.len + n));
        put32(hdr + 12, 0x77);
        mcd_buf_add(&b, hdr, 24);
        mcd_buf_add(&b, ext, 8);
        mcd_buf_add(&b, key.p, key.len);
        add_value(g, &b, n, false);
        push(g, &b, "bin.store.big", -1, 0, false);
        unsigned char gh[24] = {0x80, 0x00};
        gh[3] = (unsigned char)key.len;
        put32(gh + 8, (uint32_t)key.len);
        put32(gh + 12, 0x78);
        mcd_buf_add(&b, gh, 24);
        mcd_buf_add(&b, key.p, key.len);
        push(g, &b, "bin.get.big", -1, 0, false);
    }
    free(key.p);
}

/* --- the sequence ------------------------------------------------------ */

static void text_quit(struct gen *g)
{
    struct mcd_buf b = {0};

    mcd_buf_addf(&b, "quit\r\n");
    push(g, &b, "text.quit", -1, 0, false);
}

static void bin_quit(struct gen *g)
{
    unsigned char hdr[24] = {0x80, 0x07};
    struct mcd_buf b = {0};

    if (CH(1, 2))
        hdr[1] = 0x17;
    put32(hdr + 12, 0x99);
    mcd_buf_add(&b, hdr, 24);
    push(g, &b, "bin.quit", -1, 0, false);
}

/* Keeps only the requests of the classes in `only`; batch ends move back. */
static void filter(struct dg_seq *s, const char *only)
{
    size_t k = 0;

    for (size_t i = 0; i < s->n; i++) {
        bool keep = only == NULL || dg_class_in(s->reqs[i].cls, only);

        if (keep && dg_gen_avoid != NULL && s->mode == DG_TEXT && avoided(&s->reqs[i], dg_gen_avoid))
            keep = false;
        if (keep) {
            s->reqs[k++] = s->reqs[i];
        } else {
            if (s->reqs[i].batch_end && k > 0)
                s->reqs[k - 1].batch_end = true;
            free(s->reqs[i].b);
        }
    }
    s->n = k;
}

void dg_generate(struct dg_seq *out, uint64_t seed, const struct dg_flagset *fs, const char *prefix,
                 const char *only)
{
    struct gen gs = {.fs = fs, .prefix = prefix, .seq = out};
    struct gen *g = &gs;
    uint32_t n;

    memset(out, 0, sizeof(*out));
    dg_rng_seed(&g->r, seed);
    out->mode = CH(1, 3) ? DG_BINARY : DG_TEXT;
    /* guard sequences speak the protocol the server accepts */
    if (only != NULL && fs->proto == DG_ONLY_ASCII)
        out->mode = DG_TEXT;
    if (only != NULL && fs->proto == DG_ONLY_BINARY)
        out->mode = DG_BINARY;
    g->clean = only != NULL || CH(2, 5);
    out->chunk_seed = CH(1, 2) ? dg_rng_next(&g->r) | 1 : 0;
    /*
     * Binary packets to an ascii-only server are text lines that rarely
     * hold a '\n'. Both servers close a connection whose buffered input
     * has more than 2048 bytes and no newline (unless it starts with
     * "get "/"gets "), and answer ERROR when the whole line is there at
     * once: which one happens depends on how the bytes arrive. So such a
     * sequence goes out a batch per send(), with short values.
     */
    g->ascii_bin = fs->proto == DG_ONLY_ASCII && out->mode == DG_BINARY;
    if (g->ascii_bin)
        out->chunk_seed = 0;
    n = 1 + R(CH(1, 4) ? 60 : 20);
    for (uint32_t i = 0; i < n; i++) {
        /*
         * Guard sequences under a small -m only churn big values: mcd never
         * goes past -m and takes pages from other classes, so a small item
         * memcached keeps (every class keeps its first page there) may be
         * gone in mcd; that documented difference is for the hunt to show.
         */
        if (fs->evictions && (only != NULL || CH(1, 5))) {
            /* the pair stays in one batch, alone with its reader */
            if (out->n > 0)
                out->reqs[out->n - 1].batch_end = true;
            big_pair(g, out->mode == DG_BINARY);
            out->reqs[out->n - 1].batch_end = true;
            g->nread = false;
            continue;
        }
        if (out->mode == DG_TEXT) {
            uint32_t k = R(100);
            if (k < 28)
                text_storage(g);
            else if (k < 46)
                text_retrieval(g);
            else if (k < 54 && !g->nread)
                text_arith(g);
            else if (k < 66)
                text_misc(g);
            else if (k < 70 && !g->nread)
                text_arith(g);
            else
                meta_cmd(g);
            /* meta ma on a numeric key read in this batch: drop it */
            if (g->nread && out->n > 0 && strcmp(out->reqs[out->n - 1].cls, "meta.ma") == 0) {
                free(out->reqs[out->n - 1].b);
                out->n--;
            }
        } else {
            bin_cmd(g);
            const char *c = out->reqs[out->n - 1].cls;
            if (strcmp(c, "bin.arith") == 0 && g->nread) {
                free(out->reqs[out->n - 1].b);
                out->n--;
            }
        }
        if (out->n > 0 && CH(1, 4)) {
            out->reqs[out->n - 1].batch_end = true;
            g->nread = false;
        }
    }
    if (CH(1, 25)) {
        if (out->mode == DG_TEXT)
            text_quit(g);
        else
            bin_quit(g);
    }
    if (only != NULL || dg_gen_avoid != NULL)
        filter(out, only);
    if (out->n == 0) {
        struct mcd_buf b = {0};
        mcd_buf_addf(&b, "%s", out->mode == DG_TEXT ? "version\r\n" : "");
        if (out->mode == DG_BINARY) {
            unsigned char hdr[24] = {0x80, 0x0b};
            mcd_buf_add(&b, hdr, 24);
        }
        push(g, &b, out->mode == DG_TEXT ? "text.version" : "bin.version", -1, 0, false);
    }
    out->reqs[out->n - 1].batch_end = true;
}
