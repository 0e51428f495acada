/*
 * buf.h - for the test tools: a growable byte buffer that is always
 * NUL-terminated, hex digits, and allocation helpers that abort on failure
 * (a test tool out of memory has nothing better to do).
 */
#ifndef MCD_TESTS_BUF_H
#define MCD_TESTS_BUF_H

#include <stddef.h>

/* Zero-initialise; p is NULL until the first byte, then NUL-terminated. */
struct mcd_buf {
    unsigned char *p;
    size_t len, cap;
};

void mcd_buf_add(struct mcd_buf *b, const void *data, size_t n);
void mcd_buf_addc(struct mcd_buf *b, unsigned char c);
/* printf into the buffer; output past 255 bytes is cut. */
void mcd_buf_addf(struct mcd_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The value of hex digit c, or -1. */
int mcd_hexval(int c);

char *mcd_xstrdup(const char *s);
/* Appends a copy of `line` to the array *arr of *n strings. */
void mcd_strv_push(char ***arr, size_t *n, const char *line);
void *mcd_xrealloc(void *p, size_t n);

#endif /* MCD_TESTS_BUF_H */
