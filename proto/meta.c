/*
 * meta.c - the meta text commands: line parser and reply encoders.
 *
 * Compatibility rules, each checked against memcached 1.6.45 (the oracle)
 * by sending the bytes on the left and recording the reply on the right.
 * "CE" is "CLIENT_ERROR ", BCLF "bad command line format", K251 a 251-byte
 * key. tests/unit/proto/test_meta.c pins the parser rules and
 * tests/integration/meta_cases/meta.cases the exchanges.
 *
 *  Command line
 *   "mg", "mg ", "md", "ma", "ms", "me"    -> CE BCLF (no key)
 *   "ms k" (no datalen)                    -> CE BCLF
 *   "mn anything"                          -> MN (arguments ignored)
 *   "MG k", "mgx k", "mz k", "  mg k"      -> ERROR
 *   "mg  k  v" (runs of spaces)            -> served; only ' ' separates
 *   "mg k\tv"                              -> key "k\tv"
 *   NUL bytes are ordinary bytes: "mg k v\0 t" is v and t; "mg\0 k": ERROR
 *   a flag whose first byte is not 0-9 or  -> CE BCLF for the whole line,
 *     'A'..'z' ("!", "@", "{", "\xc3")        before any other check; ms: the
 *                                             data is not swallowed
 *   K251 with mg/ms/md/me                  -> CE BCLF (ms: data swallowed)
 *   key checked before base64 decoding     -> a 251-byte b key is CE BCLF
 *   19 flags (ms: 18)                      -> CE options flags are too long
 *   "ms k abc", "ms k -1", "ms k +1"       -> CE BCLF, data not swallowed
 *  Flags (shared pre-parse, in request order)
 *   unknown letter or digit                -> CE invalid flag (at once)
 *   repeated letter ("v v", "Oa Ob")       -> CE duplicate flag (at once)
 *   "vv" (trailing bytes of a plain flag)  -> same as "v"
 *   numbers: decimal digits only, no '+', no wrap-around, at most 11 bytes
 *     (T N R F) or 22 (C E J D) even for zeros; "T-" is T0
 *   T/N/R not an i32 ("T", "Tx", "T+5")    -> CE bad token in command line format
 *   C/E not a u64 ("C-1")                  -> CE bad token in command line format
 *   F not a u32 ("Fx", "F4294967296")      -> CE BCLF (a later bad token's message wins)
 *   J / D not a u64                        -> CE invalid numeric initial/delta value
 *   M: the byte after it is the mode ("MEE" is E); checked by ms / ma only
 *   b with a key that is not base64        -> CE error decoding key; decoding is
 *     lax: bytes outside the alphabet are skipped, the first group with '='
 *     ends the key ("YjE=YjE=" -> "b1", "Yj=E" -> "b0")
 *   O longer than 31 bytes                 -> mg, ma: run, then CE opaque token
 *                                             too long; md: that error only; ms:
 *                                             that error, data swallowed, a CAS
 *                                             used up (process_meta)
 *   P, L (proxy hints), x, E, s            -> accepted by every command
 *   md: pre-parse messages as they are; ma: any of them (key length
 *     included)                            -> CE invalid or duplicate flag
 *   ms: any error after the datalen        -> the data block is swallowed
 *   ms M<bad> / ma M<bad> ("M", "Mset")    -> CE invalid mode for ms/ma M token
 *   errors are never silenced by q
 *  mg
 *   hit, no v                              -> HD <flags>; with v: VA <n> <flags>
 *   C<cas> with v: HD (no value) when the item's CAS is <cas> (-C: C0)
 *   miss                                   -> EN, plus O and k (and b) only
 *   q: miss silent; hits are still sent (HD and VA)
 *   return flags c f h k l O s t in order; t -1 when no TTL
 *   k: base64 with " b" when the item was stored with b (not by this b)
 *   h, l: the values before this access; u: no bump, no "fetched" mark
 *   T: applied in flag order ("t T60" shows the old TTL, "T60 t" the new)
 *   T on a hit counts cmd_touch/touch_hits, not cmd_get
 *   N on a miss: creates an empty item (flags 0, CAS from E if given),
 *     replies as a hit with W; its TTL is set when the N flag is reached in
 *     flag order ("t N30" -> t-1, "N30 t" -> t30); counted as get_hits
 *   afterwards (token sent, item not replaced): Z on every mg
 *   R<n>: W when the item has a TTL and less than n seconds remain at R's
 *     place in flag order ("T10 R20" wins), and no token was sent yet; then Z
 *   stale item (md I, ms C<lower> I): X; the first mg gets W, later Z
 *   trailer order: Z, X, W
 *  ms
 *   HD / NS / EX / NF; return flags O k c s (c0 unless stored; s the size
 *     stored, or the request's on failure); q hides HD only
 *   modes E A P R S (add append prepend replace set); lower case invalid
 *   C with S/R mode: a cas (NF missing, EX mismatch); E mode ignores C;
 *     A/P: EX on mismatch, NS when missing, C0 (and any C under -C) no check
 *   A/P with N<ttl>: a miss stores the value with N's TTL
 *   E<cas>: the stored item gets that CAS
 *   C<lower than the item's> with I: stored, marked stale, TTL and token
 *     state kept; C higher: EX
 *   "ms k 1\r\nabc\r\n"                     -> CE bad data chunk (q too), then the
 *                                             rest is read as commands
 *   too large                              -> SERVER_ERROR object too large for
 *                                             cache, data swallowed, old item gone
 *  md
 *   HD / NF / EX; return flags O k; q hides HD only (NF still sent)
 *   I: mark stale, new CAS (E's if given; no delete counted); T with I sets the TTL
 *   x: the value replaced by an empty one (flags from F or 0, TTL from T or none)
 *   C0 is compared like any CAS (an existing item: EX)
 *  ma
 *   HD, or VA <n> with v (the number, not the padded item); NF, NS, EX
 *   return flags O k t c (v); others ignored; q hides HD and VA
 *   N<ttl> on a miss: creates J (default 0) without applying D; no miss
 *     counted; M I + D - modes ("Mi", "Md": invalid mode; default incr,
 *     D default 1); decr floors at 0; C0 means no CAS check; E sets the CAS
 *   t: the TTL at its place among T and N; the item ends with the last
 *   non-numeric value -> CE cannot increment or decrement non-numeric value
 *     (an empty value says so even when C does not match)
 *  me
 *   "ME <key> exp=<seconds left or -1> la=<secs> cas=<n> fetch=yes|no
 *     cls=<class> size=<bytes>"; miss: EN; "me <b64> b" decodes the key
 *     (bad base64: CE BCLF; 1.6.45 decodes only when a token follows the
 *     b, not copied); printed base64 when the item's key is binary; other
 *     extra tokens ignored
 *  mn -> MN
 */
