/*
 * cases.c - parse, run, record and rewrite byte-level case tables.
 * See cases.h for the file format.
 */
#include "config.h"

#include "tests/lib/cases.h"
#include "tests/lib/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/harness.h"

/* Noreply set + get of a private key: its reply is unique in the stream. */
#define SYNC_REQ "set __mcd_sync__ 0 0 13 noreply\r\n<<SYNC-9d41>>\r\nget __mcd_sync__\r\n"
#define SYNC_TAIL "<<SYNC-9d41>>\r\nEND\r\n"
#define SYNC_HEAD "VALUE __mcd_sync__ 0 13\r\n"

/* Decodes escapes of one directive's text into b; false on a bad escape. */
static bool unescape(const char *s, struct mcd_buf *b)
{
    while (*s != '\0') {
        if (*s == '\\') {
            s++;
            switch (*s) {
            case 'r': mcd_buf_addc(b, '\r'); s++; break;
            case 'n': mcd_buf_addc(b, '\n'); s++; break;
            case 't': mcd_buf_addc(b, '\t'); s++; break;
            case '\\': mcd_buf_addc(b, '\\'); s++; break;
            case '{': mcd_buf_addc(b, '{'); s++; break;
            case 'x': {
                int h = mcd_hexval(s[1]), l = h >= 0 ? mcd_hexval(s[2]) : -1;

                if (l < 0)
                    return false;
                mcd_buf_addc(b, (char)(h * 16 + l));
                s += 3;
                break;
            }
            default:
                return false;
            }
        } else if (strncmp(s, "{rep:", 5) == 0) {
            char *end;
            unsigned long n = strtoul(s + 5, &end, 10);

            if (*end != ':' || end[1] == '\0' || end[2] != '}')
                return false;
            for (unsigned long i = 0; i < n; i++)
                mcd_buf_addc(b, end[1]);
            s = end + 3;
        } else {
            mcd_buf_addc(b, *s++);
        }
    }
    return true;
}

struct mcd_case_file *mcd_cases_load(const char *path)
{
    FILE *fp = fopen(path, "r");
    struct mcd_case_file *f;
    struct mcd_case *cur = NULL;
    struct mcd_buf expect = {0};
    char **pending = NULL;
    size_t npending = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t ll;
    int lineno = 0;

    if (fp == NULL) {
        perror(path);
        return NULL;
    }
    f = calloc(1, sizeof(*f));
    if (f == NULL)
        abort();

    while ((ll = getline(&line, &lcap, fp)) >= 0) {
        lineno++;
        while (ll > 0 && (line[ll - 1] == '\n' || line[ll - 1] == '\r'))
            line[--ll] = '\0';
        if (line[0] == '#' || line[0] == '\0') {
            mcd_strv_push(&pending, &npending, line);
            continue;
        }
        if (strncmp(line, "=== ", 4) == 0) {
            if (cur != NULL) {
                cur->expect = expect.p ? (char *)expect.p : mcd_xstrdup("");
                cur->elen = expect.len;
                memset(&expect, 0, sizeof(expect));
            }
            f->cases = realloc(f->cases, (f->n + 1) * sizeof(*f->cases));
            if (f->cases == NULL)
                abort();
            cur = &f->cases[f->n++];
            memset(cur, 0, sizeof(*cur));
            cur->name = mcd_xstrdup(line + 4);
            cur->line = lineno;
            cur->raw = pending;
            cur->nraw = npending;
            pending = NULL;
            npending = 0;
            mcd_strv_push(&cur->raw, &cur->nraw, line);
            continue;
        }
        if (cur == NULL)
            goto bad;
        if (line[0] == '>') {
            bool bytewise = line[1] == '1';
            const char *text = line + (bytewise ? 2 : 1);
            struct mcd_buf b = {0};

            if (*text == ' ')
                text++;
            if (!unescape(text, &b))
                goto bad;
            cur->steps = realloc(cur->steps, (cur->nsteps + 1) * sizeof(*cur->steps));
            if (cur->steps == NULL)
                abort();
            cur->steps[cur->nsteps].data = b.p ? (char *)b.p : mcd_xstrdup("");
            cur->steps[cur->nsteps].len = b.len;
            cur->steps[cur->nsteps].bytewise = bytewise;
            cur->nsteps++;
            /* comments between steps are kept in place */
            for (size_t i = 0; i < npending; i++) {
                mcd_strv_push(&cur->raw, &cur->nraw, pending[i]);
                free(pending[i]);
            }
            free(pending);
            pending = NULL;
            npending = 0;
            mcd_strv_push(&cur->raw, &cur->nraw, line);
            continue;
        }
        if (strcmp(line, "<close") == 0) {
            cur->expect_close = true;
            cur->has_expect = true;
            continue;
        }
        if (line[0] == '<') {
            const char *text = line + 1;

            if (*text == ' ')
                text++;
            if (!unescape(text, &expect))
                goto bad;
            cur->has_expect = true;
            continue;
        }
    bad:
        fprintf(stderr, "%s:%d: cannot parse: %s\n", path, lineno, line);
        free(line);
        fclose(fp);
        mcd_cases_free(f);
        return NULL;
    }
    if (cur != NULL) {
        cur->expect = expect.p ? (char *)expect.p : mcd_xstrdup("");
        cur->elen = expect.len;
    }
    f->trailer = pending;
    f->ntrailer = npending;
    free(line);
    fclose(fp);
    return f;
}

