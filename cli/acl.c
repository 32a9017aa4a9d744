/*
 * cli/acl.c — `gregor acl add|list|remove`: the brokers' ACLs (docs/security.md
 * "ACLs").
 *
 *   add    --allow|--deny PRINCIPAL --operation OP [--operation OP]...
 *          [--host HOST] RESOURCE [--prefixed]         (CreateAcls)
 *   list   [--principal P] [--host H] [--operation OP] [RESOURCE] [--prefixed|--match]
 *                                                      (DescribeAcls)
 *   remove the filters of list, plus --allow|--deny P to name the principal
 *          and permission                              (DeleteAcls)
 * where RESOURCE is --topic T, --group G, --cluster or --transactional-id ID.
 *
 * Output: add prints "Added ACL <binding>." per binding; list one binding per
 * line; remove "Removed ACL <binding>." per binding removed. A binding reads
 * "TOPIC:LITERAL:orders User:alice from * WRITE ALLOW". list --output json:
 * {"acls": [{"resource_type", "pattern_type", "name", "principal", "host",
 * "operation", "permission"}]} with the names of the text form.
 *
 * The requests go through the raw client (kraw.h) at version 1 to the
 * broker that answers the bootstrap Metadata: librdkafka 2.0.2 cannot name
 * TRANSACTIONAL_ID resources in its ACL API.
 */
#include "cli/cli.h"
#include "cli/group_plan.h"
#include "cli/kraw.h"
#include "common/kwire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ACL_TIMEOUT_MS 30000
#define ACL_VERSION 1
#define ACL_MAX_OPS 16

/* Kafka's codes (the wire values of the ACL APIs). */
enum { RT_ANY = 1, RT_TOPIC = 2, RT_GROUP = 3, RT_CLUSTER = 4, RT_TXN = 5 };
enum { PT_ANY = 1, PT_MATCH = 2, PT_LITERAL = 3, PT_PREFIXED = 4 };
enum { PERM_ANY = 1, PERM_DENY = 2, PERM_ALLOW = 3 };
#define OP_ANY 1

static const char *const op_names[] = {"UNKNOWN",
                                       "ANY",
                                       "ALL",
                                       "READ",
                                       "WRITE",
                                       "CREATE",
                                       "DELETE",
                                       "ALTER",
                                       "DESCRIBE",
                                       "CLUSTER_ACTION",
                                       "DESCRIBE_CONFIGS",
                                       "ALTER_CONFIGS",
                                       "IDEMPOTENT_WRITE"};
static const char *const rt_names[] = {"UNKNOWN", "ANY",     "TOPIC",
                                       "GROUP",   "CLUSTER", "TRANSACTIONAL_ID"};
static const char *const pt_names[] = {"UNKNOWN", "ANY", "MATCH", "LITERAL", "PREFIXED"};
static const char *const perm_names[] = {"UNKNOWN", "ANY", "DENY", "ALLOW"};

#define NAME_OF(tab, v) ((v) >= 0 && (size_t)(v) < sizeof(tab) / sizeof((tab)[0]) ? (tab)[v] : "?")

/* "Write", "WRITE", "write", "IdempotentWrite", "idempotent-write": same. */
static int op_parse(const char *s)
{
    for (size_t i = 2; i < sizeof(op_names) / sizeof(op_names[0]); i++) {
        const char *a = op_names[i], *b = s;
        for (;;) {
            while (*a == '_')
                a++;
            while (*b == '_' || *b == '-')
                b++;
            if (!*a || !*b || (*a | 0x20) != (*b | 0x20))
                break;
            a++, b++;
        }
        if (!*a && !*b)
            return (int)i;
    }
    return -1;
}

enum {
    AO_ALLOW = 1,
    AO_DENY,
    AO_PRINCIPAL,
    AO_OPERATION,
    AO_HOST,
    AO_TOPIC,
    AO_GROUP,
    AO_CLUSTER,
    AO_TXN,
    AO_PREFIXED,
    AO_MATCH,
    AO_OUTPUT,
};

static const struct cli_opt acl_opts[] = {
    {"allow", 0, true, AO_ALLOW},
    {"deny", 0, true, AO_DENY},
    {"principal", 0, true, AO_PRINCIPAL},
    {"operation", 'o', true, AO_OPERATION},
    {"host", 0, true, AO_HOST},
    {"topic", 't', true, AO_TOPIC},
    {"group", 'g', true, AO_GROUP},
    {"cluster", 0, false, AO_CLUSTER},
    {"transactional-id", 0, true, AO_TXN},
    {"prefixed", 0, false, AO_PREFIXED},
    {"match", 0, false, AO_MATCH},
    {"output", 0, true, AO_OUTPUT},
    {NULL, 0, false, 0},
};

