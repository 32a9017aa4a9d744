/*
 * broker/kafka/elect_leaders.c — ElectLeaders (key 43, v0-v2; v2 flexible).
 *
 * Request: election_type int8 (v1+; 0 = preferred, 1 = unclean),
 * topic_partitions (nullable: null = every partition) [topic string,
 * partitions int32[]], timeout_ms int32.
 * Response: throttle_time_ms int32, error_code int16 (v1+),
 * replica_election_results [topic string, partition_result [partition_id
 * int32, error_code int16, error_message nullable string]].
 *
 * Only the active controller elects: on any other broker every partition
 * (and, v1+, the top level) gets NOT_CONTROLLER, as in Kafka. On the
 * controller the election (preferred, type 0, or unclean, type 1: a
 * partition without a live leader gets a live replica, out of the ISR if
 * need be, whatever unclean.leader.election.enable says) runs on the
 * controller's loop (controller_elect_leaders()); the request stays
 * pending (KERR__PENDING) and the controller's callback writes the
 * response and calls req_complete(). For a null partition list,
 * partitions that needed no election are left out of the answer (Kafka
 * does the same). Any other election type: INVALID_REQUEST per partition.
 */
#include "broker/kafka/authz.h"
#include "broker/kafka/dispatch.h"
#include "broker/core/broker.h"
#include "common/vec.h"
#include "controller/controller.h"

#include <stdlib.h>
#include <string.h>

#define ELECT_MAX_PARTITIONS 100000


/* The decoded request; owned by the handler, then by the pending callback. */
struct elect_req {
    struct req *req;
    int8_t type;
    bool all; /* topic_partitions was null */
    int n;
    char **topics;  /* n, owned strings */
    int32_t *parts; /* n */
};

static void elect_req_free(struct elect_req *er)
{
    if (!er)
        return;
    for (int i = 0; er->topics && i < er->n; i++)
        free(er->topics[i]);
    free(er->topics);
    free(er->parts);
    free(er);
}

/* Appends one partition; cap[0] and cap[1] are the rooms in er->topics and
 * er->parts. */
static bool elect_add(struct elect_req *er, struct kstr topic, int32_t p, size_t cap[2])
{
    size_t need = (size_t)er->n + 1;
    if (!VEC_RESERVE_AT(er->topics, cap[0], need) || !VEC_RESERVE_AT(er->parts, cap[1], need))
        return false;
    er->topics[er->n] = kstr_dup(topic);
    er->parts[er->n] = p;
    if (!er->topics[er->n])
        return false;
    er->n++;
    return true;
}

/* Decodes the request body; false for a malformed one. */
static bool elect_decode(struct req *req, struct elect_req *er)
{
    struct kslice *s = &req->body;
    bool flex = req->flex;
    size_t cap[2] = {0, 0};
    er->type = req->api_version >= 1 ? (int8_t)kslice_u8(s) : 0;
    int32_t nt = kw_get_array_len(s, flex, 4);
    er->all = nt < 0;
    for (int32_t i = 0; i < nt && kslice_ok(s); i++) {
        struct kstr topic = kw_get_str(s, flex);
        int32_t np = kw_get_array_len(s, flex, 4);
        if (!kslice_ok(s) || !topic.ptr || np < 0 || er->n + np > ELECT_MAX_PARTITIONS)
            return false;
        for (int32_t k = 0; k < np && kslice_ok(s); k++)
            if (!elect_add(er, topic, kslice_i32(s), cap))
                return false;
        kw_skip_tags(s, flex);
    }
    (void)kslice_i32(s); /* timeout_ms: the election is done when we answer */
    kw_skip_tags(s, flex);
    return kslice_ok(s);
}

static const char *elect_message(int8_t type, int16_t err)
{
    switch (err) {
    case KERR_NONE:
        return NULL;
    case KERR_NOT_CONTROLLER:
        return "this broker is not the active controller";
    case KERR_UNKNOWN_TOPIC_OR_PARTITION:
        return "no such topic or partition";
    case KERR_INVALID_REQUEST:
        return "unsupported election type";
    case KERR_ELECTION_NOT_NEEDED:
        return type == CONTROLLER_ELECT_UNCLEAN ? "the partition has a live leader"
                                                : "the preferred replica is the leader already";
    case KERR_ELIGIBLE_LEADERS_NOT_AVAILABLE:
        return "no replica of the partition is alive";
    case KERR_PREFERRED_LEADER_NOT_AVAILABLE:
        return "the preferred replica is not alive and in sync";
    default:
        return "the election failed";
    }
}

