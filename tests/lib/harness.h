/*
 * harness.h - start the server under test on a free loopback port and talk
 * to it over raw sockets.
 *
 * Owns: one child process per `struct mcd_server` (fork+exec of $MCD_BIN,
 * killed by PID, never outliving the test thanks to PR_SET_PDEATHSIG), and
 * buffered client connections (`struct mcd_conn`). Nothing here sleeps to
 * synchronise: readiness and exits are polled against deadlines.
 *
 * The binary is $MCD_BIN, else MCD_DEFAULT_BIN (a compile-time string), else
 * "server/mcd". $MCD_TARGET=memcached (or an MCD_BIN whose basename is
 * "memcached") marks the run as "against the real memcached", which the
 * mcd-only tests check to skip themselves.
 *
 * Not thread-safe per object: a connection belongs to one thread; servers
 * may be started from any thread.
 */
#ifndef MCD_TEST_HARNESS_H
#define MCD_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Default per-read deadline of the expect/read helpers, in milliseconds. */
#define MCD_IO_TIMEOUT_MS 5000

struct mcd_server {
    pid_t pid;            /* child PID; 0 once reaped */
    int port;             /* TCP port, 0 for a unix-socket-only server */
    char unix_path[108];  /* -s path, "" for TCP */
    char log_path[256];   /* the child's stdout+stderr */
    int exit_status;      /* waitpid() status once reaped */
};

struct mcd_conn {
    int fd;
    char *buf;  /* bytes received but not yet consumed */
    size_t len;
    size_t cap;
    bool eof;   /* peer closed (or reset) */
};

/* The server binary under test, and whether it is memcached itself. */
const char *mcd_bin(void);
bool mcd_target_is_memcached(void);
/* Path of the real memcached ($MEMCACHED_BIN or /usr/bin/memcached), or NULL
 * when it is not installed. */
const char *mcd_oracle_bin(void);

/*
 * Starts `bin` (NULL = mcd_bin()) with "-p PORT -l 127.0.0.1 -U 0 [-u root]"
 * plus the NULL-terminated `extra` (may be NULL) and waits up to ~10 s for a
 * "version" round trip. Retries with a new port if the child exits early.
 * Returns NULL (after printing the child's log to stderr) on failure.
 */
struct mcd_server *mcd_start_bin(const char *bin, const char *const extra[]);
struct mcd_server *mcd_start(const char *const extra[]);
/* mcd_start_bin for a server that speaks only binary (-B binary): the
 * readiness probe is a binary Version request. */
struct mcd_server *mcd_start_bin_binary(const char *bin, const char *const extra[]);
/* Same, listening only on a fresh unix socket path (-s PATH). */
struct mcd_server *mcd_start_unix(const char *const extra[]);

/*
 * Waits up to timeout_ms for the child to exit on its own. Returns true and
 * stores the waitpid status in srv->exit_status when it did.
 */
bool mcd_wait_exit(struct mcd_server *srv, int timeout_ms);
/*
 * SIGTERM, wait up to 5 s, then SIGKILL; frees srv and removes its log and
 * socket. Returns the waitpid status (e.g. for WIFEXITED checks). NULL is ok.
 */
int mcd_stop(struct mcd_server *srv);
/*
 * SIGKILL, reap, free: for servers whose clean exit is slow (memcached takes
 * ~0.7 s to stop on SIGTERM) when only a fresh state is wanted. NULL is ok.
 */
void mcd_kill(struct mcd_server *srv);

/* Returns a connected socket fd (TCP_NODELAY) or -1. */
int mcd_connect_fd(const struct mcd_server *srv);

/* Buffered connections. open returns NULL on failure; close accepts NULL. */
struct mcd_conn *mcd_conn_open(const struct mcd_server *srv);
struct mcd_conn *mcd_conn_open_port(int port);
void mcd_conn_close(struct mcd_conn *c);

