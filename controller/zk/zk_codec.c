/*
 * controller/zk/zk_codec.c — the znode payloads (proto/zk.proto, protobuf-c)
 * to and from zk_store.h's structs. Neighbours: zk_store.c calls these around
 * every ZooKeeper read and write. Thread-agnostic, no state.
 *
 * protobuf-c structs never leave this file (docs/architecture.md §11): a decoder unpacks,
 * checks every count and string against our fixed-size fields, copies, and
 * frees the message in the same function. Encoders point the message at the
 * caller's memory (no copies) and pack into one new buffer.
 */
#include "controller/zk/zk_codec.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "proto/zk.pb-c.h"

/* Copies src ("" if NULL) into dst[n]; false if it does not fit. */
static bool zc_copy_str(char *dst, size_t n, const char *src)
{
    if (src == NULL)
        src = "";
    size_t l = strlen(src);
    if (l >= n)
        return false;
    memcpy(dst, src, l + 1);
    return true;
}

/* Packs m into a new buffer. */
static kerr_t zc_pack(const ProtobufCMessage *m, uint8_t **out, size_t *len)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *b = malloc(n ? n : 1);
    if (b == NULL)
        return KERR__NOMEM;
    protobuf_c_message_pack(m, b);
    *out = b;
    *len = n;
    return KERR_NONE;
}

/* ---- ClusterId ---------------------------------------------------------- */

kerr_t zk_codec_cluster_id_encode(const char *id, uint8_t **out, size_t *len)
{
    Gregor__Zk__ClusterId m = GREGOR__ZK__CLUSTER_ID__INIT;
    m.id = (char *)id;
    return zc_pack(&m.base, out, len);
}

kerr_t zk_codec_cluster_id_decode(const uint8_t *d, size_t len, char *id, size_t n)
{
    Gregor__Zk__ClusterId *m = gregor__zk__cluster_id__unpack(NULL, len, d);
    if (m == NULL)
        return KERR__CORRUPT;
    kerr_t err = KERR_NONE;
    if (m->id == NULL || m->id[0] == '\0' || !zc_copy_str(id, n, m->id))
        err = KERR__CORRUPT;
    gregor__zk__cluster_id__free_unpacked(m, NULL);
    return err;
}

/* ---- BrokerRegistration ------------------------------------------------- */

kerr_t zk_codec_broker_encode(const struct zk_broker_reg *r, uint8_t **out, size_t *len)
{
    Gregor__Zk__BrokerRegistration m = GREGOR__ZK__BROKER_REGISTRATION__INIT;
    Gregor__Zk__Endpoint eps[ZK_MAX_ENDPOINTS];
    Gregor__Zk__Endpoint *ptrs[ZK_MAX_ENDPOINTS];

    if (r->n_endpoints < 0 || r->n_endpoints > ZK_MAX_ENDPOINTS)
        return KERR__INVALID;
    for (int i = 0; i < r->n_endpoints; i++) {
        gregor__zk__endpoint__init(&eps[i]);
        eps[i].listener_name = (char *)r->ep[i].listener;
        eps[i].host = (char *)r->ep[i].host;
        eps[i].port = r->ep[i].port;
        eps[i].security_protocol = (char *)r->ep[i].protocol;
        ptrs[i] = &eps[i];
    }
    m.id = r->id;
    m.n_endpoints = (size_t)r->n_endpoints;
    m.endpoints = ptrs;
    m.rack = (char *)r->rack;
    m.directory_id = (char *)r->directory_id;
    m.hostname = (char *)r->hostname;
    m.pid = r->pid;
    m.start_time_ms = r->start_time_ms;
    m.version = (char *)r->version;
    return zc_pack(&m.base, out, len);
}

static bool zc_endpoint_copy(struct zk_endpoint *dst, const Gregor__Zk__Endpoint *e)
{
    dst->port = e->port;
    return zc_copy_str(dst->listener, sizeof(dst->listener), e->listener_name) &&
           zc_copy_str(dst->host, sizeof(dst->host), e->host) &&
           zc_copy_str(dst->protocol, sizeof(dst->protocol), e->security_protocol);
}

