/*
 * sysio.h - the connection's read and send system calls without glibc's
 * cancellation wrappers.
 *
 * read() and sendmsg() are cancellation points: glibc brackets each with
 * __pthread_enable_asynccancel / __pthread_disable_asynccancel, about 45
 * instructions a call, twice per request. No thread of mcd is ever
 * cancelled (nothing calls pthread_cancel, and the workers leave their loop
 * only through WORKER_MSG_STOP), so the bracket buys nothing here; syscall()
 * is the same system call with errno set the same way, and no cancellation
 * point. Socket semantics (EAGAIN, EINTR, MSG_NOSIGNAL) are unchanged.
 */
#ifndef MCD_SYSIO_H
#define MCD_SYSIO_H

#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

static inline ssize_t sysio_read(int fd, void *buf, size_t len)
{
    return (ssize_t)syscall(SYS_read, fd, buf, len);
}

static inline ssize_t sysio_sendmsg(int fd, const struct msghdr *msg, int flags)
{
    return (ssize_t)syscall(SYS_sendmsg, fd, msg, flags);
}

#endif /* MCD_SYSIO_H */