/* Writes the whole response body for an election of `type`: entries
 * [0, n), grouped by runs of the same topic; skip_not_needed drops
 * ELECTION_NOT_NEEDED entries. */
static void elect_write(struct req *req, int8_t type, int16_t top_err, int n,
                        const char *const *topics, const int32_t *parts, const int16_t *errs,
                        bool skip_not_needed)
{
    struct kbuf *o = &req->out;
    bool flex = req->flex;
    kbuf_put_i32(o, 0); /* throttle_time_ms */
    if (req->api_version >= 1)
        kbuf_put_i16(o, top_err);
    size_t at_topics = kw_reserve_array_len(o, flex);
    int n_topics = 0;
    for (int i = 0; i < n;) {
        int j = i;
        int kept = 0;
        for (; j < n && strcmp(topics[j], topics[i]) == 0; j++)
            kept += !(skip_not_needed && errs[j] == KERR_ELECTION_NOT_NEEDED);
        if (kept > 0) {
            n_topics++;
            kw_put_str(o, flex, topics[i]);
            kw_put_array_len(o, flex, kept);
            for (int k = i; k < j; k++) {
                if (skip_not_needed && errs[k] == KERR_ELECTION_NOT_NEEDED)
                    continue;
                kbuf_put_i32(o, parts[k]);
                kbuf_put_i16(o, errs[k]);
                kw_put_nstr(o, flex, elect_message(type, errs[k]));
                kw_put_tags(o, flex);
            }
            kw_put_tags(o, flex);
        }
        i = j;
    }
    kw_patch_array_len(o, flex, at_topics, n_topics);
    kw_put_tags(o, flex);
}

/* Answers every requested partition with err (top level too, v1+). */
static void elect_write_all(struct elect_req *er, int16_t err)
{
    int16_t *errs = calloc((size_t)(er->n ? er->n : 1), sizeof(*errs));
    int n = errs ? er->n : 0;
    for (int i = 0; i < n; i++)
        errs[i] = err;
    elect_write(er->req, er->type, err, n, (const char *const *)er->topics, er->parts, errs, false);
    free(errs);
}

/* Controller loop: the election is decided. */
static void elect_done(void *arg, int n, const char *const *topics, const int32_t *partitions,
                       const int16_t *errors)
{
    struct elect_req *er = arg;
    struct req *req = er->req;
    struct controller *c = req->broker->controller;
    if (er->all && !controller_is_active(c))
        elect_write(req, er->type, KERR_NOT_CONTROLLER, 0, NULL, NULL, NULL, false);
    else if (!er->all && n != er->n) /* the controller could not be reached */
        elect_write_all(er, KERR_NOT_CONTROLLER);
    else
        elect_write(req, er->type, KERR_NONE, n, topics, partitions, errors, er->all);
    elect_req_free(er);
    req_complete(req);
}

kerr_t handle_elect_leaders(struct req *req)
{
    struct elect_req *er = calloc(1, sizeof(*er));
    if (!er)
        return KERR__CLOSE;
    er->req = req;
    if (!elect_decode(req, er)) {
        elect_req_free(er);
        return KERR__CLOSE;
    }
    struct controller *c = req->broker->controller;
    if (!authz_cluster(req, ACL_OP_ALTER)) {
        elect_write_all(er, KERR_CLUSTER_AUTHORIZATION_FAILED);
    } else if (!c || !controller_is_active(c)) {
        elect_write_all(er, KERR_NOT_CONTROLLER);
    } else if (er->type != CONTROLLER_ELECT_PREFERRED && er->type != CONTROLLER_ELECT_UNCLEAN) {
        elect_write_all(er, KERR_INVALID_REQUEST);
    } else if (!er->all && er->n == 0) {
        elect_write_all(er, KERR_NONE); /* an empty list elects nothing */
    } else {
        controller_elect_leaders(c, er->type, er->all ? 0 : er->n, (const char *const *)er->topics,
                                 er->parts, elect_done, er);
        return KERR__PENDING;
    }
    elect_req_free(er);
    return KERR_NONE;
}
