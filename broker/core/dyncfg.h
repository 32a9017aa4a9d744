/*
 * broker/core/dyncfg.h — dynamic broker configs in ZooKeeper
 * (/config/brokers/<id>, /config/brokers/<default>): changing them for any
 * broker of the cluster, and bringing them into this broker's live values
 * (broker/config/dynamic.h) at start and after each change notification.
 */
#ifndef GREGOR_BROKER_CORE_DYNCFG_H
#define GREGOR_BROKER_CORE_DYNCFG_H

#include "common/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct broker;

/* One requested change: op 0 SET, 1 DELETE (IncrementalAlterConfigs'
 * numbers; AlterConfigs sends SET only). Strings borrowed. */
struct dyncfg_op {
    const char *key;
    int8_t op;
    const char *value; /* NULL for DELETE */
};

/*
 * Reads this broker's and the default overrides from ZooKeeper and
 * installs them: live values, topic defaults, and every topic without an
 * override of its own. Start-up (main thread, before the topics load and
 * before the workers start) or the admin worker. A read failure is logged
 * and leaves the previous values.
 */
void dyncfg_load(struct broker *b);

/*
 * Changes the overrides of entity `name` (a registered broker id in
 * decimal, or "" for the cluster-wide default). incremental: ops apply to
 * the current overrides; otherwise they replace them. Every SET is checked
 * with dynamic_validate(); validate_only stops before the write. The write
 * is conditional (retried on a concurrent change), followed by a change
 * notification; this broker applies it at once when it concerns it.
 * Returns KERR_NONE, KERR_INVALID_REQUEST with a reason in msg (Kafka's
 * ZooKeeper mode answers a read-only key, an unknown key or a bad value of
 * a broker resource so: "Invalid config value for resource"), or a
 * ZooKeeper failure. Admin worker.
 */
kerr_t dyncfg_alter(struct broker *b, const char *name, const struct dyncfg_op *ops, int n_ops,
                    bool incremental, bool validate_only, char *msg, size_t msglen);

/* True if entity (as named in a change notification) concerns this broker. */
bool dyncfg_concerns(const struct broker *b, const char *entity);

#endif
