/*
 * buf.c - the test tools' growable buffer and allocation helpers (buf.h).
 */
#include "config.h"

#include "tests/lib/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mcd_buf_add(struct mcd_buf *b, const void *data, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t ncap = b->cap ? b->cap : 64;

        while (ncap < b->len + n + 1)
            ncap *= 2;
        b->p = mcd_xrealloc(b->p, ncap);
        b->cap = ncap;
    }
    if (n > 0)
        memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void mcd_buf_addc(struct mcd_buf *b, unsigned char c)
{
    mcd_buf_add(b, &c, 1);
}

void mcd_buf_addf(struct mcd_buf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n > 0)
        mcd_buf_add(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

int mcd_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *mcd_xstrdup(const char *s)
{
    char *d = strdup(s);

    if (d == NULL)
        abort();
    return d;
}

void *mcd_xrealloc(void *p, size_t n)
{
    p = realloc(p, n);
    if (p == NULL)
        abort();
    return p;
}

void mcd_strv_push(char ***arr, size_t *n, const char *line)
{
    *arr = mcd_xrealloc(*arr, (*n + 1) * sizeof(**arr));
    (*arr)[(*n)++] = mcd_xstrdup(line);
}