#include "config.h"

#include "proto/meta.h"

#include "proto/reply.h"
#include "proto/text.h"
#include "proto/token.h"

#include <string.h>

#define META_LINE_MAX TEXT_LINE_MAX
#define META_TOK_CAP 24   /* tokens looked at; any more is "too long" anyway */

static const char *const E_BCLF = "bad command line format";
static const char *const E_BAD_TOKEN = "bad token in command line format";

bool meta_is_meta(const char *buf, size_t len)
{
    size_t i = 0; /* 1.6.45: "  mg k" is not a meta command (ERROR) */

    if (len < 3 || buf[i] != 'm')
        return false;
    if (strchr("gsdane", buf[i + 1]) == NULL || buf[i + 1] == '\0')
        return false;
    char c = buf[i + 2];
    /* "mg\0" is an unknown command; "mn\n" is a line too short for any
     * command (text_parse answers it) */
    return c == ' ' || c == '\r';
}

static enum proto_status cerr(const char **errmsg, const char *msg)
{
    *errmsg = msg;
    return PROTO_CLIENT_ERROR;
}

/* ---- base64 ---- */

static const char b64_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/*
 * As lax as memcached's decoder: bytes outside the alphabet are skipped,
 * but the bytes inside it ('=' included) must come in groups of four; the
 * first group holding '=' ends the key ('=' counts as 0, one pad drops one
 * byte, two drop two, more is an error). "YjE=YjE=" is "b1"; "Yj=E" "b0".
 */
