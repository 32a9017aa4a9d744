/*
 * broker/kafka/configs_broker.c — DescribeConfigs of BROKER resources
 * (type 4): name = this broker's id (every server.properties key with its
 * effective value) or "" (the cluster-wide dynamic defaults only).
 *
 * Each entry: name, value, read_only (false for the dynamic keys,
 * broker/config/dynamic.h), is_default (v0) or config_source (v1+:
 * DYNAMIC_BROKER_CONFIG 2, DYNAMIC_DEFAULT_BROKER_CONFIG 3,
 * STATIC_BROKER_CONFIG 4, DEFAULT_CONFIG 5), is_sensitive, and with
 * include_synonyms the value of every level that sets the key, highest
 * precedence first, as Kafka lists them. AlterConfigs and
 * IncrementalAlterConfigs of broker resources run on the admin worker
 * (broker/core/dyncfg.c, called from configs.c).
 */
#include "broker/kafka/configs_broker.h"
#include "broker/config/dynamic.h"
#include "broker/core/broker.h"

#include <stdio.h>
#include <string.h>

struct syn {
    const char *value; /* NULL = null */
    int8_t source;
};

/* Writes one entry: syn[0] is the effective value; syn[0..n) the synonyms. */
static void put_broker_entry(struct req *req, const char *name, const struct syn *syn, int n,
                             bool read_only, bool synonyms)
{
    struct kbuf *o = &req->out;
    int16_t v = req->api_version;
    bool sensitive = config_key_is_sensitive(name); /* as Kafka: value never shown */
    kw_put_str(o, false, name);
    kw_put_nstr(o, false, sensitive ? NULL : syn[0].value);
    kbuf_put_u8(o, read_only);
    kbuf_put_u8(o, v == 0 ? syn[0].source == SRC_DEFAULT : (uint8_t)syn[0].source);
    kbuf_put_u8(o, sensitive); /* is_sensitive */
    if (v < 1)
        return;
    kw_put_array_len(o, false, synonyms ? n : 0);
    for (int i = 0; synonyms && i < n; i++) {
        kw_put_str(o, false, name);
        kw_put_nstr(o, false, sensitive ? NULL : syn[i].value);
        kbuf_put_u8(o, (uint8_t)syn[i].source);
    }
}

void configs_broker_describe(struct req *req, bool is_default, const struct kstr *keys,
                             int32_t n_keys, bool synonyms)
{
    const struct broker_config *cfg = req->broker->cfg;
    struct broker_dynamic *dyn = &req->broker->dyn;
    size_t at = kw_reserve_array_len(&req->out, false);
    int32_t count = 0;
    for (int i = 0; i < config_key_count(); i++) {
        const char *name = config_key_name(i);
        if (!configs_key_wanted(keys, n_keys, name))
            continue;
        bool dynamic = dynamic_key_is_dynamic(name);
        char mine[1024], def[1024], stat[1024];
        struct syn syn[3];
        int n = 0;
        if (dynamic && !is_default && dynamic_override(dyn, true, name, mine, sizeof(mine)))
            syn[n++] = (struct syn){mine, SRC_DYNAMIC_BROKER};
        if (dynamic && dynamic_override(dyn, false, name, def, sizeof(def)))
            syn[n++] = (struct syn){def, SRC_DYNAMIC_DEFAULT_BROKER};
        if (is_default && n == 0)
            continue; /* the default entity lists its overrides only */
        if (!is_default) {
            bool have = config_key_value(cfg, i, stat, sizeof(stat));
            syn[n++] =
                (struct syn){have ? stat : NULL, config_key_source(cfg, i) == CONFIG_SOURCE_DEFAULT
                                                     ? SRC_DEFAULT
                                                     : SRC_STATIC_BROKER};
        }
        put_broker_entry(req, name, syn, n, !dynamic, synonyms);
        count++;
    }
    kw_patch_array_len(&req->out, false, at, count);
}