struct acl_args {
    int perm;              /* PERM_*; PERM_ANY when neither --allow nor --deny */
    const char *principal; /* NULL = any (list, remove) */
    const char *host;      /* NULL = any (list, remove); "*" for add */
    int ops[ACL_MAX_OPS];
    int n_ops;
    int rtype; /* RT_ANY when no resource was named */
    const char *name;
    int pattern; /* PT_LITERAL, PT_PREFIXED, PT_MATCH; PT_ANY for list without a resource */
    bool prefixed, match;
    bool json; /* --output json (list only) */
};

static int acl_opt(void *ctx, int id, const char *val)
{
    struct acl_args *a = ctx;
    switch (id) {
    case AO_ALLOW:
    case AO_DENY:
        if (a->perm != PERM_ANY)
            return cli_usage_error("give one of --allow and --deny, once");
        a->perm = id == AO_ALLOW ? PERM_ALLOW : PERM_DENY;
        a->principal = val;
        return CLI_OK;
    case AO_PRINCIPAL:
        a->principal = val;
        return CLI_OK;
    case AO_OPERATION: {
        int op = op_parse(val);
        if (op < 0)
            return cli_usage_error("--operation: unknown operation '%s' (Read, Write, Create, "
                                   "Delete, Alter, Describe, ClusterAction, DescribeConfigs, "
                                   "AlterConfigs, IdempotentWrite, All)",
                                   val);
        if (a->n_ops >= ACL_MAX_OPS)
            return cli_usage_error("too many --operation options");
        a->ops[a->n_ops++] = op;
        return CLI_OK;
    }
    case AO_HOST:
        a->host = val;
        return CLI_OK;
    case AO_TOPIC:
    case AO_GROUP:
    case AO_CLUSTER:
    case AO_TXN:
        if (a->rtype != RT_ANY)
            return cli_usage_error("name one resource: --topic, --group, --cluster or "
                                   "--transactional-id");
        a->rtype = id == AO_TOPIC   ? RT_TOPIC
                   : id == AO_GROUP ? RT_GROUP
                   : id == AO_TXN   ? RT_TXN
                                    : RT_CLUSTER;
        a->name = id == AO_CLUSTER ? "kafka-cluster" : val;
        return CLI_OK;
    case AO_PREFIXED:
        a->prefixed = true;
        return CLI_OK;
    case AO_MATCH:
        a->match = true;
        return CLI_OK;
    case AO_OUTPUT:
        return cli_parse_output(val, &a->json);
    }
    return CLI_USAGE;
}

static void binding_print(const char *prefix, int rtype, int pattern, const char *name,
                          const char *principal, const char *host, int op, int perm)
{
    printf("%s%s:%s:%s %s from %s %s %s%s\n", prefix, NAME_OF(rt_names, rtype),
           NAME_OF(pt_names, pattern), name, principal, host, NAME_OF(op_names, op),
           NAME_OF(perm_names, perm), *prefix ? "." : "");
}

/* Sends one request to the broker that answered the bootstrap Metadata. */
static int acl_call(struct cli *cli, int16_t key, const struct kbuf *body, uint8_t **resp,
                    size_t *len)
{
    rd_kafka_t *rk = NULL;
    const struct rd_kafka_metadata *md = NULL;
    int rc = cli_admin_client(cli, &rk);
    if (rc == CLI_OK)
        rc = cli_metadata(cli, rk, NULL, &md);
    if (rc != CLI_OK) {
        if (rk)
            rd_kafka_destroy(rk);
        return rc;
    }
    const struct rd_kafka_metadata_broker *b = cli_md_broker(md, md->orig_broker_id);
    if (!b && md->broker_cnt > 0)
        b = &md->brokers[0];
    struct kraw k = {.fd = -1};
    if (!b) {
        rc = cli_fail("no broker in the cluster's metadata");
    } else if (kraw_connect(&k, b->host, b->port, ACL_TIMEOUT_MS) != KRAW_OK) {
        rc = cli_fail("%s", k.reason);
    } else {
        int krc = kraw_call(&k, key, ACL_VERSION, body, resp, len);
        if (krc == KRAW_CLOSED)
            rc =
                cli_fail("the broker at %s closed the connection on %s", k.addr, api_key_name(key));
        else if (krc != KRAW_OK)
            rc = cli_fail("%s failed: %s", api_key_name(key), k.reason);
    }
    kraw_close(&k);
    rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
    return rc;
}