size_t meta_base64_decode(const char *in, size_t n, char *out, size_t out_cap)
{
    size_t count = 0, o = 0;
    int v[4];
    int pad = 0;

    for (size_t i = 0; i < n; i++)
        if (in[i] == '=' || b64_val((unsigned char)in[i]) >= 0)
            count++;
    if (count == 0 || count % 4 != 0)
        return 0;
    count = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        int x = c == '=' ? 0 : b64_val(c);
        if (x < 0)
            continue;
        if (c == '=')
            pad++;
        v[count++] = x;
        if (count < 4)
            continue;
        count = 0;
        if (pad > 2 || o + 3 > out_cap)
            return 0;
        uint32_t w = ((uint32_t)v[0] << 18) | ((uint32_t)v[1] << 12) | ((uint32_t)v[2] << 6) | (uint32_t)v[3];
        out[o++] = (char)(w >> 16);
        out[o++] = (char)(w >> 8);
        out[o++] = (char)w;
        if (pad > 0) {
            o -= (size_t)pad;
            break;
        }
    }
    return o;
}

size_t meta_base64_encode(const char *in, size_t n, char *out, size_t out_cap)
{
    size_t o = 0;

    if (out_cap < 4 * ((n + 2) / 3))
        return 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t w = (uint32_t)(unsigned char)in[i] << 16;
        if (i + 1 < n)
            w |= (uint32_t)(unsigned char)in[i + 1] << 8;
        if (i + 2 < n)
            w |= (uint32_t)(unsigned char)in[i + 2];
        out[o++] = b64_chars[(w >> 18) & 63];
        out[o++] = b64_chars[(w >> 12) & 63];
        out[o++] = i + 1 < n ? b64_chars[(w >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? b64_chars[w & 63] : '=';
    }
    return o;
}

/* ---- parser ---- */

/* Numbers as 1.6.45 reads meta tokens: decimal digits only (no '+', no
 * spaces, no wrap-around); signed ones may start with '-', and "-" alone
 * is 0. A token longer than 11 bytes (32-bit numbers) or 22 bytes (64-bit)
 * is refused whatever its value ("T000000000000"). */
#define META_NUM32_LEN_MAX 11
#define META_NUM64_LEN_MAX 22

static bool num_u64(const char *p, size_t n, uint64_t *out)
{
    return n <= META_NUM64_LEN_MAX && token_parse_digits_u64(p, n, out);
}

static bool num_u32(const char *p, size_t n, uint32_t *out)
{
    uint64_t v;
    if (n > META_NUM32_LEN_MAX || !num_u64(p, n, &v) || v > UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    return true;
}

static bool num_i32(const char *p, size_t n, int32_t *out)
{
    bool neg = n > 0 && p[0] == '-';
    uint64_t v = 0;
    if (n > META_NUM32_LEN_MAX)
        return false;
    if (!(neg && n == 1) && !num_u64(p + neg, n - neg, &v))
        return false;
    if (v > (neg ? (uint64_t)INT32_MAX + 1 : (uint64_t)INT32_MAX))
        return false;
    *out = neg ? (int32_t)(0 - v) : (int32_t)v;
    return true;
}

/*
 * The flag pre-parse every command shares: records each flag and its
 * token, in order. Unknown and repeated flags fail at once; a bad token
 * records its message and parsing goes on (the last message wins), as
 * memcached does. Returns true when all is well.
 */
static bool preparse(const struct token *t, size_t nt, size_t first, const struct token *key,
                     struct meta_request *req, const char **errmsg)
{
    bool bad = false;

    for (size_t i = first; i < nt; i++) {
        unsigned char o = (unsigned char)t[i].p[0];
        const char *v = t[i].p + 1;
        size_t vn = t[i].n - 1;
        bool alpha = (o >= 'a' && o <= 'z') || (o >= 'A' && o <= 'Z');

        if (alpha && (req->seen & META_BIT(o))) {
            *errmsg = "duplicate flag";
            return false;
        }
        switch (o) {
        case 'b': {
            char dec[PROTO_KEY_MAX];
            size_t n = meta_base64_decode(key->p, key->n, dec, sizeof(dec));
            if (n == 0) {
                *errmsg = "error decoding key";
                bad = true;
            } else {
                memcpy(req->key, dec, n);
                req->nkey = (uint8_t)n;
            }
            req->key_binary = true;
            break;
        }
        case 'N':
        case 'T':
        case 'R': {
            int32_t x;
            if (!num_i32(v, vn, &x)) {
                *errmsg = E_BAD_TOKEN;
                bad = true;
            } else if (o == 'N') {
                req->vivify_ttl = x;
            } else if (o == 'T') {
                req->ttl = x;
            } else {
                req->recache = x;
            }
            break;
        }
        case 'F': {
            /* 32 bits, strictly: F4294967296 is refused (1.6.45) */
            if (!num_u32(v, vn, &req->client_flags))
                bad = true; /* message unchanged */
            break;
        }
        case 'C':
        case 'E':
            if (!num_u64(v, vn, o == 'C' ? &req->cas : &req->new_cas)) {
                *errmsg = E_BAD_TOKEN;
                bad = true;
            }
            break;
        case 'M':
            /* checked by ms and ma only */
            req->mode = t[i].n >= 2 ? t[i].p[1] : '?'; /* "MEE" is E */
            break;
        case 'J':
            if (!num_u64(v, vn, &req->initial)) {
                *errmsg = "invalid numeric initial value";
                bad = true;
            }
            break;
        case 'D':
            if (!num_u64(v, vn, &req->delta)) {
                *errmsg = "invalid numeric delta value";
                bad = true;
            }
            break;
        case 'O':
            /* too long: mg and ma still run, ms and md do not; all answer
             * with the error (meta_parse, process_meta) */
            if (vn > META_OPAQUE_MAX) {
                req->opaque_too_long = true;
            } else {
                memcpy(req->opaque, v, vn);
                req->nopaque = (uint8_t)vn;
            }
            break;
        case 'P': case 'L':
        case 'k': case 's': case 't': case 'c': case 'f': case 'v':
        case 'h': case 'u': case 'q': case 'l': case 'I': case 'x':
            break;
        default:
            *errmsg = "invalid flag";
            return false;
        }
        req->seen |= META_BIT(o);
        req->order[req->nflags++] = (char)o;
    }
    return !bad;
}

/* 1.6.45 refuses the whole line, before anything else, when a flag starts
 * with a byte that is neither a digit nor in 'A'..'z'. */
static bool flags_charset_ok(const struct token *t, size_t nt, size_t first)
{
    for (size_t i = first; i < nt; i++) {
        unsigned char c = (unsigned char)t[i].p[0];
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'z')))
            return false;
    }
    return true;
}

