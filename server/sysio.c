/*
 * sysio.c - epoll_wait() without glibc's cancellation wrapper, for
 * libevent's loops (the workers', the listener's, the metrics thread's).
 *
 * glibc's epoll_wait() is a cancellation point: it brackets the system
 * call with __pthread_enable/disable_asynccancel, about 55 instructions in
 * all, once per loop, i.e. once per request at one connection. mcd never
 * cancels a thread (no pthread_cancel anywhere; workers leave their loop
 * through WORKER_MSG_STOP), so the bracket buys nothing. libevent calls
 * epoll_wait() through the dynamic linker, and a definition in the
 * executable comes first in its lookup: this one is the same system call
 * with the same errno, and no cancellation point (sysio.h says more, and
 * has the connection's read and sendmsg).
 *
 * Not under the sanitizers: ASan and TSan intercept epoll_wait() themselves
 * (TSan to order epoll_ctl before the wakeup), and their interceptor must
 * stay the one called.
 */
#include "config.h"

#include "server/sysio.h"

#ifndef SYSIO_SANITIZED

#include <sys/epoll.h>

int epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout)
{
#ifdef SYS_epoll_wait
    return (int)sysio_call4(SYS_epoll_wait, epfd, (long)events, maxevents, timeout);
#else
    /* no epoll_wait on this architecture: epoll_pwait with no mask is it */
    return (int)syscall(SYS_epoll_pwait, epfd, events, maxevents, timeout, NULL, (size_t)8);
#endif
}

#else
typedef int sysio_sanitized; /* the sanitizers' interceptor stays */
#endif