kerr_t zk_codec_broker_decode(const uint8_t *d, size_t len, struct zk_broker_reg *r)
{
    Gregor__Zk__BrokerRegistration *m = gregor__zk__broker_registration__unpack(NULL, len, d);
    if (m == NULL)
        return KERR__CORRUPT;
    kerr_t err = KERR__CORRUPT;
    if (m->n_endpoints > ZK_MAX_ENDPOINTS)
        goto out_free;
    r->id = m->id;
    r->pid = m->pid;
    r->start_time_ms = m->start_time_ms;
    r->n_endpoints = (int)m->n_endpoints;
    for (size_t i = 0; i < m->n_endpoints; i++)
        if (!zc_endpoint_copy(&r->ep[i], m->endpoints[i]))
            goto out_free;
    if (!zc_copy_str(r->rack, sizeof(r->rack), m->rack) ||
        !zc_copy_str(r->directory_id, sizeof(r->directory_id), m->directory_id) ||
        !zc_copy_str(r->hostname, sizeof(r->hostname), m->hostname) ||
        !zc_copy_str(r->version, sizeof(r->version), m->version))
        goto out_free;
    err = KERR_NONE;
out_free:
    gregor__zk__broker_registration__free_unpacked(m, NULL);
    return err;
}

/* ---- TopicAssignment ---------------------------------------------------- */

/* The length of a padded row: its ids before the first ZK_NO_REPLICA. */
static size_t zc_row_len(const int32_t *row, int rf)
{
    size_t n = 0;
    while (row && n < (size_t)rf && row[n] != ZK_NO_REPLICA)
        n++;
    return n;
}

kerr_t zk_codec_assignment_encode(const struct zk_topic *t, uint8_t **out, size_t *len)
{
    Gregor__Zk__TopicAssignment m = GREGOR__ZK__TOPIC_ASSIGNMENT__INIT;
    if (t->n_partitions < 1 || t->replication_factor < 1 || t->replicas == NULL)
        return KERR__INVALID;
    size_t np = (size_t)t->n_partitions;
    size_t rf = (size_t)t->replication_factor;
    Gregor__Zk__PartitionReplicas *parts = calloc(np, sizeof(*parts));
    Gregor__Zk__PartitionReplicas **ptrs = calloc(np, sizeof(*ptrs));
    kerr_t err = KERR__NOMEM;
    if (parts == NULL || ptrs == NULL)
        goto out_free;
    for (size_t p = 0; p < np; p++) {
        gregor__zk__partition_replicas__init(&parts[p]);
        parts[p].partition = (int32_t)p;
        parts[p].replicas = t->replicas + p * rf;
        parts[p].n_replicas = zc_row_len(parts[p].replicas, (int)rf);
        if (parts[p].n_replicas == 0) {
            err = KERR__INVALID;
            goto out_free;
        }
        if (t->adding) {
            parts[p].adding_replicas = t->adding + p * rf;
            parts[p].n_adding_replicas = zc_row_len(parts[p].adding_replicas, (int)rf);
        }
        if (t->removing) {
            parts[p].removing_replicas = t->removing + p * rf;
            parts[p].n_removing_replicas = zc_row_len(parts[p].removing_replicas, (int)rf);
        }
        ptrs[p] = &parts[p];
    }
    m.n_partitions = np;
    m.partitions = ptrs;
    err = zc_pack(&m.base, out, len);
out_free:
    free(ptrs);
    free(parts);
    return err;
}

/* Checks that m holds partitions 0..n-1 exactly once each, each with
 * 1..ZK_MAX_ISR replicas and no more adding or removing ones than
 * replicas; returns the longest row or 0. */
static size_t zc_assignment_check(const Gregor__Zk__TopicAssignment *m, bool *moving)
{
    size_t n = m->n_partitions;
    if (n == 0 || n > (size_t)INT32_MAX)
        return 0;
    size_t rf = 0;
    bool *seen = calloc(n, sizeof(*seen));
    if (seen == NULL)
        return 0;
    for (size_t i = 0; i < n; i++) {
        const Gregor__Zk__PartitionReplicas *pr = m->partitions[i];
        if (pr->partition < 0 || (size_t)pr->partition >= n || seen[pr->partition] ||
            pr->n_replicas == 0 || pr->n_replicas > ZK_MAX_ISR ||
            pr->n_adding_replicas > pr->n_replicas || pr->n_removing_replicas > pr->n_replicas) {
            rf = 0;
            break;
        }
        seen[pr->partition] = true;
        rf = pr->n_replicas > rf ? pr->n_replicas : rf;
        *moving = *moving || pr->n_adding_replicas > 0 || pr->n_removing_replicas > 0;
    }
    free(seen);
    return rf;
}

/* Fills a padded row of width rf from v[0..n). */
static void zc_row_fill(int32_t *row, size_t rf, const int32_t *v, size_t n)
{
    for (size_t r = 0; r < rf; r++)
        row[r] = r < n ? v[r] : ZK_NO_REPLICA;
}