/* Writes all bytes (false on error). send_slowly writes one byte per send(). */
bool mcd_send(struct mcd_conn *c, const void *buf, size_t len);
bool mcd_sendstr(struct mcd_conn *c, const char *s);
bool mcd_send_bytewise(struct mcd_conn *c, const void *buf, size_t len);

/*
 * Reads more into c->buf, waiting up to timeout_ms. Returns bytes read, 0 on
 * EOF (c->eof set) and -1 on timeout or error.
 */
long mcd_fill(struct mcd_conn *c, int timeout_ms);
/* Drops the first n buffered bytes. */
void mcd_consume(struct mcd_conn *c, size_t n);

/*
 * Reads until the reply matches `pattern` (see mcd_pattern_match) exactly,
 * then consumes it. On a mismatch or timeout prints the expected and actual
 * bytes, escaped, to stderr prefixed by `what`, and returns false.
 */
bool mcd_expect(struct mcd_conn *c, const char *pattern, size_t plen, const char *what);
bool mcd_expectstr(struct mcd_conn *c, const char *pattern);
/* Sends `req` then mcd_expectstr(reply). */
bool mcd_roundtrip(struct mcd_conn *c, const char *req, const char *reply);
/* True when the peer closes the connection within timeout_ms with no more bytes. */
bool mcd_expect_eof(struct mcd_conn *c, int timeout_ms);

/* Returns a malloc'd line without "\r\n", or NULL on timeout/EOF. */
char *mcd_read_line(struct mcd_conn *c);
/*
 * Returns a malloc'd NUL-terminated copy of everything up to and including
 * the first occurrence of `terminator` (e.g. "END\r\n" at a line start), or
 * NULL on timeout. *len gets the length when len is not NULL.
 */
char *mcd_read_until(struct mcd_conn *c, const char *terminator, size_t *len);

/*
 * Sends "stats[ sub]" and returns the malloc'd reply (up to "END\r\n").
 * mcd_stat_find copies the value of "STAT name value" (first match) into out
 * and returns true when found. mcd_stat_ll returns the value as a number,
 * or -1 when missing.
 */
char *mcd_stats(struct mcd_conn *c, const char *sub);
bool mcd_stat_find(const char *stats, const char *name, char *out, size_t outlen);
long long mcd_stat_ll(struct mcd_conn *c, const char *sub, const char *name);

/*
 * Reply patterns: literal bytes, where "{cas}" matches one or more digits
 * and "{str}" matches one or more bytes other than '\r' and '\n'.
 * Returns 1 on a full match of all of actual, 0 when actual is a proper
 * prefix of something that could match, -1 on a mismatch.
 */
int mcd_pattern_match(const char *pat, size_t plen, const char *actual, size_t alen);
/* Same, but 1 means the whole pattern matched the first *used bytes. */
int mcd_pattern_prefix(const char *pat, size_t plen, const char *actual, size_t alen, size_t *used);

/* A storage command's data block: len bytes of fill, then "\r\n" (len + 2
 * bytes, malloc'd; aborts when out of memory). */
char *mcd_data_block(size_t len, char fill);

/* Escapes bytes C-style (\r \n \\ \xHH) into a malloc'd string. */
char *mcd_escape(const void *buf, size_t len);

/* VmRSS of a process in KB, or -1. */
long mcd_rss_kb(pid_t pid);

/* Under ASan/TSan the allocators keep freed memory in quarantine and shadow
 * memory counts in RSS: RSS bounds are logged but not asserted there, when
 * the tests are built with a sanitizer or when the server under test is
 * ($MCD_BIN_SANITIZED=1, set by tests/sanitizers.sh for its ASan and TSan servers). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define MCD_RSS_ASSERTED 0
#else
#define MCD_RSS_ASSERTED (!mcd_bin_sanitized())
#endif
bool mcd_bin_sanitized(void);

/* Monotonic milliseconds, for deadlines. */
long long mcd_now_ms(void);
/* Short pause used only between polls of some condition (never as a sync). */
void mcd_poll_pause(void);

#endif /* MCD_TEST_HARNESS_H */