enum proto_status meta_parse(const char *buf, size_t len, struct meta_request *req, size_t *consumed,
                             const char **errmsg, size_t *swallow)
{
    const char *nl = memchr(buf, '\n', len);

    *consumed = 0;
    *swallow = 0;
    if (nl == NULL)
        return len <= META_LINE_MAX ? PROTO_NEED_MORE : PROTO_CLOSE;
    size_t linelen = (size_t)(nl - buf);
    if (linelen >= TEXT_LINE_BUF_MAX)
        return PROTO_CLOSE;
    /* one trailing "\r" dropped; a NUL is an ordinary byte here (1.6.45:
     * "mg k v\0 t" is v and t, "mg k\0" another key), unlike in text */
    size_t n = linelen > 0 && buf[linelen - 1] == '\r' ? linelen - 1 : linelen;
    *consumed = linelen + 1;

    memset(req, 0, sizeof(*req));
    req->delta = 1;
    *errmsg = E_BCLF;

    struct token t[META_TOK_CAP];
    size_t nt = token_split(buf, n, t, META_TOK_CAP);
    if (nt == 0 || t[0].n != 2 || t[0].p[0] != 'm')
        return PROTO_ERROR;
    switch (t[0].p[1]) {
    case 'g': req->cmd = META_CMD_MG; break;
    case 's': req->cmd = META_CMD_MS; break;
    case 'd': req->cmd = META_CMD_MD; break;
    case 'a': req->cmd = META_CMD_MA; break;
    case 'n': req->cmd = META_CMD_MN; return PROTO_OK;
    case 'e': req->cmd = META_CMD_ME; break;
    default: return PROTO_ERROR;
    }
    if (nt < 2)
        return cerr(errmsg, E_BCLF);
    size_t first = req->cmd == META_CMD_MS ? 3 : 2;
    if (nt > META_TOK_CAP) {
        /* too many to keep: check the bytes of every flag on the line */
        size_t pos = t[META_TOK_CAP - 1].p + t[META_TOK_CAP - 1].n - buf;
        const char *p;
        size_t np;
        while (token_next(buf, n, &pos, &p, &np)) {
            struct token x = {p, np};
            if (!flags_charset_ok(&x, 1, 0))
                return cerr(errmsg, E_BCLF);
        }
    }
    if (!flags_charset_ok(t, nt > META_TOK_CAP ? META_TOK_CAP : nt, first))
        return cerr(errmsg, E_BCLF);
    const struct token *key = &t[1];
    bool key_ok = key->n <= PROTO_KEY_MAX;
    if (key_ok) {
        memcpy(req->key, key->p, key->n);
        req->nkey = (uint8_t)key->n;
    }

    if (req->cmd == META_CMD_ME) {
        /* "me <key> b": the key is base64 (protocol.txt). 1.6.45 decodes it
         * only when another token follows the b, an off-by-one not copied
         * (memcached-compat.md) */
        if (!key_ok)
            return cerr(errmsg, E_BCLF);
        if (nt >= 3 && t[2].n == 1 && t[2].p[0] == 'b') {
            char dec[PROTO_KEY_MAX];
            size_t dn = meta_base64_decode(key->p, key->n, dec, sizeof(dec));
            if (dn == 0)
                return cerr(errmsg, E_BCLF);
            memcpy(req->key, dec, dn);
            req->nkey = (uint8_t)dn;
            req->key_binary = true;
        }
        return PROTO_OK;
    }

    if (req->cmd == META_CMD_MS) {
        if (nt == 2)
            return cerr(errmsg, E_BCLF);
        int32_t vlen;
        if (!num_i32(t[2].p, t[2].n, &vlen) || vlen < 0 || vlen > INT32_MAX - 2)
            return cerr(errmsg, E_BCLF);
        req->vlen = (uint32_t)vlen;
        *swallow = (size_t)vlen + 2;
    }
    const char *perr = E_BCLF;
    bool ok;
    if (!key_ok) {
        ok = false;
    } else if (nt > META_TOKENS_MAX) {
        perr = "options flags are too long";
        ok = false;
    } else {
        ok = preparse(t, nt, first, key, req, &perr);
    }
    if (!ok)
        return cerr(errmsg, req->cmd == META_CMD_MA ? "invalid or duplicate flag" : perr);
    if (req->cmd == META_CMD_MS) {
        switch (req->mode) {
        case 0: case 'E': case 'A': case 'P': case 'R': case 'S': break;
        default: return cerr(errmsg, "invalid mode for ms M token");
        }
    } else if (req->cmd == META_CMD_MA) {
        switch (req->mode) {
        case 0: case 'I': case '+': case 'D': case '-': break;
        default: return cerr(errmsg, "invalid mode for ma M token");
        }
    }
    if (req->opaque_too_long && req->cmd == META_CMD_MD)
        return cerr(errmsg, "opaque token too long");
    *swallow = 0;
    return PROTO_OK;
}

