/*
 * sasl.h - SASL authentication (-S) over the binary protocol, on Cyrus
 * SASL, configured as memcached 1.6.45 configures it: the service name
 * "memcached", its config file `memcached.conf` (mech_list, sasldb_path,
 * ...) found through SASL_CONF_PATH, and, when MEMCACHED_SASL_PWDB names a
 * file of `user:password` lines, that file as the password database (the
 * user as Cyrus hands it over: `user@hostname` unless a realm is given).
 *
 * One mcd_sasl_conn per client connection, created on its first SASL
 * request and used by its worker only.
 */
#ifndef MCD_SASL_H
#define MCD_SASL_H

#include <stdbool.h>
#include <stddef.h>

struct mcd_sasl_conn;

/* Initialises the library (startup, -S). 0, or -1 with memcached's message
 * ("Error initializing sasl.") printed. */
int mcd_sasl_setup(void);
void mcd_sasl_teardown(void);

/* Frees a connection's context (NULL-safe); *c becomes NULL. */
void mcd_sasl_conn_free(struct mcd_sasl_conn **c);

/* The mechanisms, space separated, in *out (valid until the next call on
 * *c). 0, or -1 on failure. Creates *c when NULL. */
int mcd_sasl_list_mechs(struct mcd_sasl_conn **c, const char **out, size_t *n);

/* Longest mechanism name a client may send (memcached's limit: longer is
 * 0x04 "Invalid arguments"). */
#define MCD_SASL_MECH_MAX 32

enum mcd_sasl_result { MCD_SASL_OK, MCD_SASL_CONTINUE, MCD_SASL_FAIL };

/*
 * One SASL auth (step false: starts `mech` afresh) or step (step true:
 * continues the exchange started by the last auth on this connection).
 * CONTINUE: the server's challenge is in *out / *outlen (valid until the
 * next call). Creates *c when NULL.
 */
enum mcd_sasl_result mcd_sasl_auth(struct mcd_sasl_conn **c, bool step, const char *mech, size_t nmech,
                                   const char *data, size_t n, const char **out, size_t *outlen);

/* Checks one line of a MEMCACHED_SASL_PWDB file, "user:password" with an
 * optional "\r\n" or "\n", against user and pass (constant time in the
 * password). For the fuzz target and the unit test. */
bool mcd_sasl_pwdb_line_matches(const char *line, size_t len, const char *user, const char *pass,
                                size_t plen);

#endif /* MCD_SASL_H */
