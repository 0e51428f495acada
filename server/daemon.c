/*
 * daemon.c - startup chores of a Unix daemon, in memcached's manner:
 * refuse to run as root without -u, switch user, detach with -d, write and
 * remove the pid file, raise RLIMIT_NOFILE for -c and RLIMIT_CORE for -r,
 * lock memory with -k. Runs on the main thread before any other thread
 * starts.
 *
 * -d: the parent does not exit at fork time. It waits on a pipe until the
 * child reports readiness (listening, pid file written: daemon_ready()) and
 * exits 0, or until the child dies during startup, whose exit status it
 * passes on. So `mcd -d` fails visibly when, say, the port is taken, and an
 * init script can trust its exit status. The child's stdin goes to
 * /dev/null at once, stdout/stderr at readiness (startup errors still reach
 * the terminal), except under -v, where they stay open as memcached's do.
 */
#include "config.h"

#include "server/daemon.h"

#include "server/log.h"
#include "server/metrics_http.h"
#include "server/settings.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Write end of the readiness pipe in a detached child; -1 otherwise. */
static int ready_fd = -1;

int daemon_drop_privileges(void)
{
    if (getuid() != 0 && geteuid() != 0)
        return 0;
    if (settings.username == NULL || settings.username[0] == '\0') {
        fprintf(stderr, "can't run as root without the -u switch\n");
        return -1;
    }
    struct passwd *pw = getpwnam(settings.username);
    if (pw == NULL) {
        fprintf(stderr, "can't find the user %s to switch to\n", settings.username);
        return -1;
    }
    if (pw->pw_uid == 0)
        return 0; /* -u root: stay */
    if (setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
        fprintf(stderr, "failed to assume identity of user %s\n", settings.username);
        return -1;
    }
    /* a changed uid makes the process non-dumpable; -r asked for cores */
    if (settings.coredumps)
        prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
    return 0;
}

/* -r: as large a core file as the hard limit allows (unlimited for root). */
static int raise_core_limit(void)
{
    struct rlimit rl = {RLIM_INFINITY, RLIM_INFINITY};
    if (setrlimit(RLIMIT_CORE, &rl) == 0)
        return 0;
    if (getrlimit(RLIMIT_CORE, &rl) != 0)
        return -1;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_CORE, &rl) != 0 || rl.rlim_cur == 0)
        return -1;
    return 0;
}

/*
 * -c: the open files limit should fit every connection plus our own fds
 * (stdio, event loops, eventfds, listeners). Where the hard limit stops
 * short of that, settle for -c itself, as memcached does; the listener
 * turns away what no longer fits (EMFILE) like a connection over -c.
 */
static int raise_nofile_limit(void)
{
    struct rlimit rl;
    rlim_t need = (rlim_t)settings.maxconns;
    rlim_t want = need + 16 + 3 * (rlim_t)settings.num_threads;
    if (settings.metrics_listen != NULL) /* its connections never take -c's fds */
        want += METRICS_HTTP_MAX_CONNS + 4;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        log_warn_errno("failed to getrlimit number of files");
        return -1;
    }
    if (rl.rlim_cur >= want)
        return 0;
    struct rlimit try = rl;
    try.rlim_cur = want;
    if (try.rlim_max < want)
        try.rlim_max = want; /* root (CAP_SYS_RESOURCE) may raise the hard limit */
    if (setrlimit(RLIMIT_NOFILE, &try) == 0)
        return 0;
    if (rl.rlim_max >= want) {
        rl.rlim_cur = want;
        if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
            return 0;
    }
    if (rl.rlim_cur >= need)
        return 0;
    try = rl;
    try.rlim_cur = need;
    if (try.rlim_max < need)
        try.rlim_max = need;
    if (setrlimit(RLIMIT_NOFILE, &try) != 0) {
        int saved = errno;
        fprintf(stderr,
                "failed to set rlimit for open files to %llu for -c %u (hard limit %llu): %s. "
                "Try starting as root or requesting smaller maxconns value.\n",
                (unsigned long long)need, settings.maxconns, (unsigned long long)rl.rlim_max, strerror(saved));
        return -1;
    }
    return 0;
}

int daemon_set_limits(void)
{
    if (settings.coredumps && raise_core_limit() != 0) {
        fprintf(stderr, "failed to ensure corefile creation\n");
        return -1;
    }
    return raise_nofile_limit();
}

int daemon_detach(void)
{
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(pfd[0]);
        close(pfd[1]);
        return -1;
    }
    if (pid > 0) {
        /* parent: wait for the child's "ready" byte, or for its death */
        close(pfd[1]);
        char b;
        ssize_t n;
        do
            n = read(pfd[0], &b, 1);
        while (n < 0 && errno == EINTR);
        if (n == 1)
            _exit(EXIT_SUCCESS);
        int status;
        if (waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) != 0)
            _exit(WEXITSTATUS(status));
        _exit(EXIT_FAILURE);
    }
    close(pfd[0]);
    ready_fd = pfd[1];
    if (setsid() < 0)
        return -1;
    /* the session has no terminal to hang up; ignore a stray SIGHUP anyway */
    signal(SIGHUP, SIG_IGN);
    /* like memcached, -r keeps the working directory so a core can be written there */
    if (!settings.coredumps && chdir("/") != 0)
        return -1;
    int fd = open("/dev/null", O_RDWR);
    if (fd < 0)
        return -1;
    dup2(fd, STDIN_FILENO);
    if (fd > STDERR_FILENO)
        close(fd);
    return 0;
}

void daemon_ready(void)
{
    if (ready_fd < 0)
        return;
    if (settings.verbose == 0) {
        int fd = open("/dev/null", O_RDWR);
        if (fd >= 0) {
            fflush(NULL);
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
            if (fd > STDERR_FILENO)
                close(fd);
        }
    }
    ssize_t n;
    do
        n = write(ready_fd, "", 1);
    while (n < 0 && errno == EINTR);
    close(ready_fd);
    ready_fd = -1;
}

void daemon_lock_memory(void)
{
    if (mlockall(MCL_CURRENT | MCL_FUTURE) != 0)
        log_warn_errno("warning: -k invalid, mlockall() failed");
}

void daemon_write_pidfile(void)
{
    if (settings.pid_file == NULL)
        return;
    FILE *f = fopen(settings.pid_file, "r");
    if (f != NULL) {
        long old = 0;
        if (fscanf(f, "%ld", &old) == 1 && old > 0 && old != (long)getpid() && kill((pid_t)old, 0) == 0)
            log_msg(LOG_WARN, "WARNING: The pid file contained the following (running) pid: %ld", old);
        fclose(f);
    }
    f = fopen(settings.pid_file, "w");
    if (f == NULL) {
        log_warn_errno("Could not open the pid file %s for writing", settings.pid_file);
        return;
    }
    fprintf(f, "%ld\n", (long)getpid());
    if (fclose(f) != 0)
        log_warn_errno("Could not close the pid file %s", settings.pid_file);
}

void daemon_remove_pidfile(void)
{
    if (settings.pid_file != NULL && unlink(settings.pid_file) != 0 && errno != ENOENT)
        log_warn_errno("Could not remove the pid file %s", settings.pid_file);
}
