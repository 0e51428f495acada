/*
 * sysio.h - the connection's read and send system calls without glibc's
 * cancellation wrappers (and sysio.c: epoll_wait for libevent's loops).
 *
 * read(), sendmsg() and epoll_wait() are cancellation points: glibc
 * brackets each with __pthread_enable_asynccancel / _disable_asynccancel,
 * about 45 instructions a call, three calls per request at one connection.
 * No thread of mcd is ever cancelled (nothing calls pthread_cancel, and the
 * workers leave their loop only through WORKER_MSG_STOP), so the bracket
 * buys nothing here. These are the same system calls, with errno set the
 * same way; socket semantics (EAGAIN, EINTR, MSG_NOSIGNAL) are unchanged.
 * On x86-64 the call is made inline (the kernel's calling convention:
 * number in rax, arguments in rdi, rsi, rdx, r10; rcx and r11 clobbered;
 * -4095..-1 is -errno); elsewhere through syscall(3).
 *
 * Under the sanitizers (ASan, TSan) the libc calls stay: their
 * interceptors check the buffers and order the threads around them.
 */
#ifndef MCD_SYSIO_H
#define MCD_SYSIO_H

#include <errno.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SYSIO_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SYSIO_SANITIZED 1
#endif

#if defined(__x86_64__) && defined(__linux__)
static inline long sysio_call4(long nr, long a, long b, long c, long d)
{
    long r;
    register long r10 __asm__("r10") = d;
    __asm__ volatile("syscall"
                     : "=a"(r)
                     : "0"(nr), "D"(a), "S"(b), "d"(c), "r"(r10)
                     : "rcx", "r11", "memory");
    if (__builtin_expect((unsigned long)r > -4096UL, 0)) {
        errno = (int)-r;
        return -1;
    }
    return r;
}
#else
static inline long sysio_call4(long nr, long a, long b, long c, long d)
{
    return syscall(nr, a, b, c, d);
}
#endif

#ifndef SYSIO_SANITIZED
static inline ssize_t sysio_read(int fd, void *buf, size_t len)
{
    return (ssize_t)sysio_call4(SYS_read, fd, (long)buf, (long)len, 0);
}

static inline ssize_t sysio_sendmsg(int fd, const struct msghdr *msg, int flags)
{
    return (ssize_t)sysio_call4(SYS_sendmsg, fd, (long)msg, flags, 0);
}
#else
#define sysio_read read
#define sysio_sendmsg sendmsg
#endif

#endif /* MCD_SYSIO_H */
