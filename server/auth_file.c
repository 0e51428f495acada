/*
 * auth_file.c - the ASCII auth file (-Y): its table, the constant-time
 * check, and the text handshake parser (see auth_file.h).
 *
 * The current table is one atomic pointer: workers load it (acquire) per
 * check, SIGHUP swaps in a new one (release). A replaced table may still be
 * read by a worker, so it is retired on a list and freed at teardown only;
 * reloads are rare and a table is small.
 */
#include "config.h"

#include "server/auth_file.h"

#include "server/log.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct auth_entry {
    const char *user, *pass;
    size_t ulen, plen;
};

struct auth_table {
    struct auth_table *retired_next;
    size_t n;
    char *bytes;                 /* a copy of the file; entries point into it */
    struct auth_entry e[];
};

struct auth_table *auth_table_parse(const char *buf, size_t len)
{
    size_t lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += buf[i] == '\n';
    lines++;
    struct auth_table *t = calloc(1, sizeof(*t) + lines * sizeof(t->e[0]));
    if (t == NULL)
        return NULL;
    t->bytes = malloc(len + 1);
    if (t->bytes == NULL) {
        free(t);
        return NULL;
    }
    memcpy(t->bytes, buf, len);
    const char *p = t->bytes, *end = t->bytes + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl != NULL ? nl : end;
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        if (colon == NULL)
            break;
        const char *pend = eol;
        if (pend > colon + 1 && pend[-1] == '\r')
            pend--;
        t->e[t->n++] = (struct auth_entry){p, colon + 1, (size_t)(colon - p), (size_t)(pend - colon - 1)};
        p = nl != NULL ? nl + 1 : end;
    }
    if (p < end || t->n == 0) {
        auth_table_free(t);
        return NULL;
    }
    return t;
}

void auth_table_free(struct auth_table *t)
{
    if (t == NULL)
        return;
    free(t->bytes);
    free(t);
}

unsigned auth_diff_bytes(const char *e, size_t ne, const char *o, size_t no)
{
    static const char none = 0;
    const volatile unsigned char *x = (const unsigned char *)(ne > 0 ? e : &none);
    const volatile unsigned char *y = (const unsigned char *)o;
    size_t m = ne > 0 ? ne : 1, k = 0;
    unsigned d = (unsigned)(ne != no);
    for (size_t i = 0; i < no; i++) {
        d |= (unsigned)(x[k] ^ y[i]);
        k = k + 1 == m ? 0 : k + 1;
    }
    return d;
}

bool auth_table_check(const struct auth_table *t, const char *user, size_t ulen, const char *pass,
                      size_t plen)
{
    unsigned found = 0;
    for (size_t i = 0; i < t->n; i++) {
        const struct auth_entry *e = &t->e[i];
        unsigned d = auth_diff_bytes(e->user, e->ulen, user, ulen) | auth_diff_bytes(e->pass, e->plen, pass, plen);
        found |= (unsigned)(d == 0);
    }
    return found != 0;
}

/* ---- the server's table ---------------------------------------------------- */

static _Atomic(struct auth_table *) current;
static struct auth_table *retired;   /* main thread only */
static const char *file_path;

