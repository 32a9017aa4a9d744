/*
 * common/loop/sasl_bev.h — the broker's own SASL login on a connection it
 * opened to another broker's inter-broker listener (replica fetchers,
 * controller channels, transaction markers): SaslHandshake v1, then
 * SaslAuthenticate v1 rounds carrying the tokens of common/sasl_cli.h, on a
 * connected bufferevent, without blocking the loop.
 *
 * While the exchange runs it owns the bufferevent's callbacks; when it ends
 * it clears them and calls done(arg, error): error NULL when logged in, else
 * why (the caller then drops the connection as a failed connect). The caller
 * sets its own callbacks again before using the connection. A caller that
 * frees the bufferevent during the exchange first calls sasl_bev_cancel().
 * The exchange gives up after timeout_ms.
 *
 * The login (mechanism, user, password) is process-wide, set once at
 * start-up from the inter-broker listener's settings (sasl_bev_configure());
 * with none set, sasl_bev_enabled() is false and connections do not log in.
 *
 * Threads: an exchange runs on its bufferevent's loop; the login is
 * immutable once the loops run.
 */
#ifndef GREGOR_COMMON_LOOP_SASL_BEV_H
#define GREGOR_COMMON_LOOP_SASL_BEV_H

#include <stdbool.h>

struct bufferevent;
struct sasl_bev;

typedef void (*sasl_bev_done_fn)(void *arg, const char *error);

/* Sets the login every broker-to-broker connection makes; mechanism NULL
 * or "" turns it off. Call before the loops start. */
void sasl_bev_configure(const char *mechanism, const char *user, const char *password);
bool sasl_bev_enabled(void);

/* Starts the exchange on connected bev. NULL when memory ran out (nothing
 * changed; the caller fails the connection). */
struct sasl_bev *sasl_bev_start(struct bufferevent *bev, int timeout_ms, sasl_bev_done_fn done,
                                void *arg);
/* Stops an exchange without calling done (its bufferevent is about to go). */
void sasl_bev_cancel(struct sasl_bev *sb);

#endif