kerr_t zk_codec_assignment_decode(const uint8_t *d, size_t len, struct zk_topic *t)
{
    Gregor__Zk__TopicAssignment *m = gregor__zk__topic_assignment__unpack(NULL, len, d);
    if (m == NULL)
        return KERR__CORRUPT;
    kerr_t err = KERR__CORRUPT;
    bool moving = false;
    size_t rf = zc_assignment_check(m, &moving);
    if (rf == 0 || rf > (size_t)INT32_MAX / m->n_partitions)
        goto out_free;
    size_t cells = m->n_partitions * rf;
    int32_t *reps = calloc(cells, sizeof(*reps));
    int32_t *add = moving ? calloc(cells, sizeof(*add)) : NULL;
    int32_t *rem = moving ? calloc(cells, sizeof(*rem)) : NULL;
    if (reps == NULL || (moving && (add == NULL || rem == NULL))) {
        free(reps);
        free(add);
        free(rem);
        err = KERR__NOMEM;
        goto out_free;
    }
    for (size_t i = 0; i < m->n_partitions; i++) {
        const Gregor__Zk__PartitionReplicas *pr = m->partitions[i];
        size_t at = (size_t)pr->partition * rf;
        zc_row_fill(reps + at, rf, pr->replicas, pr->n_replicas);
        if (moving) {
            zc_row_fill(add + at, rf, pr->adding_replicas, pr->n_adding_replicas);
            zc_row_fill(rem + at, rf, pr->removing_replicas, pr->n_removing_replicas);
        }
    }
    free(t->replicas);
    free(t->adding);
    free(t->removing);
    t->replicas = reps;
    t->adding = add;
    t->removing = rem;
    t->n_partitions = (int)m->n_partitions;
    t->replication_factor = (int)rf;
    err = KERR_NONE;
out_free:
    gregor__zk__topic_assignment__free_unpacked(m, NULL);
    return err;
}

/* ---- TopicConfig -------------------------------------------------------- */

kerr_t zk_codec_config_encode(const struct zk_topic *t, uint8_t **out, size_t *len)
{
    Gregor__Zk__TopicConfig m = GREGOR__ZK__TOPIC_CONFIG__INIT;
    if (t->n_configs < 0 || (t->n_configs > 0 && (!t->config_keys || !t->config_values)))
        return KERR__INVALID;
    size_t nc = (size_t)t->n_configs;
    Gregor__Zk__TopicConfig__ConfigsEntry *ents = calloc(nc ? nc : 1, sizeof(*ents));
    Gregor__Zk__TopicConfig__ConfigsEntry **ptrs = calloc(nc ? nc : 1, sizeof(*ptrs));
    kerr_t err = KERR__NOMEM;
    if (ents == NULL || ptrs == NULL)
        goto out_free;
    for (size_t i = 0; i < nc; i++) {
        gregor__zk__topic_config__configs_entry__init(&ents[i]);
        ents[i].key = (char *)t->config_keys[i];
        ents[i].value = (char *)t->config_values[i];
        ptrs[i] = &ents[i];
    }
    m.n_configs = nc;
    m.configs = ptrs;
    err = zc_pack(&m.base, out, len);
out_free:
    free(ptrs);
    free(ents);
    return err;
}

static int zc_entry_cmp(const void *a, const void *b)
{
    const Gregor__Zk__TopicConfig__ConfigsEntry *const *x = a, *const *y = b;
    return strcmp((*x)->key ? (*x)->key : "", (*y)->key ? (*y)->key : "");
}

kerr_t zk_codec_config_decode(const uint8_t *d, size_t len, struct zk_topic *t)
{
    Gregor__Zk__TopicConfig *m = gregor__zk__topic_config__unpack(NULL, len, d);
    if (m == NULL)
        return KERR__CORRUPT;
    size_t nc = m->n_configs;
    char(*keys)[128] = calloc(nc ? nc : 1, sizeof(*keys));
    char(*vals)[256] = calloc(nc ? nc : 1, sizeof(*vals));
    kerr_t err = KERR__NOMEM;
    if (keys == NULL || vals == NULL)
        goto out_free;
    if (nc > 1)
        qsort(m->configs, nc, sizeof(*m->configs), zc_entry_cmp);
    err = KERR__CORRUPT;
    for (size_t i = 0; i < nc; i++)
        if (!zc_copy_str(keys[i], sizeof(keys[i]), m->configs[i]->key) ||
            !zc_copy_str(vals[i], sizeof(vals[i]), m->configs[i]->value))
            goto out_free;
    free(t->config_keys);
    free(t->config_values);
    t->config_keys = keys;
    t->config_values = vals;
    t->n_configs = (int)nc;
    keys = NULL;
    vals = NULL;
    err = KERR_NONE;
out_free:
    free(keys);
    free(vals);
    gregor__zk__topic_config__free_unpacked(m, NULL);
    return err;
}