/* ---- encoders ---- */

bool meta_quiet(const struct meta_request *req, enum meta_status st)
{
    if (!meta_has(req, 'q'))
        return false;
    switch (req->cmd) {
    case META_CMD_MG: return st == META_EN;
    case META_CMD_MS:
    case META_CMD_MD: return st == META_HD;
    case META_CMD_MA: return st == META_HD || st == META_VA;
    default: return false;
    }
}

/* Room for the header line: code, size, every flag with its longest value. */
#define META_HDR_MAX (4 + TOKEN_U64_DIGITS + META_FLAGS_MAX * (2 + TOKEN_U64_DIGITS) + 2 * (PROTO_KEY_MAX + 8) + \
                      META_OPAQUE_MAX + 16)

static char *put_u64(char *p, uint64_t v)
{
    return p + token_fmt_u64(p, v);
}

static char *put_i64(char *p, int64_t v)
{
    if (v < 0) {
        *p++ = '-';
        return put_u64(p, (uint64_t)0 - (uint64_t)v);
    }
    return put_u64(p, (uint64_t)v);
}

static char *put_key(char *p, bool binary, const char *key, size_t nkey)
{
    *p++ = ' ';
    *p++ = 'k';
    if (binary) {
        p += meta_base64_encode(key, nkey, p, 4 * ((PROTO_KEY_MAX + 2) / 3));
        memcpy(p, " b", 2);
        p += 2;
    } else {
        memcpy(p, key, nkey);
        p += nkey;
    }
    return p;
}