void mcd_cases_free(struct mcd_case_file *f)
{
    if (f == NULL)
        return;
    for (size_t i = 0; i < f->n; i++) {
        struct mcd_case *k = &f->cases[i];

        free(k->name);
        for (size_t j = 0; j < k->nsteps; j++)
            free(k->steps[j].data);
        free(k->steps);
        free(k->expect);
        for (size_t j = 0; j < k->nraw; j++)
            free(k->raw[j]);
        free(k->raw);
    }
    for (size_t j = 0; j < f->ntrailer; j++)
        free(f->trailer[j]);
    free(f->trailer);
    free(f->cases);
    free(f);
}

char *mcd_case_collect(struct mcd_conn *c, const struct mcd_case *k, size_t *len, bool *closed, bool *synced)
{
    long long deadline;
    size_t tlen = strlen(SYNC_TAIL), hlen = strlen(SYNC_HEAD);
    char *out;

    *synced = false;
    for (size_t i = 0; i < k->nsteps; i++) {
        const struct mcd_case_step *s = &k->steps[i];

        if (!(s->bytewise ? mcd_send_bytewise(c, s->data, s->len) : mcd_send(c, s->data, s->len)))
            break;
    }
    mcd_send(c, SYNC_REQ, strlen(SYNC_REQ));

    deadline = mcd_now_ms() + MCD_IO_TIMEOUT_MS;
    for (;;) {
        if (c->len >= hlen + tlen && memcmp(c->buf + c->len - tlen, SYNC_TAIL, tlen) == 0 &&
            memcmp(c->buf + c->len - tlen - hlen, SYNC_HEAD, hlen) == 0) {
            c->len -= tlen + hlen;
            *synced = true;
            break;
        }
        long left = (long)(deadline - mcd_now_ms());
        if (left <= 0 || c->eof)
            break;
        mcd_fill(c, (int)left);
    }
    /* a closed connection may still have had bytes in flight */
    *closed = c->eof || (!*synced && mcd_expect_eof(c, 200));
    out = malloc(c->len + 1);
    if (out == NULL)
        abort();
    if (c->len > 0)
        memcpy(out, c->buf, c->len);
    out[c->len] = '\0';
    *len = c->len;
    mcd_consume(c, c->len);
    return out;
}

bool mcd_case_check(const struct mcd_server *srv, const struct mcd_case *k)
{
    struct mcd_conn *c = mcd_conn_open(srv);
    bool closed, synced, ok;
    size_t len;
    char *got;

    if (c == NULL) {
        fprintf(stderr, "case %s (line %d): cannot connect\n", k->name, k->line);
        return false;
    }
    got = mcd_case_collect(c, k, &len, &closed, &synced);
    ok = mcd_pattern_match(k->expect, k->elen, got, len) == 1 && closed == k->expect_close;
    if (!ok) {
        char *e1 = mcd_escape(k->expect, k->elen > 3000 ? 3000 : k->elen);
        char *e2 = mcd_escape(got, len > 3000 ? 3000 : len);

        fprintf(stderr, "case %s (line %d) failed:\n  expected: \"%s\"%s\n  actual:   \"%s\"%s%s\n", k->name, k->line,
                e1, k->expect_close ? " <close>" : "", e2, closed ? " <close>" : "",
                synced || closed ? "" : " <no sync reply: timeout>");
        free(e1);
        free(e2);
    }
    free(got);
    mcd_conn_close(c);
    return ok;
}

/* --- normalization and writing -------------------------------------------- */

