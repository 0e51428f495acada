/*
 * metrics_req.h - reads one HTTP/1.x request head for the Prometheus
 * endpoint and says what to answer, on plain memory (metrics_http.c does
 * the sockets; the unit tests and fuzz/fuzz_expo.c call it directly).
 */
#ifndef MCD_METRICS_REQ_H
#define MCD_METRICS_REQ_H

#include <stdbool.h>
#include <stddef.h>

enum mreq_action {
    MREQ_METRICS,       /* 200 and the page */
    MREQ_NOT_FOUND,     /* 404: a path other than /metrics */
    MREQ_BAD_REQUEST,   /* 400: a malformed request line or header line, a NUL */
    MREQ_NOT_ALLOWED,   /* 405: a method other than GET and HEAD */
    MREQ_HAS_BODY,      /* 413: Content-Length other than 0, or Transfer-Encoding */
};

struct mreq {
    enum mreq_action action;
    bool head;          /* HEAD: headers only */
    bool close;         /* close after the reply (errors always close) */
};

/*
 * head: len bytes, a whole request head (request line, header lines, the
 * empty line: it ends with "\r\n\r\n"; the caller found it). Any bytes.
 */
void metrics_req_parse(const char *head, size_t len, struct mreq *out);

#endif /* MCD_METRICS_REQ_H */