/* ---- PartitionState ----------------------------------------------------- */

kerr_t zk_codec_state_encode(const struct zk_partition_state *st, uint8_t **out, size_t *len)
{
    Gregor__Zk__PartitionState m = GREGOR__ZK__PARTITION_STATE__INIT;
    if (st->n_isr < 0 || st->n_isr > ZK_MAX_ISR)
        return KERR__INVALID;
    m.leader = st->leader;
    m.leader_epoch = st->leader_epoch;
    m.controller_epoch = st->controller_epoch;
    m.n_isr = (size_t)st->n_isr;
    m.isr = (int32_t *)st->isr;
    return zc_pack(&m.base, out, len);
}

kerr_t zk_codec_state_decode(const uint8_t *d, size_t len, struct zk_partition_state *st)
{
    Gregor__Zk__PartitionState *m = gregor__zk__partition_state__unpack(NULL, len, d);
    if (m == NULL)
        return KERR__CORRUPT;
    kerr_t err = KERR__CORRUPT;
    if (m->n_isr > ZK_MAX_ISR)
        goto out_free;
    st->leader = m->leader;
    st->leader_epoch = m->leader_epoch;
    st->controller_epoch = m->controller_epoch;
    st->n_isr = (int)m->n_isr;
    if (m->n_isr > 0)
        memcpy(st->isr, m->isr, m->n_isr * sizeof(st->isr[0]));
    err = KERR_NONE;
out_free:
    gregor__zk__partition_state__free_unpacked(m, NULL);
    return err;
}

/* ---- ControllerInfo / ControllerEpoch ----------------------------------- */

kerr_t zk_codec_controller_encode(int32_t broker_id, int64_t timestamp_ms, uint8_t **out,
                                  size_t *len)
{
    Gregor__Zk__ControllerInfo m = GREGOR__ZK__CONTROLLER_INFO__INIT;
    m.broker_id = broker_id;
    m.timestamp_ms = timestamp_ms;
    return zc_pack(&m.base, out, len);
}

kerr_t zk_codec_controller_decode(const uint8_t *d, size_t len, int32_t *broker_id)
{
    Gregor__Zk__ControllerInfo *m = gregor__zk__controller_info__unpack(NULL, len, d);
    if (m == NULL)
        return KERR__CORRUPT;
    *broker_id = m->broker_id;
    gregor__zk__controller_info__free_unpacked(m, NULL);
    return KERR_NONE;
}

kerr_t zk_codec_epoch_encode(int32_t epoch, uint8_t **out, size_t *len)
{
    Gregor__Zk__ControllerEpoch m = GREGOR__ZK__CONTROLLER_EPOCH__INIT;
    m.epoch = epoch;
    return zc_pack(&m.base, out, len);
}

kerr_t zk_codec_epoch_decode(const uint8_t *d, size_t len, int32_t *epoch)
{
    Gregor__Zk__ControllerEpoch *m = gregor__zk__controller_epoch__unpack(NULL, len, d);
    if (m == NULL)
        return KERR__CORRUPT;
    *epoch = m->epoch;
    gregor__zk__controller_epoch__free_unpacked(m, NULL);
    return KERR_NONE;
}

/* ---- ConfigChange ------------------------------------------------------- */

kerr_t zk_codec_config_change_encode(const struct zk_config_change *c, uint8_t **out, size_t *len)
{
    Gregor__Zk__ConfigChange m = GREGOR__ZK__CONFIG_CHANGE__INIT;
    m.entity_type = (char *)c->entity_type;
    m.entity_name = (char *)c->entity_name;
    return zc_pack(&m.base, out, len);
}

kerr_t zk_codec_config_change_decode(const uint8_t *d, size_t len, struct zk_config_change *c)
{
    Gregor__Zk__ConfigChange *m = gregor__zk__config_change__unpack(NULL, len, d);
    if (m == NULL)
        return KERR__CORRUPT;
    kerr_t err = KERR_NONE;
    if (!zc_copy_str(c->entity_type, sizeof(c->entity_type), m->entity_type) ||
        !zc_copy_str(c->entity_name, sizeof(c->entity_name), m->entity_name) ||
        c->entity_name[0] == '\0')
        err = KERR__CORRUPT;
    gregor__zk__config_change__free_unpacked(m, NULL);
    return err;
}
