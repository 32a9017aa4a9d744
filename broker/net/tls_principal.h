/*
 * broker/net/tls_principal.h — ssl.principal.mapping.rules: Kafka's rules
 * that turn a client certificate's subject (RFC 2253 text, most specific
 * part first: "CN=alice,OU=eng,O=Acme") into a principal name.
 *
 * Pure code: no sockets, no OpenSSL, no threads; a parsed rule list is
 * immutable and may be shared by every loop.
 */
#ifndef GREGOR_BROKER_NET_TLS_PRINCIPAL_H
#define GREGOR_BROKER_NET_TLS_PRINCIPAL_H

#include <stddef.h>

struct tls_rules;

/* Parses a comma (or newline) separated list of DEFAULT and
 * RULE:pattern/replacement/[L|U] (pattern: a POSIX extended regular
 * expression that must match the whole DN; replacement: $1..$9 name its
 * groups, "\/" is a slash). Returns NULL with the reason in why on a bad
 * list (or out of memory). */
struct tls_rules *tls_rules_parse(const char *text, char *why, size_t whylen);
void tls_rules_free(struct tls_rules *rules);

/* Applies the first rule that matches dn and writes the name into out
 * (size n). Returns 1, or 0 when no rule matches (Kafka refuses the
 * client then). */
int tls_rules_apply(const struct tls_rules *rules, const char *dn, char *out, size_t n);

#endif
