/*
 * shim.c - the runner behind tests/tsan/criterion/criterion.h: runs every
 * registered Test() in registration order in this one process and exits
 * non-zero when any check failed (see the header for why).
 */
#include "config.h"

#include <criterion/criterion.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct tsan_test *head, **tail = &head;
static jmp_buf test_exit;
static int failures;   /* checks failed in the current test */

/* Runs one test; the setjmp lives here so no caller local is clobbered. */
static void run_one(struct tsan_test *t)
{
    if (t->init != NULL)
        t->init();
    if (setjmp(test_exit) == 0)
        t->fn();
    if (t->fini != NULL)
        t->fini();
}

void tsan_register(struct tsan_test *t)
{
    t->next = NULL;
    *tail = t;
    tail = &t->next;
}

bool tsan_str_eq(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

void tsan_check(bool ok, bool fatal, const char *expr, const char *file, int line, const char *fmt, ...)
{
    if (ok)
        return;
    fprintf(stderr, "[----] %s:%d: %s failed: %s", file, line, fatal ? "assertion" : "expectation", expr);
    if (fmt[0] != '\0') {
        va_list ap;
        va_start(ap, fmt);
        fputs(": ", stderr);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
    }
    fputc('\n', stderr);
    failures++;
    if (fatal)
        longjmp(test_exit, 1);
}

void tsan_skip(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("[SKIP] ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    longjmp(test_exit, 2);
}

void tsan_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("[----] ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int main(int argc, char **argv)
{
    int tests = 0, failed = 0;
    const char *only = argc > 1 ? argv[1] : NULL; /* "suite/name" substring filter */

    for (struct tsan_test *t = head; t != NULL; t = t->next) {
        char id[256];
        snprintf(id, sizeof(id), "%s/%s", t->suite, t->name);
        if (t->disabled || (only != NULL && strstr(id, only) == NULL))
            continue;
        tests++;
        failures = 0;
        fprintf(stderr, "[RUN ] %s\n", id);
        alarm(t->timeout > 0 ? (unsigned)(t->timeout * 10) : 600);
        run_one(t);
        alarm(0);
        fprintf(stderr, "[%s] %s\n", failures ? "FAIL" : "PASS", id);
        if (failures)
            failed++;
    }
    fprintf(stderr, "[====] tsan shim: %d tests, %d failed\n", tests, failed);
    return failed ? 1 : 0;
}