static const char acl_add_help[] =
    "Usage: gregor acl add (--allow|--deny) PRINCIPAL --operation OP [--operation OP]...\n"
    "                      [--host HOST] (--topic T | --group G | --cluster |\n"
    "                      --transactional-id ID) [--prefixed]\n"
    "Adds ACLs (CreateAcls): one per operation.\n"
    "      --allow PRINCIPAL      grant, e.g. User:alice (User:* is everyone)\n"
    "      --deny PRINCIPAL       refuse (a DENY wins over any ALLOW)\n"
    "  -o, --operation OP         Read, Write, Create, Delete, Alter, Describe,\n"
    "                             ClusterAction, DescribeConfigs, AlterConfigs,\n"
    "                             IdempotentWrite or All; repeatable\n"
    "      --host HOST            client address the ACL applies to (default: *)\n"
    "  -t, --topic T / -g, --group G / --cluster / --transactional-id ID\n"
    "                             the resource (* names every one of its type)\n"
    "      --prefixed             the name is a prefix (every resource starting with it)\n";

static int acl_add(struct cli *cli, int argc, char **argv)
{
    struct acl_args a = {.perm = PERM_ANY, .rtype = RT_ANY};
    int done, npos = cli_parse_cmd(cli, argc, argv, acl_opts, acl_opt, &a, acl_add_help, &done);
    if (npos < 0)
        return done;
    if (a.json)
        return cli_usage_error("--output is for acl list");
    if (npos > 0)
        return cli_usage_positional(cli, "unexpected argument");
    if (a.perm == PERM_ANY)
        return cli_usage_error("give --allow PRINCIPAL or --deny PRINCIPAL");
    if (a.n_ops == 0)
        return cli_usage_error("give at least one --operation");
    if (a.rtype == RT_ANY)
        return cli_usage_error("name the resource: --topic, --group, --cluster or "
                               "--transactional-id");
    if (a.match)
        return cli_usage_error("--match is for list and remove");
    struct kbuf body;
    kbuf_init(&body);
    kw_put_array_len(&body, false, a.n_ops);
    for (int i = 0; i < a.n_ops; i++) {
        kbuf_put_u8(&body, (uint8_t)a.rtype);
        kw_put_str(&body, false, a.name);
        kbuf_put_u8(&body, a.prefixed ? PT_PREFIXED : PT_LITERAL);
        kw_put_str(&body, false, a.principal);
        kw_put_str(&body, false, a.host ? a.host : "*");
        kbuf_put_u8(&body, (uint8_t)a.ops[i]);
        kbuf_put_u8(&body, (uint8_t)a.perm);
    }
    uint8_t *resp = NULL;
    size_t len = 0;
    int rc = acl_call(cli, API_CREATE_ACLS, &body, &resp, &len);
    kbuf_destroy(&body);
    if (rc != CLI_OK)
        return rc;
    struct kslice s;
    kslice_init(&s, resp, len);
    (void)kslice_i32(&s); /* throttle_time_ms */
    int32_t n = kw_get_array_len(&s, false, 4);
    if (!kslice_ok(&s) || n != a.n_ops) {
        free(resp);
        return cli_fail("malformed CreateAcls response");
    }
    for (int32_t i = 0; i < n; i++) {
        int16_t err = kslice_i16(&s);
        struct kstr msg = kw_get_str(&s, false);
        if (!kslice_ok(&s))
            break;
        if (err == 0)
            binding_print("Added ACL ", a.rtype, a.prefixed ? PT_PREFIXED : PT_LITERAL, a.name,
                          a.principal, a.host ? a.host : "*", a.ops[i], a.perm);
        else
            rc = cli_fail("cannot add the %s ACL: %s%s%.*s", NAME_OF(op_names, a.ops[i]),
                          rd_kafka_err2name((rd_kafka_resp_err_t)err), msg.ptr ? ": " : "",
                          msg.ptr ? (int)msg.len : 0, msg.ptr ? msg.ptr : "");
    }
    if (!kslice_ok(&s))
        rc = cli_fail("malformed CreateAcls response");
    free(resp);
    return rc;
}

/* Writes the filter of list / remove (one per --operation, or one for any). */
static void put_filter(struct kbuf *b, const struct acl_args *a, int op)
{
    kbuf_put_u8(b, (uint8_t)a->rtype);
    kw_put_nstr(b, false, a->name);
    kbuf_put_u8(b, (uint8_t)a->pattern);
    kw_put_nstr(b, false, a->principal);
    kw_put_nstr(b, false, a->host);
    kbuf_put_u8(b, (uint8_t)op);
    kbuf_put_u8(b, (uint8_t)a->perm);
}

