/*
 * log.c - leveled logging to stderr. Errors and warnings always print;
 * info/debug/trace need -v/-vv/-vvv (or `verbosity N` at run time).
 */
#include "config.h"

#include "server/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

_Atomic int log_verbosity;

void log_msg(enum log_level level, const char *fmt, ...)
{
    if ((int)level > atomic_load_explicit(&log_verbosity, memory_order_relaxed))
        return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s\n", buf);
}

void log_warn_errno(const char *fmt, ...)
{
    int saved = errno;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s: %s\n", buf, strerror(saved));
}
