/*
 * metrics_req.c - one HTTP/1.x request head of the Prometheus endpoint,
 * read on plain memory (see metrics_req.h). Strict: a request line
 * "METHOD SP TARGET SP HTTP/1.0|1.1" of visible ASCII, header lines
 * "token: value" with no control byte but tab; no body.
 */
#include "config.h"

#include "server/metrics_req.h"

#include <string.h>
#include <strings.h>

/* The end of the line starting at p ("\r\n" within end), or NULL. */
static const char *line_end(const char *p, const char *end)
{
    for (; p + 1 < end; p++)
        if (p[0] == '\r' && p[1] == '\n')
            return p;
    return NULL;
}

static bool is_tchar(unsigned char c)
{
    return c > 0x20 && c < 0x7f && strchr("()<>@,;:\\\"/[]?={}", c) == NULL;
}

static bool value_is(const char *v, size_t n, const char *word)
{
    return n == strlen(word) && strncasecmp(v, word, n) == 0;
}

void metrics_req_parse(const char *head, size_t len, struct mreq *out)
{
    const char *end = head + len;
    *out = (struct mreq){.action = MREQ_BAD_REQUEST, .close = true};
    if (memchr(head, '\0', len) != NULL)
        return;

    /* request line */
    const char *eol = line_end(head, end);
    if (eol == NULL)
        return;
    for (const char *p = head; p < eol; p++)
        if ((unsigned char)*p <= 0x20 && *p != ' ')
            return;
        else if ((unsigned char)*p >= 0x7f)
            return;
    const char *sp1 = memchr(head, ' ', (size_t)(eol - head));
    const char *sp2 = sp1 != NULL ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
    if (sp1 == NULL || sp2 == NULL || sp1 == head || sp2 == sp1 + 1 || eol - sp2 != 9 ||
        memcmp(sp2 + 1, "HTTP/1.", 7) != 0 || (sp2[8] != '0' && sp2[8] != '1'))
        return;
    for (const char *p = head; p < sp1; p++)
        if (!is_tchar((unsigned char)*p))
            return;

    /* header lines, up to the empty line */
    bool keep_alive = false, conn_close = false, body = false;
    const char *l = eol + 2;
    for (;;) {
        const char *le = line_end(l, end);
        if (le == NULL)
            return;
        if (le == l)
            break;
        const char *colon = memchr(l, ':', (size_t)(le - l));
        if (colon == NULL || colon == l)
            return;
        for (const char *p = l; p < colon; p++)
            if (!is_tchar((unsigned char)*p))
                return;
        for (const char *p = colon + 1; p < le; p++)
            if (((unsigned char)*p < 0x20 && *p != '\t') || (unsigned char)*p == 0x7f)
                return;
        const char *v = colon + 1, *ve = le;
        while (v < ve && (*v == ' ' || *v == '\t'))
            v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        size_t nlen = (size_t)(colon - l), vlen = (size_t)(ve - v);
        if (value_is(l, nlen, "Connection")) {
            keep_alive = keep_alive || value_is(v, vlen, "keep-alive");
            conn_close = conn_close || value_is(v, vlen, "close");
        } else if (value_is(l, nlen, "Transfer-Encoding"))
            body = true;
        else if (value_is(l, nlen, "Content-Length"))
            body = body || !value_is(v, vlen, "0");
        l = le + 2;
    }
    if (l + 2 != end) /* the head ends at its first empty line */
        return;

    bool http10 = sp2[8] == '0';
    out->close = http10 ? !keep_alive : conn_close;
    size_t mlen = (size_t)(sp1 - head), tlen = (size_t)(sp2 - sp1 - 1);
    const char *target = sp1 + 1;
    const char *q = memchr(target, '?', tlen);
    size_t plen = q != NULL ? (size_t)(q - target) : tlen;
    out->head = mlen == 4 && memcmp(head, "HEAD", 4) == 0;
    if (!out->head && !(mlen == 3 && memcmp(head, "GET", 3) == 0)) {
        out->action = MREQ_NOT_ALLOWED;
        out->close = true;
    } else if (body) {
        out->action = MREQ_HAS_BODY;
        out->close = true;
    } else if (plen == 8 && memcmp(target, "/metrics", 8) == 0)
        out->action = MREQ_METRICS;
    else
        out->action = MREQ_NOT_FOUND;
}