static int filter_args(struct acl_args *a)
{
    if (a->prefixed && a->match)
        return cli_usage_error("give one of --prefixed and --match");
    if ((a->prefixed || a->match) && a->rtype == RT_ANY)
        return cli_usage_error("--prefixed and --match need a resource");
    a->pattern = a->rtype == RT_ANY ? PT_ANY
                 : a->prefixed      ? PT_PREFIXED
                 : a->match         ? PT_MATCH
                                    : PT_LITERAL;
    if (a->n_ops > 1)
        return cli_usage_error("list and remove take at most one --operation");
    return CLI_OK;
}

/* Reads one binding of a DescribeAcls resource or DeleteAcls match. */
static bool get_entry(struct kslice *s, char *principal, size_t pn, char *host, size_t hn, int *op,
                      int *perm)
{
    struct kstr p = kw_get_str(s, false), h = kw_get_str(s, false);
    *op = kslice_u8(s);
    *perm = kslice_u8(s);
    return kslice_ok(s) && p.ptr && h.ptr && kstr_copy(p, principal, pn) && kstr_copy(h, host, hn);
}

static const char acl_list_help[] =
    "Usage: gregor acl list [--principal P] [--host H] [--operation OP]\n"
    "                       [--allow P | --deny P] [RESOURCE [--prefixed | --match]]\n"
    "Lists ACLs (DescribeAcls), one per line: TYPE:PATTERN:NAME PRINCIPAL from HOST OP "
    "PERMISSION.\n"
    "Without a resource every ACL; with one, those of exactly that name (literal),\n"
    "that prefix (--prefixed), or every ACL that applies to it (--match).\n"
    "RESOURCE is --topic T, --group G, --cluster or --transactional-id ID.\n"
    "  --output json   one JSON object (shape in docs/cli.md)\n";

/* One binding as a JSON object of `acl list --output json`. */
static void binding_json(bool first, int rtype, int pattern, const char *name,
                         const char *principal, const char *host, int op, int perm)
{
    printf("%s{\"resource_type\": \"%s\", \"pattern_type\": \"%s\", \"name\": ", first ? "" : ", ",
           NAME_OF(rt_names, rtype), NAME_OF(pt_names, pattern));
    gp_json_str(stdout, name);
    fputs(", \"principal\": ", stdout);
    gp_json_str(stdout, principal);
    fputs(", \"host\": ", stdout);
    gp_json_str(stdout, host);
    printf(", \"operation\": \"%s\", \"permission\": \"%s\"}", NAME_OF(op_names, op),
           NAME_OF(perm_names, perm));
}

static int acl_list(struct cli *cli, int argc, char **argv)
{
    struct acl_args a = {.perm = PERM_ANY, .rtype = RT_ANY};
    int done, npos = cli_parse_cmd(cli, argc, argv, acl_opts, acl_opt, &a, acl_list_help, &done);
    if (npos < 0)
        return done;
    if (npos > 0)
        return cli_usage_positional(cli, "unexpected argument");
    int rc = filter_args(&a);
    if (rc != CLI_OK)
        return rc;
    struct kbuf body;
    kbuf_init(&body);
    put_filter(&body, &a, a.n_ops ? a.ops[0] : OP_ANY);
    uint8_t *resp = NULL;
    size_t len = 0;
    rc = acl_call(cli, API_DESCRIBE_ACLS, &body, &resp, &len);
    kbuf_destroy(&body);
    if (rc != CLI_OK)
        return rc;
    struct kslice s;
    kslice_init(&s, resp, len);
    (void)kslice_i32(&s);
    int16_t err = kslice_i16(&s);
    struct kstr msg = kw_get_str(&s, false);
    int32_t nr = kw_get_array_len(&s, false, 8);
    if (kslice_ok(&s) && err != 0) {
        rc = cli_fail("cannot list ACLs: %s%s%.*s", rd_kafka_err2name((rd_kafka_resp_err_t)err),
                      msg.ptr ? ": " : "", msg.ptr ? (int)msg.len : 0, msg.ptr ? msg.ptr : "");
        free(resp);
        return rc;
    }
    int shown = 0;
    if (a.json)
        fputs("{\"acls\": [", stdout);
    for (int32_t i = 0; kslice_ok(&s) && i < nr; i++) {
        int rtype = kslice_u8(&s);
        struct kstr name = kw_get_str(&s, false);
        int pattern = kslice_u8(&s);
        int32_t na = kw_get_array_len(&s, false, 6);
        char nm[1024];
        if (!kslice_ok(&s) || !name.ptr || !kstr_copy(name, nm, sizeof(nm)))
            break;
        for (int32_t j = 0; j < na; j++) {
            char principal[512], host[512];
            int op, perm;
            if (!get_entry(&s, principal, sizeof(principal), host, sizeof(host), &op, &perm))
                break;
            if (a.json)
                binding_json(shown++ == 0, rtype, pattern, nm, principal, host, op, perm);
            else
                binding_print("", rtype, pattern, nm, principal, host, op, perm);
        }
    }
    if (a.json)
        fputs("]}\n", stdout);
    if (!kslice_ok(&s))
        rc = cli_fail("malformed DescribeAcls response");
    free(resp);
    return rc;
}

