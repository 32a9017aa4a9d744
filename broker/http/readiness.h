/*
 * broker/http/readiness.h — the meaning of GET /readyz: a broker is ready
 * when it is registered in ZooKeeper on a session it trusts, the active controller has told it the
 * cluster (its metadata names a controller and lists this broker among the
 * live ones), it is in the ISR of every partition it hosts a replica of,
 * and every host it advertises resolves (broker/core/advertised.h: clients
 * and brokers given a name that does not resolve cannot reach it).
 * Owns the text of the /readyz answer (docs/deploy.md, "Health checks").
 * Pure: it reads a metadata snapshot, so unit tests build their own.
 */
#ifndef GREGOR_BROKER_HTTP_READINESS_H
#define GREGOR_BROKER_HTTP_READINESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mc_snapshot;

/* At most this many partitions out of the ISR are named in the answer. */
#define READINESS_MAX_NAMED 10

struct readiness {
    bool ready;
    bool registered;       /* broker.id registered in ZooKeeper (broker epoch known) */
    bool session_ok;       /* the ZooKeeper session is not known or presumed lost */
    bool controller_known; /* the metadata names an active controller */
    bool listed;           /* ... and lists this broker as live */
    int32_t controller_id;
    int replicas;            /* partitions with a replica on this broker */
    int out_of_isr;          /* ... of which this broker is not in the ISR */
    bool advertised_resolve; /* every advertised listener host resolves */
};

/* Evaluates readiness of broker self from snapshot s (registered: this
 * broker's ZooKeeper registration holds; session_lost: NULL, or why the
 * session is known or presumed lost (broker_session_lost()), written as a
 * line "zookeeper session: <why>" and making it not ready; unresolved: NULL when every
 * advertised host resolves, else the first that does not, as
 * advertised_unresolved() words it: "listener L host H: reason"). Writes
 * the answer's body into out (NUL-terminated, truncated to outlen): "ready"
 * or "not ready" on the first line, then one "key: value" line per
 * condition, "advertised listener does not resolve: listener L host H:
 * reason" when one does not, and the first READINESS_MAX_NAMED partitions
 * out of the ISR as "out of ISR: topic-p". */
struct readiness readiness_eval(const struct mc_snapshot *s, int32_t self, bool registered,
                                const char *session_lost, const char *unresolved, char *out,
                                size_t outlen);

#endif
