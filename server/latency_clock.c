/*
 * latency_clock.c - chooses and calibrates the clock that times requests
 * (latency.h): the CPU's time-stamp counter where the kernel keeps time with
 * it, CLOCK_MONOTONIC elsewhere.
 */
#include "config.h"

#include "server/latency.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

bool latency_clock_tsc;
uint64_t latency_clock_mult;

#define CLOCKSOURCE "/sys/devices/system/clocksource/clocksource0/current_clocksource"

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#if defined(__x86_64__) || defined(__i386__)
/* The kernel trusts the counter: it is its clocksource. */
static bool kernel_uses_tsc(void)
{
    char buf[32] = "";
    FILE *f = fopen(CLOCKSOURCE, "r");
    if (f == NULL)
        return false;
    bool ok = fgets(buf, sizeof buf, f) != NULL && strcmp(buf, "tsc\n") == 0;
    fclose(f);
    return ok;
}

/* A (counter, ns) pair read close together: the counter is read on both
 * sides of the clock and the pair is kept only when the two reads are
 * near (no interruption between). */
static bool pair(uint64_t *tsc, uint64_t *ns)
{
    for (int i = 0; i < 100; i++) {
        uint64_t a = __builtin_ia32_rdtsc();
        uint64_t t = mono_ns();
        uint64_t b = __builtin_ia32_rdtsc();
        if (b > a && b - a < 20000) {
            *tsc = a + (b - a) / 2;
            *ns = t;
            return true;
        }
    }
    return false;
}

bool latency_clock_setup(void)
{
    latency_clock_tsc = false;
    if (!kernel_uses_tsc())
        return false;
    uint64_t c0, t0, c1, t1;
    if (!pair(&c0, &t0))
        return false;
    /* 2 ms: the pairs are within a few hundred ns, so the rate is right to
     * about 0.01%, far inside a histogram bucket's 3% */
    struct timespec nap = {0, 2000000};
    nanosleep(&nap, NULL);
    if (!pair(&c1, &t1) || c1 <= c0 || t1 <= t0)
        return false;
    latency_clock_mult = (uint64_t)((((unsigned __int128)(t1 - t0)) << 32) / (c1 - c0));
    latency_clock_tsc = latency_clock_mult != 0;
    return latency_clock_tsc;
}
#else
bool latency_clock_setup(void)
{
    latency_clock_tsc = false;
    return false;
}
#endif