/* The TTL a 't' at flag position `pos` shows: T and N take effect in order. */
static int64_t ttl_at(const struct meta_request *req, const struct meta_result *res, size_t pos)
{
    int64_t ttl = res->ttl_before;
    for (size_t i = 0; i < pos; i++) {
        if (req->order[i] == 'T' && res->touched)
            ttl = res->ttl_touch;
        else if (req->order[i] == 'N' && res->created)
            ttl = res->ttl_vivify;
    }
    return ttl;
}

/* Which return flags the command sends for this outcome. */
static const char *returned_flags(const struct meta_request *req, enum meta_status st)
{
    bool ok = st == META_HD || st == META_VA;
    switch (req->cmd) {
    case META_CMD_MG: return ok ? "cfhklOst" : "kO";
    case META_CMD_MS: return "kOcs";
    case META_CMD_MD: return "kO";
    case META_CMD_MA: return ok ? "kOtc" : "kO";
    default: return "";
    }
}

int meta_encode(struct reply *r, const struct meta_request *req, const struct meta_result *res)
{
    static const char codes[][3] = {"HD", "VA", "EN", "NF", "NS", "EX"};
    const bool va = res->status == META_VA;
    char num[TOKEN_U64_DIGITS];
    size_t numlen = 0;

    if (va && req->cmd == META_CMD_MA)
        numlen = token_fmt_u64(num, res->number);
    /* header, data (reference or copy) and "\r\n" */
    if (reply_ensure(r, 3, META_HDR_MAX + TOKEN_U64_DIGITS + 4) != 0)
        return -1;
    char *s = reply_reserve(r, META_HDR_MAX);
    char *p = s;
    memcpy(p, codes[res->status], 2);
    p += 2;
    if (va) {
        *p++ = ' ';
        p = put_u64(p, req->cmd == META_CMD_MA ? numlen : res->nbytes);
    }
    const char *want = returned_flags(req, res->status);
    for (size_t i = 0; i < req->nflags; i++) {
        char f = req->order[i];
        if (strchr(want, f) == NULL)
            continue;
        switch (f) {
        case 'k':
            p = put_key(p, res->key_binary, res->key, res->nkey);
            continue;
        case 'O':
            *p++ = ' ';
            *p++ = 'O';
            memcpy(p, req->opaque, req->nopaque);
            p += req->nopaque;
            continue;
        default:
            break;
        }
        *p++ = ' ';
        *p++ = f;
        switch (f) {
        case 'c': p = put_u64(p, res->cas); break;
        case 'f': p = put_u64(p, res->flags); break;
        case 'h': *p++ = res->hit_before ? '1' : '0'; break;
        case 'l': p = put_u64(p, res->last_access); break;
        case 's': p = put_u64(p, res->size); break;
        case 't': p = put_i64(p, ttl_at(req, res, i)); break;
        default: break;
        }
    }
    if (req->cmd == META_CMD_MG && (res->status == META_HD || va)) {
        if (res->token_sent) {
            memcpy(p, " Z", 2);
            p += 2;
        }
        if (res->stale) {
            memcpy(p, " X", 2);
            p += 2;
        }
        if (res->win) {
            memcpy(p, " W", 2);
            p += 2;
        }
    }
    *p++ = '\r';
    *p++ = '\n';
    reply_commit(r, (size_t)(p - s));
    if (!va)
        return 0;
    if (req->cmd == META_CMD_MA) {
        reply_add_copy(r, num, numlen);
    } else if (reply_add_ref(r, res->data, res->nbytes, res->owner) != 0) {
        return -1; /* cannot happen after reply_ensure */
    }
    return reply_add_copy(r, "\r\n", 2);
}

int meta_encode_mn(struct reply *r)
{
    return reply_add_static(r, "MN\r\n");
}

int meta_encode_debug(struct reply *r, const struct meta_request *req, const struct meta_debug *d)
{
    char key[4 * ((PROTO_KEY_MAX + 2) / 3) + 1];
    size_t nkey;

    if (d->key_binary) {
        nkey = meta_base64_encode(req->key, req->nkey, key, sizeof(key));
    } else {
        memcpy(key, req->key, req->nkey);
        nkey = req->nkey;
    }
    return reply_printf(r, "ME %.*s exp=%lld la=%llu cas=%llu fetch=%s cls=%u size=%llu\r\n", (int)nkey, key,
                        (long long)d->exp, (unsigned long long)d->la, (unsigned long long)d->cas,
                        d->fetched ? "yes" : "no", d->cls, (unsigned long long)d->size);
}
