/*
 * daemon.c - startup chores of a Unix daemon, in memcached's manner:
 * refuse to run as root without -u, switch user, detach with -d, write and
 * remove the pid file, raise RLIMIT_NOFILE for -c, lock memory with -k.
 * Runs on the main thread before any other thread starts.
 */
#include "config.h"

#include "server/daemon.h"

#include "server/log.h"
#include "server/settings.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

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
    return 0;
}

void daemon_set_limits(void)
{
    struct rlimit rl;
    if (settings.coredumps && getrlimit(RLIMIT_CORE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_CORE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rlim_t want = (rlim_t)settings.maxconns + 64;
        if (rl.rlim_cur < want) {
            rl.rlim_cur = want;
            if (rl.rlim_max < want)
                rl.rlim_max = want;
            if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
                getrlimit(RLIMIT_NOFILE, &rl);
                rl.rlim_cur = rl.rlim_max;
                setrlimit(RLIMIT_NOFILE, &rl);
                log_msg(LOG_WARN, "mcd: warning: cannot raise the open files limit to %llu for -c %u",
                        (unsigned long long)want, settings.maxconns);
            }
        }
    }
}

int daemon_detach(void)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid > 0)
        _exit(EXIT_SUCCESS);
    if (setsid() < 0)
        return -1;
    if (chdir("/") != 0)
        return -1;
    int fd = open("/dev/null", O_RDWR);
    if (fd < 0)
        return -1;
    dup2(fd, STDIN_FILENO);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    if (fd > STDERR_FILENO)
        close(fd);
    return 0;
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
    FILE *f = fopen(settings.pid_file, "w");
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
