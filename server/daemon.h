/*
 * daemon.h - process set-up done once at startup: dropping root (-u),
 * detaching (-d), the pid file (-P), core and fd limits, memory locking.
 */
#ifndef MCD_DAEMON_H
#define MCD_DAEMON_H

/* Refuses root without -u, drops to -u's user. 0, or -1 (message printed). */
int daemon_drop_privileges(void);
/* -c: raises RLIMIT_NOFILE to fit the connections; -r: raises RLIMIT_CORE.
 * 0, or -1 when a limit cannot be raised (message printed). */
int daemon_set_limits(void);
/* -d: fork, setsid, chdir / (not with -r), stdin to /dev/null. The parent
 * stays until daemon_ready() and exits with the child's startup status.
 * Returns 0 in the child, -1 on failure. */
int daemon_detach(void);
/* Detached child only (no-op otherwise): stdout/stderr to /dev/null unless
 * -v, then lets the waiting parent exit 0. Call once serving. */
void daemon_ready(void);
/* -k: mlockall; a failure is a warning. */
void daemon_lock_memory(void);
/* -P: writes our pid; removed by daemon_remove_pidfile() at clean exit. */
void daemon_write_pidfile(void);
void daemon_remove_pidfile(void);

#endif /* MCD_DAEMON_H */
