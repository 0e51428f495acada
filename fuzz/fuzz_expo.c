/*
 * fuzz_expo.c - the Prometheus exposition writer (server/metrics_expo.c):
 * whatever bytes a key or HELP text holds, every line written is printable
 * ASCII, a sample line parses back (name, labels, value), and each label
 * value reads back, once the format's escaping and then mcd's \\ / \xHH
 * mapping are undone, as exactly the bytes given (so two keys never share
 * a series). Histogram buckets come out cumulative, the +Inf bucket equal
 * to _count.
 *
 * Input: up to three length-prefixed label values (one length byte, then
 * that many bytes), then the HELP text, then bytes read as histogram
 * bucket counts.
 */
#include "config.h"

#include "fuzz/fuzz.h"

#include "server/metrics_expo.h"

#include <stdbool.h>
#include <string.h>

/* Reads one label value at *p (a quoted, escaped string) back into out;
 * returns its length and moves *p past the closing quote. */
static size_t read_label_value(const char **p, const char *end, char *out)
{
    size_t n = 0;
    const char *s = *p;
    FUZZ_CHECK(s < end && *s == '"');
    s++;
    /* the format's escaping: \\ \" \n */
    char raw[4 * 256 + 16];
    size_t rn = 0;
    while (s < end && *s != '"') {
        if (*s == '\\') {
            FUZZ_CHECK(s + 1 < end);
            FUZZ_CHECK(s[1] == '\\' || s[1] == '"' || s[1] == 'n');
            raw[rn++] = s[1] == 'n' ? '\n' : s[1];
            s += 2;
        } else {
            raw[rn++] = *s++;
        }
        FUZZ_CHECK(rn < sizeof(raw));
    }
    FUZZ_CHECK(s < end);
    *p = s + 1;
    /* mcd's mapping: "\\" is a backslash, "\xHH" a byte */
    for (size_t i = 0; i < rn;) {
        if (raw[i] == '\\') {
            FUZZ_CHECK(i + 1 < rn);
            if (raw[i + 1] == '\\') {
                out[n++] = '\\';
                i += 2;
                continue;
            }
            FUZZ_CHECK(raw[i + 1] == 'x' && i + 3 < rn);
            unsigned v = 0;
            for (int k = 2; k < 4; k++) {
                char c = raw[i + k];
                FUZZ_CHECK((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
                v = v * 16 + (unsigned)(c <= '9' ? c - '0' : c - 'a' + 10);
            }
            out[n++] = (char)v;
            i += 4;
        } else {
            out[n++] = raw[i++];
        }
    }
    return n;
}

int fuzz_expo_input(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"key", "command", "slab"};
    struct expo_label labels[3];
    size_t nl = 0, pos = 0;
    while (nl < 3 && pos < size) {
        size_t len = data[pos++];
        if (len > size - pos)
            len = size - pos;
        labels[nl] = (struct expo_label){names[nl], (const char *)data + pos, len};
        nl++;
        pos += len;
    }
    size_t help_len = pos < size ? (size - pos) / 2 : 0;
    char help[1024];
    if (help_len >= sizeof(help))
        help_len = sizeof(help) - 1;
    memcpy(help, data + pos, help_len);
    help[help_len] = '\0';
    pos += help_len;
    uint64_t bounds[16], counts[16], total = 0;
    size_t nb = 0;
    for (; nb < 16 && pos < size; nb++, pos++) {
        bounds[nb] = (nb + 1) * 1000;
        counts[nb] = data[pos];
        total += data[pos];
    }

    struct expo_buf b;
    expo_init(&b);
    expo_family(&b, "m", "gauge", help);
    expo_sample_u64(&b, "m", labels, nl, 42);
    expo_histogram(&b, "h", labels, nl, bounds, counts, nb, 3, 1.5, 1e6);
    FUZZ_CHECK(!b.oom);

    /* every byte printable ASCII or a newline; the page ends with one */
    for (size_t i = 0; i < b.len; i++)
        FUZZ_CHECK((b.data[i] >= 0x20 && b.data[i] < 0x7f) || b.data[i] == '\n');
    FUZZ_CHECK(b.len > 0 && b.data[b.len - 1] == '\n');

    /* the lines: HELP, TYPE, then the samples, each parsing back */
    const char *p = b.data, *end = b.data + b.len;
    unsigned line = 0;
    uint64_t last_bucket = 0;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        FUZZ_CHECK(eol != NULL);
        if (line == 0)
            FUZZ_CHECK(strncmp(p, "# HELP m ", 9) == 0);
        else if (line == 1)
            FUZZ_CHECK(eol - p == 14 && strncmp(p, "# TYPE m gauge", 14) == 0);
        else {
            const char *q = p;
            while (q < eol && *q != '{' && *q != ' ')
                q++;
            bool bucket = (size_t)(q - p) == 8 && strncmp(p, "h_bucket", 8) == 0;
            size_t li = 0;
            if (q < eol && *q == '{') {
                q++;
                while (*q != '}') {
                    const char *eq = memchr(q, '=', (size_t)(eol - q));
                    FUZZ_CHECK(eq != NULL);
                    const char *v = eq + 1;
                    char back[256 + 8];
                    size_t n = read_label_value(&v, eol, back);
                    if ((size_t)(eq - q) == 2 && strncmp(q, "le", 2) == 0) {
                        FUZZ_CHECK(bucket);
                    } else {
                        FUZZ_CHECK(li < nl && strlen(labels[li].name) == (size_t)(eq - q));
                        FUZZ_CHECK(n == labels[li].value_len && memcmp(back, labels[li].value, n) == 0);
                        li++;
                    }
                    q = v;
                    FUZZ_CHECK(q < eol && (*q == ',' || *q == '}'));
                    if (*q == ',')
                        q++;
                }
                q++;
            }
            FUZZ_CHECK(li == nl);
            FUZZ_CHECK(q < eol && *q == ' ');
            if (bucket) {
                uint64_t v = strtoull(q + 1, NULL, 10);
                FUZZ_CHECK(v >= last_bucket);
                last_bucket = v;
            }
        }
        p = eol + 1;
        line++;
    }
    FUZZ_CHECK(last_bucket == total + 3); /* +Inf: every count and the overflow */
    expo_free(&b);
    return 0;
}

#ifdef MCD_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_expo_input(data, size);
}
#endif