/* Reads and parses path. NULL with a message (memcached's words) on stderr. */
static struct auth_table *load(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        int e = errno;
        fprintf(stderr, "Could not open authfile [%s] for reading, error %s: %s\n", path, strerror(e),
                strerror(e));
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    while (buf != NULL) {
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (len < cap)
            break;
        char *nb = realloc(buf, cap * 2);
        if (nb == NULL) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    bool read_error = ferror(f) != 0;
    fclose(f);
    if (buf == NULL || read_error) {
        free(buf);
        fprintf(stderr, "Could not read authfile [%s]\n", path);
        return NULL;
    }
    struct auth_table *t = auth_table_parse(buf, len);
    free(buf);
    if (t == NULL)
        fprintf(stderr, "Authfile [%s] has a malformed entry. Should be 'user:password'\n", path);
    return t;
}

int auth_file_setup(const char *path)
{
    struct auth_table *t = load(path);
    if (t == NULL)
        return -1;
    file_path = path;
    atomic_store_explicit(&current, t, memory_order_release);
    return 0;
}

void auth_file_reload(void)
{
    if (file_path == NULL)
        return;
    struct auth_table *t = load(file_path);
    if (t == NULL) {
        log_msg(LOG_WARN, "auth file %s not reloaded; the previous entries stay", file_path);
        return;
    }
    size_t n = t->n;
    auth_file_use(t);
    log_msg(LOG_INFO, "auth file %s reloaded: %zu entries", file_path, n);
}

void auth_file_use(struct auth_table *t)
{
    struct auth_table *old = atomic_exchange_explicit(&current, t, memory_order_acq_rel);
    if (old != NULL) {
        old->retired_next = retired;
        retired = old;
    }
}

void auth_file_teardown(void)
{
    auth_table_free(atomic_exchange(&current, NULL));
    while (retired != NULL) {
        struct auth_table *next = retired->retired_next;
        auth_table_free(retired);
        retired = next;
    }
    file_path = NULL;
}

bool auth_file_check(const char *user, size_t ulen, const char *pass, size_t plen)
{
    const struct auth_table *t = atomic_load_explicit(&current, memory_order_acquire);
    return t != NULL && auth_table_check(t, user, ulen, pass, plen);
}

/* ---- the handshake --------------------------------------------------------- */

/* The next space-separated token of [*p, end): false when none is left. */
static bool next_token(const char **p, const char *end, const char **tok, size_t *n)
{
    const char *s = *p;
    while (s < end && *s == ' ')
        s++;
    if (s == end)
        return false;
    const char *e = s;
    while (e < end && *e != ' ')
        e++;
    *tok = s;
    *n = (size_t)(e - s);
    *p = e;
    return true;
}

/* The length token as 1.6.45 reads it: decimal digits up to 2^32-1, a
 * trailing "\r" (or other whitespace) allowed; no sign, no leading blank. */
static bool parse_len(const char *s, size_t n, uint32_t *out)
{
    size_t i = 0;
    uint64_t v = 0;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
        v = v * 10 + (uint64_t)(s[i] - '0');
        if (v > UINT32_MAX)
            return false;
    }
    if (i == 0)
        return false;
    for (; i < n; i++)
        if (s[i] != '\r' && s[i] != '\t' && s[i] != '\v' && s[i] != '\f')
            return false;
    *out = (uint32_t)v;
    return true;
}

enum auth_step auth_line_parse(const char *buf, size_t len, size_t *consumed, struct auth_token *tok)
{
    *consumed = 0;
    if (len < 3)
        return AUTH_NEED_MORE;
    const char *nl = memchr(buf, '\n', len);
    if (nl == NULL)
        return len > AUTH_LINE_MAX ? AUTH_CLOSE : AUTH_NEED_MORE;
    size_t linelen = (size_t)(nl - buf);
    if (linelen < AUTH_LINE_MIN)
        return AUTH_CLOSE;

    const char *p = buf, *end = nl, *t[5];
    size_t tn[5], ntok = 0;
    while (ntok < 5 && next_token(&p, end, &t[ntok], &tn[ntok]))
        ntok++;
    uint32_t size = 0;
    if (ntok < 5 || tn[0] != 3 || memcmp(t[0], "set", 3) != 0 || !parse_len(t[4], tn[4], &size)) {
        *consumed = linelen + 1;
        return AUTH_UNAUTHENTICATED;
    }
    if (size > AUTH_TOKEN_MAX) {
        *consumed = linelen + 1;
        return AUTH_TOO_LONG;
    }
    size_t start = linelen + 1;
    if (len - start < (size_t)size + 2)
        return AUTH_NEED_MORE;
    const char *data = buf + start;
    *consumed = start + size + 2;
    if (data[size] != '\r' || data[size + 1] != '\n')
        return AUTH_BAD_TERMINATION;
    const char *sp = memchr(data, ' ', size);
    if (sp == NULL)
        return AUTH_BAD_FORMAT;
    tok->user = data;
    tok->ulen = (size_t)(sp - data);
    tok->pass = sp + 1;
    tok->plen = size - tok->ulen - 1;
    return AUTH_TOKEN;
}

const char *auth_step_reply(enum auth_step step, bool ok)
{
    switch (step) {
    case AUTH_UNAUTHENTICATED: return "CLIENT_ERROR unauthenticated";
    case AUTH_TOO_LONG: return "CLIENT_ERROR auth token too long";
    case AUTH_BAD_TERMINATION: return "CLIENT_ERROR bad command line termination";
    case AUTH_BAD_FORMAT: return "CLIENT_ERROR bad authentication token format";
    case AUTH_TOKEN: return ok ? "STORED" : "CLIENT_ERROR authentication failure";
    case AUTH_NEED_MORE:
    case AUTH_CLOSE: break;
    }
    return NULL;
}
