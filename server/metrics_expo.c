/*
 * metrics_expo.c - the Prometheus text exposition format on a plain
 * growable buffer (see metrics_expo.h).
 */
#include "config.h"

#include "server/metrics_expo.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void expo_init(struct expo_buf *b)
{
    memset(b, 0, sizeof(*b));
}

void expo_free(struct expo_buf *b)
{
    free(b->data);
    expo_init(b);
}

static bool reserve(struct expo_buf *b, size_t n)
{
    if (b->oom)
        return false;
    if (b->cap - b->len >= n)
        return true;
    size_t cap = b->cap != 0 ? b->cap : 4096;
    while (cap - b->len < n) {
        if (cap > SIZE_MAX / 2) {
            b->oom = true;
            return false;
        }
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (p == NULL) {
        b->oom = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

void expo_put(struct expo_buf *b, const char *s, size_t n)
{
    if (n == 0 || !reserve(b, n))
        return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

static void puts_(struct expo_buf *b, const char *s)
{
    expo_put(b, s, strlen(s));
}

/* A HELP text: backslash and newline escaped (the format's rule for HELP);
 * any other byte that is not printable ASCII becomes '?' (the texts are
 * mcd's own; this only keeps the page valid UTF-8 whatever they hold). */
static void put_help(struct expo_buf *b, const char *s)
{
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\\')
            expo_put(b, "\\\\", 2);
        else if (c == '\n')
            expo_put(b, "\\n", 2);
        else if (c < 0x20 || c >= 0x7f)
            expo_put(b, "?", 1);
        else
            expo_put(b, s, 1);
    }
}

/* A label value: '"' escaped as the format says; a backslash as two
 * backslashes and control bytes (newline too) and bytes >= 0x80 as the four
 * characters \xHH, once the format's escaping is undone. That mapping is
 * one to one (a key holding the text "\x01" reads back as "\\x01"), and
 * any key gives a valid UTF-8 page. */
static void put_label_value(struct expo_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\\')
            expo_put(b, "\\\\\\\\", 4);
        else if (c == '"')
            expo_put(b, "\\\"", 2);
        else if (c < 0x20 || c >= 0x7f) {
            char esc[5] = {'\\', '\\', 'x', hex[c >> 4], hex[c & 15]};
            expo_put(b, esc, sizeof(esc));
        } else
            expo_put(b, (const char *)&s[i], 1);
    }
}

void expo_family(struct expo_buf *b, const char *name, const char *type, const char *help)
{
    puts_(b, "# HELP ");
    puts_(b, name);
    puts_(b, " ");
    put_help(b, help);
    puts_(b, "\n# TYPE ");
    puts_(b, name);
    puts_(b, " ");
    puts_(b, type);
    puts_(b, "\n");
}

/* name{a="x",b="y"} (the braces only when there are labels); extra, when
 * not NULL, is one more label already formatted (le="...") */
static void put_series(struct expo_buf *b, const char *name, const char *suffix, const struct expo_label *labels,
                       size_t nlabels, const char *extra)
{
    puts_(b, name);
    puts_(b, suffix);
    if (nlabels == 0 && extra == NULL)
        return;
    puts_(b, "{");
    for (size_t i = 0; i < nlabels; i++) {
        if (i > 0)
            puts_(b, ",");
        puts_(b, labels[i].name);
        puts_(b, "=\"");
        put_label_value(b, labels[i].value, labels[i].value_len);
        puts_(b, "\"");
    }
    if (extra != NULL) {
        if (nlabels > 0)
            puts_(b, ",");
        puts_(b, extra);
    }
    puts_(b, "}");
}

static void put_u64_line(struct expo_buf *b, uint64_t v)
{
    char num[32];
    int n = snprintf(num, sizeof(num), " %" PRIu64 "\n", v);
    expo_put(b, num, (size_t)n);
}

/* The shortest %g that reads back as v (Go's ParseFloat reads it), and
 * NaN / +Inf / -Inf as the format spells them. */
static void fmt_f64(char *out, size_t cap, double v)
{
    if (isnan(v)) {
        snprintf(out, cap, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(out, cap, "%sInf", v > 0 ? "+" : "-");
        return;
    }
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(out, cap, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            return;
    }
}

static void put_f64_line(struct expo_buf *b, double v)
{
    char num[40];
    fmt_f64(num, sizeof(num), v);
    puts_(b, " ");
    puts_(b, num);
    puts_(b, "\n");
}

void expo_sample_u64(struct expo_buf *b, const char *name, const struct expo_label *labels, size_t nlabels,
                     uint64_t v)
{
    put_series(b, name, "", labels, nlabels, NULL);
    put_u64_line(b, v);
}

void expo_sample_f64(struct expo_buf *b, const char *name, const struct expo_label *labels, size_t nlabels,
                     double v)
{
    put_series(b, name, "", labels, nlabels, NULL);
    put_f64_line(b, v);
}

void expo_sample_num(struct expo_buf *b, const char *name, const struct expo_label *labels, size_t nlabels,
                     const char *num)
{
    put_series(b, name, "", labels, nlabels, NULL);
    puts_(b, " ");
    puts_(b, num);
    puts_(b, "\n");
}

void expo_histogram(struct expo_buf *b, const char *name, const struct expo_label *labels, size_t nlabels,
                    const uint64_t *bounds, const uint64_t *counts, size_t n, uint64_t overflow, double sum,
                    double per_unit)
{
    uint64_t cum = 0;
    char le[64], num[40];
    for (size_t i = 0; i < n; i++) {
        cum += counts[i];
        fmt_f64(num, sizeof(num), (double)bounds[i] / per_unit);
        snprintf(le, sizeof(le), "le=\"%s\"", num);
        put_series(b, name, "_bucket", labels, nlabels, le);
        put_u64_line(b, cum);
    }
    cum += overflow;
    put_series(b, name, "_bucket", labels, nlabels, "le=\"+Inf\"");
    put_u64_line(b, cum);
    put_series(b, name, "_sum", labels, nlabels, NULL);
    put_f64_line(b, sum / per_unit);
    put_series(b, name, "_count", labels, nlabels, NULL);
    put_u64_line(b, cum);
}
