/* test_sysio.c - the connection's system calls without cancellation
 * wrappers (server/sysio.h) and the executable's epoll_wait (server/sysio.c)
 * behave as glibc's: the same results, and errno set the same way on the
 * failures the connection layer acts on (EAGAIN, EPIPE without SIGPIPE,
 * EBADF, EINTR). */
#include "config.h"

#include "server/sysio.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

static void pair(int sv[2])
{
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
}

Test(sysio, sendmsg_then_read_moves_the_bytes)
{
    int sv[2];
    pair(sv);
    struct iovec iov[3] = {{(void *)"VALUE k 0 5\r\n", 13}, {(void *)"value", 5}, {(void *)"\r\nEND\r\n", 7}};
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 3};
    cr_assert_eq(sysio_sendmsg(sv[0], &msg, MSG_NOSIGNAL), 25);
    char buf[64];
    cr_assert_eq(sysio_read(sv[1], buf, sizeof(buf)), 25);
    cr_assert_eq(memcmp(buf, "VALUE k 0 5\r\nvalue\r\nEND\r\n", 25), 0);
    /* a read shorter than what is there takes the head only */
    cr_assert_eq(sysio_sendmsg(sv[0], &msg, MSG_NOSIGNAL), 25);
    cr_assert_eq(sysio_read(sv[1], buf, 5), 5);
    cr_assert_eq(memcmp(buf, "VALUE", 5), 0);
    cr_assert_eq(sysio_read(sv[1], buf, sizeof(buf)), 20);
    close(sv[0]);
    close(sv[1]);
}

Test(sysio, errors_set_errno_as_libc_does)
{
    int sv[2];
    pair(sv);
    char buf[16];
    /* nothing to read on a non-blocking socket */
    errno = 0;
    cr_assert_eq(sysio_read(sv[1], buf, sizeof(buf)), -1);
    cr_assert_eq(errno, EAGAIN);
    /* end of input */
    close(sv[0]);
    cr_assert_eq(sysio_read(sv[1], buf, sizeof(buf)), 0);
    close(sv[1]);
    /* a descriptor that is not open */
    errno = 0;
    cr_assert_eq(sysio_read(sv[1], buf, sizeof(buf)), -1);
    cr_assert_eq(errno, EBADF);
}

Test(sysio, send_to_a_gone_peer_is_epipe_without_a_signal)
{
    /* SIGPIPE at its default would kill the test: MSG_NOSIGNAL must reach
     * the kernel */
    cr_assert_neq(signal(SIGPIPE, SIG_DFL), SIG_ERR);
    int sv[2];
    pair(sv);
    close(sv[1]);
    struct iovec iov = {(void *)"x", 1};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    errno = 0;
    cr_assert_eq(sysio_sendmsg(sv[0], &msg, MSG_NOSIGNAL), -1);
    cr_assert_eq(errno, EPIPE);
    close(sv[0]);
}

Test(sysio, epoll_wait_reports_ready_descriptors_and_errors)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    int ev = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    cr_assert(ep >= 0 && ev >= 0);
    struct epoll_event e = {.events = EPOLLIN, .data.u64 = 42};
    cr_assert_eq(epoll_ctl(ep, EPOLL_CTL_ADD, ev, &e), 0);
    struct epoll_event out[4];
    cr_assert_eq(epoll_wait(ep, out, 4, 0), 0);
    uint64_t one = 1;
    cr_assert_eq(write(ev, &one, sizeof(one)), (ssize_t)sizeof(one));
    cr_assert_eq(epoll_wait(ep, out, 4, 1000), 1);
    cr_assert_eq(out[0].data.u64, 42u);
    cr_assert(out[0].events & EPOLLIN);
    errno = 0;
    cr_assert_eq(epoll_wait(ev, out, 4, 0), -1); /* not an epoll descriptor */
    cr_assert_eq(errno, EINVAL);
    close(ev);
    close(ep);
}

static void on_alarm(int sig)
{
    (void)sig;
}

static void *ring(void *arg)
{
    pthread_t *target = arg;
    struct timespec t = {0, 50 * 1000 * 1000};
    nanosleep(&t, NULL);
    pthread_kill(*target, SIGUSR2);
    return NULL;
}

Test(sysio, a_signal_interrupts_epoll_wait_with_eintr)
{
    /* libevent's signal handling relies on it */
    struct sigaction sa = {.sa_handler = on_alarm}; /* no SA_RESTART */
    cr_assert_eq(sigaction(SIGUSR2, &sa, NULL), 0);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    cr_assert(ep >= 0);
    pthread_t self = pthread_self(), t;
    cr_assert_eq(pthread_create(&t, NULL, ring, &self), 0);
    struct epoll_event out[1];
    errno = 0;
    cr_assert_eq(epoll_wait(ep, out, 1, 5000), -1);
    cr_assert_eq(errno, EINTR);
    pthread_join(t, NULL);
    close(ep);
}
