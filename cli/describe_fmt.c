/*
 * cli/describe_fmt.c — the topic header line of `gregor topic describe`
 * (see describe_fmt.h).
 */
#include "cli/describe_fmt.h"

#include <stdio.h>

void describe_cfg_unavailable(struct describe_cfg *c, const char *reason)
{
    c->known = false;
    snprintf(c->text, sizeof(c->text), "%s", reason && reason[0] ? reason : "no answer");
}

void describe_fmt_header(char *out, size_t n, const char *topic, int partitions, int rf,
                         const struct describe_cfg *cfg)
{
    snprintf(out, n, "Topic: %s\tPartitionCount: %d\tReplicationFactor: %d\tConfigs: %s%s%s\n",
             topic, partitions, rf, cfg->known ? "" : "(unavailable: ", cfg->text,
             cfg->known ? "" : ")");
}
