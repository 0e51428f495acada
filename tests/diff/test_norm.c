/*
 * test_norm.c - checks of the differential tester's own instruments: reply
 * normalisation (CAS numbers mapped by first-seen order in text, meta and
 * binary replies, version masked, data blocks walked by length) and the
 * filling of CAS placeholders in requests. No server is started.
 */
#include "config.h"

#include "tests/diff/diffgen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

#define CHECK(cond, ...)                                                                                          \
    do {                                                                                                          \
        if (!(cond)) {                                                                                            \
            fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                                                       \
            fprintf(stderr, __VA_ARGS__);                                                                         \
            fprintf(stderr, "\n");                                                                                \
            failures++;                                                                                           \
        }                                                                                                         \
    } while (0)

/* Normalises raw with a fresh map; returns a malloc'd NUL-terminated copy. */
static char *norm(const char *raw, size_t len)
{
    struct dg_casmap m = {0};
    struct mcd_buf out = {0};

    dg_normalize((const unsigned char *)raw, len, &m, &out);
    dg_casmap_free(&m);
    mcd_buf_addc(&out, 0);
    return (char *)out.p;
}

static void same(const char *a, size_t alen, const char *b, size_t blen, bool want, const char *what)
{
    char *x = norm(a, alen), *y = norm(b, blen);

    CHECK((strcmp(x, y) == 0) == want, "%s: normalised forms should %s\n  a: %s\n  b: %s", what,
          want ? "match" : "differ", x, y);
    free(x);
    free(y);
}

#define S(lit) lit, sizeof(lit) - 1

static void text_and_meta(void)
{
    /* same structure, different numbers: equal */
    same(S("VALUE k 0 1 17\r\na\r\nVALUE j 0 1 17\r\nb\r\nEND\r\n"),
         S("VALUE k 0 1 4\r\na\r\nVALUE j 0 1 4\r\nb\r\nEND\r\n"), true, "gets, one CAS twice");
    /* two items sharing a CAS on one side only: differs */
    same(S("VALUE k 0 1 17\r\na\r\nVALUE j 0 1 17\r\nb\r\nEND\r\n"),
         S("VALUE k 0 1 4\r\na\r\nVALUE j 0 1 5\r\nb\r\nEND\r\n"), false, "gets, shared vs distinct CAS");
    /* a data block that looks like a VALUE line is data, not a reply line */
    same(S("VALUE k 0 16\r\nVALUE x 0 1 99\r\n\r\nEND\r\n"), S("VALUE k 0 16\r\nVALUE x 0 1 12\r\n\r\nEND\r\n"), false,
         "data block compared byte for byte");
    /* meta c tokens share the map with gets */
    same(S("HD c9\r\nVALUE k 0 1 9\r\na\r\nEND\r\nVA 1 c9 t100 l3\r\nb\r\n"),
         S("HD c2\r\nVALUE k 0 1 2\r\na\r\nEND\r\nVA 1 c2 t99 l0\r\nb\r\n"), true, "meta c, t, l");
    same(S("HD c9\r\nHD c9\r\n"), S("HD c2\r\nHD c3\r\n"), false, "meta c order");
    same(S("HD t-1\r\n"), S("HD t5\r\n"), false, "t-1 stays");
    same(S("VERSION 1.6.45\r\n"), S("VERSION 1.6.18\r\n"), true, "version masked");
    same(S("STORED\r\n"), S("STORED\r\nERROR\r\n"), false, "an extra line");
}

static void binary(void)
{
    /* GetK hits with CAS 0x11 / 0x05 in the header: equal */
    static const char a[] = "\x81\x0c\x00\x01\x04\x00\x00\x00\x00\x00\x00\x06\x00\x00\x00\x07"
                            "\x00\x00\x00\x00\x00\x00\x00\x11\x00\x00\x00\x00kv";
    char b[sizeof(a)];

    memcpy(b, a, sizeof(a));
    b[23] = 0x05;
    same(a, sizeof(a) - 1, b, sizeof(a) - 1, true, "binary CAS mapped");
    b[7] = 0x01; /* status differs */
    same(a, sizeof(a) - 1, b, sizeof(a) - 1, false, "binary status");
    memcpy(b, a, sizeof(a));
    b[sizeof(a) - 2] = 'w'; /* value differs */
    same(a, sizeof(a) - 1, b, sizeof(a) - 1, false, "binary value");
}

static void placeholders(void)
{
    struct dg_seq s = {0};
    struct dg_casmap m = {0};
    struct mcd_buf out = {0};
    struct dg_req r = {.b = (unsigned char *)"cas k 0 0 1 \r\nx\r\n", .len = 17, .cas_ref = 1, .cas_off = 12,
                       .cls = "text.storage", .batch_end = true};

    dg_casmap_index(&m, 40);
    dg_casmap_index(&m, 41);
    dg_seq_push(&s, &r);
    dg_batch_bytes(&s, 0, 1, &m, &out);
    CHECK(out.len == 19 && memcmp(out.p, "cas k 0 0 1 41\r\nx\r\n", 19) == 0, "text placeholder: %.*s", (int)out.len,
          out.p);
    free(out.p);
    memset(&out, 0, sizeof(out));
    s.reqs[0].cas_ref = 5; /* not seen yet */
    dg_batch_bytes(&s, 0, 1, &m, &out);
    CHECK(strstr((char *)out.p, "987654321") != NULL, "unknown CAS placeholder: %s", out.p);
    free(out.p);
    dg_seq_free(&s);
    dg_casmap_free(&m);
}

int main(void)
{
    text_and_meta();
    binary();
    placeholders();
    if (failures == 0)
        printf("test_norm: all checks passed\n");
    return failures == 0 ? 0 : 1;
}
