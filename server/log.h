/*
 * log.h - stderr logging with levels mapped to -v / -vv / -vvv.
 * Safe from any thread (one fprintf per message).
 */
#ifndef MCD_LOG_H
#define MCD_LOG_H

#include <stdatomic.h>

enum log_level { LOG_ERROR = -1, LOG_WARN = 0, LOG_INFO = 1, LOG_DEBUG = 2, LOG_TRACE = 3 };

/* Messages above this level are dropped; set from -v counts at startup and
 * by `verbosity N` on any worker while others read it: an atomic. */
extern _Atomic int log_verbosity;

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Like log_msg at LOG_WARN, with ": strerror(errno)" appended. */
void log_warn_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* MCD_LOG_H */
