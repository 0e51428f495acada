/*
 * daemon.h - process set-up done once at startup: dropping root (-u),
 * detaching (-d), the pid file (-P), core and fd limits, memory locking.
 */
#ifndef MCD_DAEMON_H
#define MCD_DAEMON_H

/* Refuses root without -u, drops to -u's user. 0, or -1 (message printed). */
int daemon_drop_privileges(void);
/* Raises the fd limit to fit -c connections; -r raises the core limit. */
void daemon_set_limits(void);
/* -d: fork, setsid, chdir /, standard streams to /dev/null. 0 or -1. */
int daemon_detach(void);
/* -k: mlockall. */
void daemon_lock_memory(void);
/* -P: writes our pid; removed by daemon_remove_pidfile() at clean exit. */
void daemon_write_pidfile(void);
void daemon_remove_pidfile(void);

#endif /* MCD_DAEMON_H */