char *mcd_reply_normalize(const char *buf, size_t len, size_t *outlen)
{
    struct mcd_buf b = {0};
    size_t i = 0;

    mcd_buf_add(&b, "", 0);
    while (i < len) {
        const char *eol = memchr(buf + i, '\n', len - i);
        size_t llen = eol ? (size_t)(eol - (buf + i)) + 1 : len - i;
        const char *l = buf + i;

        if (llen > 6 && memcmp(l, "VALUE ", 6) == 0 && eol != NULL) {
            /* VALUE key flags bytes [cas] */
            char tmp[512];
            char *tok[6];
            int nt = 0;
            size_t cl = llen < sizeof(tmp) ? llen : sizeof(tmp) - 1;

            memcpy(tmp, l, cl);
            tmp[cl] = '\0';
            for (char *save = NULL, *t = strtok_r(tmp, " \r\n", &save); t && nt < 6; t = strtok_r(NULL, " \r\n", &save))
                tok[nt++] = t;
            if (nt == 4 || nt == 5) {
                unsigned long n = strtoul(tok[3], NULL, 10);

                mcd_buf_add(&b, "VALUE ", 6);
                mcd_buf_add(&b, tok[1], strlen(tok[1]));
                mcd_buf_addc(&b, ' ');
                mcd_buf_add(&b, tok[2], strlen(tok[2]));
                mcd_buf_addc(&b, ' ');
                mcd_buf_add(&b, tok[3], strlen(tok[3]));
                if (nt == 5)
                    mcd_buf_add(&b, " {cas}", 6);
                mcd_buf_add(&b, "\r\n", 2);
                i += llen;
                size_t dl = n + 2 <= len - i ? n + 2 : len - i;
                mcd_buf_add(&b, buf + i, dl);
                i += dl;
                continue;
            }
        }
        if (llen > 8 && memcmp(l, "VERSION ", 8) == 0 && eol != NULL && eol > l && eol[-1] == '\r') {
            mcd_buf_add(&b, "VERSION {str}\r\n", 15);
            i += llen;
            continue;
        }
        mcd_buf_add(&b, l, llen);
        i += llen;
    }
    *outlen = b.len;
    return (char *)b.p;
}

/* Escapes recorded bytes for a "<" line; runs of 32+ equal bytes use {rep}. */
static void write_escaped(FILE *fp, const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char ch = (unsigned char)s[i];
        size_t run = 1;

        while (i + run < n && s[i + run] == s[i])
            run++;
        if (run >= 32 && ch > 0x20 && ch < 0x7f && ch != '\\' && ch != '{' && ch != '}') {
            fprintf(fp, "{rep:%zu:%c}", run, ch);
            i += run;
            continue;
        }
        /* keep recorded placeholders as tokens */
        if (ch == '{' && (n - i >= 5) && (memcmp(s + i, "{cas}", 5) == 0 || memcmp(s + i, "{str}", 5) == 0)) {
            fwrite(s + i, 1, 5, fp);
            i += 5;
            continue;
        }
        switch (ch) {
        case '\r': fputs("\\r", fp); break;
        case '\n': fputs("\\n", fp); break;
        case '\t': fputs("\\t", fp); break;
        case '\\': fputs("\\\\", fp); break;
        case '{': fputs("\\{", fp); break;
        default:
            if (ch >= 0x20 && ch < 0x7f)
                fputc(ch, fp);
            else
                fprintf(fp, "\\x%02x", ch);
        }
        i++;
    }
}

bool mcd_cases_write(const struct mcd_case_file *f, const char *path, char *const *replies, const size_t *lens,
                     const bool *closed)
{
    FILE *fp = fopen(path, "w");

    if (fp == NULL) {
        perror(path);
        return false;
    }
    for (size_t i = 0; i < f->n; i++) {
        const struct mcd_case *k = &f->cases[i];
        const char *r = replies[i];
        size_t n = lens[i];

        for (size_t j = 0; j < k->nraw; j++)
            fprintf(fp, "%s\n", k->raw[j]);
        /* one "<" line per reply line */
        while (n > 0) {
            const char *eol = memchr(r, '\n', n);
            size_t ll = eol ? (size_t)(eol - r) + 1 : n;

            fputs("< ", fp);
            write_escaped(fp, r, ll);
            fputc('\n', fp);
            r += ll;
            n -= ll;
        }
        if (lens[i] == 0 && !closed[i])
            fputs("<\n", fp); /* explicitly: no reply at all */
        if (closed[i])
            fputs("<close\n", fp);
    }
    for (size_t j = 0; j < f->ntrailer; j++)
        fprintf(fp, "%s\n", f->trailer[j]);
    return fclose(fp) == 0;
}