static const char acl_remove_help[] =
    "Usage: gregor acl remove [--allow P | --deny P | --principal P] [--host H]\n"
    "                         [--operation OP] RESOURCE [--prefixed | --match]\n"
    "Removes the ACLs the filter selects (DeleteAcls) and prints each one removed.\n"
    "A resource is required: its literal ACLs, its prefix's (--prefixed), or every\n"
    "ACL that applies to the name (--match), narrowed by the other options.\n";

static int acl_remove(struct cli *cli, int argc, char **argv)
{
    struct acl_args a = {.perm = PERM_ANY, .rtype = RT_ANY};
    int done, npos = cli_parse_cmd(cli, argc, argv, acl_opts, acl_opt, &a, acl_remove_help, &done);
    if (npos < 0)
        return done;
    if (a.json)
        return cli_usage_error("--output is for acl list");
    if (npos > 0)
        return cli_usage_positional(cli, "unexpected argument");
    if (a.rtype == RT_ANY)
        return cli_usage_error("name the resource: --topic, --group, --cluster or "
                               "--transactional-id");
    int rc = filter_args(&a);
    if (rc != CLI_OK)
        return rc;
    struct kbuf body;
    kbuf_init(&body);
    kw_put_array_len(&body, false, 1);
    put_filter(&body, &a, a.n_ops ? a.ops[0] : OP_ANY);
    uint8_t *resp = NULL;
    size_t len = 0;
    rc = acl_call(cli, API_DELETE_ACLS, &body, &resp, &len);
    kbuf_destroy(&body);
    if (rc != CLI_OK)
        return rc;
    struct kslice s;
    kslice_init(&s, resp, len);
    (void)kslice_i32(&s);
    int32_t nf = kw_get_array_len(&s, false, 8);
    for (int32_t f = 0; kslice_ok(&s) && f < nf; f++) {
        int16_t err = kslice_i16(&s);
        struct kstr msg = kw_get_str(&s, false);
        int32_t nm = kw_get_array_len(&s, false, 12);
        if (kslice_ok(&s) && err != 0)
            rc = cli_fail("cannot remove ACLs: %s%s%.*s",
                          rd_kafka_err2name((rd_kafka_resp_err_t)err), msg.ptr ? ": " : "",
                          msg.ptr ? (int)msg.len : 0, msg.ptr ? msg.ptr : "");
        for (int32_t i = 0; kslice_ok(&s) && i < nm; i++) {
            (void)kslice_i16(&s);
            (void)kw_get_str(&s, false);
            int rtype = kslice_u8(&s);
            struct kstr name = kw_get_str(&s, false);
            int pattern = kslice_u8(&s);
            char nmb[1024], principal[512], host[512];
            int op, perm;
            if (!kslice_ok(&s) || !name.ptr || !kstr_copy(name, nmb, sizeof(nmb)) ||
                !get_entry(&s, principal, sizeof(principal), host, sizeof(host), &op, &perm))
                break;
            binding_print("Removed ACL ", rtype, pattern, nmb, principal, host, op, perm);
        }
    }
    if (!kslice_ok(&s))
        rc = cli_fail("malformed DeleteAcls response");
    free(resp);
    return rc;
}

static const struct cli_sub acl_subs[] = {
    {"add", "acl add", acl_add},
    {"list", "acl list", acl_list},
    {"remove", "acl remove", acl_remove},
};

static const char acl_help[] = "Usage: gregor acl <add|list|remove> [OPTIONS]\n"
                               "Manages the brokers' ACLs (authorizer.class.name must be set).\n"
                               "Run 'gregor acl <subcommand> --help' for its options.\n";

int acl_main(struct cli *cli, int argc, char **argv)
{
    return cli_run_sub(cli, argc, argv, acl_subs, sizeof(acl_subs) / sizeof(acl_subs[0]), acl_help);
}
