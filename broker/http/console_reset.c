/*
 * broker/http/console_reset.c — POST /api/actions/reset-offsets
 *   ?group=G&topic=T&offsets=P:O[,P:O...][&execute=true]
 * Without execute: the plan, each partition's committed offset now and the
 * one asked; with it, the same plan committed (a commit of generation -1, as
 * `gregor group reset-offsets --execute` sends) once replicated. Only for a
 * group without members (Empty, or not known yet), on its coordinator, with
 * gregor.console.actions.enable and no authorizer. Answer (200):
 *   {"group":G,"topic":T,"state":S,"executed":bool,
 *    "plan":[{"partition":P,"current_offset":C (-1: none),"new_offset":O}]}
 * Refusals: {"error":"..."} with 400 (the query), 403 (actions off, an
 * authorizer), 405 (not POST), 404 (topic or partition unknown), 409 (the group has
 * members), 421 (not the coordinator), 503 (coordinator loading, or the
 * commit failed).
 */
#include "broker/http/console_reset.h"
#include "broker/http/console_events.h"
#include "broker/core/broker.h"
#include "broker/core/group_runtime.h"
#include "broker/core/metadata_cache.h"
#include "common/say.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESET_MAX_PARTS 1024
#define RESET_MAX_GROUP 255

struct reset_job {
    struct broker *b;
    struct evhttp_request *req;
    char group[RESET_MAX_GROUP + 1];
    char topic[TOPIC_NAME_MAX_LEN + 1];
    bool execute;
    int n;
    int32_t part[RESET_MAX_PARTS];
    int64_t off[RESET_MAX_PARTS];
    int64_t cur[RESET_MAX_PARTS];
    struct group_commit parts[RESET_MAX_PARTS];
    struct group_commit_req creq;
    struct group_coord *gc;
    const char *state;
    /* the answer, written on the group worker, sent on the main loop */
    int code;
    char error[256];
};

static void reply(struct evhttp_request *r, int code, const char *body)
{
    struct evbuffer *out = evbuffer_new();
    if (!out)
        return;
    evbuffer_add(out, body, strlen(body));
    struct evkeyvalq *h = evhttp_request_get_output_headers(r);
    evhttp_add_header(h, "Content-Type", "application/json");
    evhttp_add_header(h, "Access-Control-Allow-Origin", "*");
    static const struct {
        int code;
        const char *reason;
    } reasons[] = {{200, "OK"},
                   {400, "Bad Request"},
                   {403, "Forbidden"},
                   {404, "Not Found"},
                   {405, "Method Not Allowed"},
                   {409, "Conflict"},
                   {421, "Misdirected Request"},
                   {503, "Service Unavailable"}};
    const char *reason = "Error";
    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
        if (reasons[i].code == code)
            reason = reasons[i].reason;
    evhttp_send_reply(r, code, reason, out);
    evbuffer_free(out);
}

static void refuse(struct evhttp_request *r, int code, const char *why)
{
    char body[512];
    size_t len = 0;
    snprintf(body, sizeof(body), "{\"error\":");
    len = strlen(body);
    console_json_str(body, sizeof(body) - 3, &len, why);
    snprintf(body + len, sizeof(body) - len, "}\n");
    reply(r, code, body);
}

/* Main loop: sends the answer (a request whose client left is freed by evhttp_send_reply). */
static void answer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct reset_job *j = arg;
    if (j->code != 200) {
        refuse(j->req, j->code, j->error);
    } else {
        size_t cap = 256 + (size_t)j->n * 96, len = 0;
        char *body = malloc(cap);
        if (!body) {
            refuse(j->req, 503, "out of memory");
            free(j);
            return;
        }
        snprintf(body, cap, "{\"group\":");
        len = strlen(body);
        console_json_str(body, cap, &len, j->group);
        len += (size_t)snprintf(body + len, cap - len,
                                ",\"topic\":\"%s\",\"state\":\"%s\",\"executed\":%s,\"plan\":[",
                                j->topic, j->state, j->execute ? "true" : "false");
        for (int i = 0; i < j->n; i++)
            len += (size_t)snprintf(body + len, cap - len,
                                    "%s{\"partition\":%d,\"current_offset\":%" PRId64
                                    ",\"new_offset\":%" PRId64 "}",
                                    i ? "," : "", j->part[i], j->cur[i], j->off[i]);
        snprintf(body + len, cap - len, "]}\n");
        reply(j->req, 200, body);
        free(body);
    }
    free(j);
}

static void finish(struct reset_job *j)
{
    static const struct timeval now = {0, 0};
    if (event_base_once(j->b->main_base, -1, EV_TIMEOUT, answer_cb, j, &now) != 0) {
        say_warn("http", "console: a reset-offsets answer could not reach the main loop");
        free(j); /* the request stays unanswered until its connection goes */
    }
}

static void fail(struct reset_job *j, int code, const char *why)
{
    j->code = code;
    snprintf(j->error, sizeof(j->error), "%s", why);
    finish(j);
}

static void appended(struct group_runtime *gr, kerr_t err, int64_t base_offset, void *arg)
{
    struct reset_job *j = arg;
    if (!group_runtime_current(gr, j->gc)) {
        fail(j, 503, "the coordinator moved while committing; nothing may have changed: retry");
        return;
    }
    j->creq.log_offset = base_offset;
    group_commit_apply(j->gc, &j->creq, err);
    if (err != KERR_NONE) {
        char why[128];
        snprintf(why, sizeof(why), "the commit failed (Kafka error %d)", (int)err);
        fail(j, 503, why);
        return;
    }
    finish(j);
}

static void reset_job(struct group_runtime *gr, void *arg)
{
    struct reset_job *j = arg;
    kerr_t err;
    j->gc = group_runtime_route(gr, j->group, strlen(j->group), &err);
    if (!j->gc) {
        fail(j, err == KERR_NOT_COORDINATOR ? 421 : 503,
             err == KERR_NOT_COORDINATOR
                 ? "this broker is not the group's coordinator: ask the broker whose /api/groups "
                   "lists it"
                 : "the group coordinator is not available yet (loading): retry");
        return;
    }
    struct group_info gi;
    j->state = "Empty";
    if (group_describe(j->gc, j->group, &gi)) {
        j->state = group_state_name(gi.state);
        if (gi.member_count > 0 || gi.pending_count > 0) {
            char why[160];
            snprintf(why, sizeof(why),
                     "the group has %d members (state %s): stop its consumers first",
                     (int)gi.member_count, j->state);
            fail(j, 409, why);
            return;
        }
    }
    for (int i = 0; i < j->n; i++) {
        struct group_offset o;
        j->cur[i] = group_offset_fetch(j->gc, j->group, j->topic, j->part[i], &o) == KERR_NONE
                        ? o.offset
                        : -1;
    }
    if (!j->execute) {
        finish(j);
        return;
    }
    for (int i = 0; i < j->n; i++)
        j->parts[i] = (struct group_commit){.topic = j->topic,
                                            .partition = j->part[i],
                                            .offset = j->off[i],
                                            .leader_epoch = -1,
                                            .expire_ts = -1,
                                            .commit_ts = -1};
    j->creq = (struct group_commit_req){.group_id = j->group,
                                        .member_id = "",
                                        .generation = -1,
                                        .parts = j->parts,
                                        .count = j->n,
                                        .log_offset = -1};
    struct group_records recs;
    group_records_init(&recs);
    err = group_commit_prepare(j->gc, &j->creq, group_runtime_now(), &recs);
    if (err != KERR_NONE) {
        group_records_destroy(&recs);
        char why[128];
        snprintf(why, sizeof(why), "the coordinator refused the commit (Kafka error %d)", (int)err);
        fail(j, 409, why);
        return;
    }
    group_runtime_append_at(gr, j->gc, &recs, -1, -1, appended, j);
}

/* Parses "P:O,P:O" into j; false with why. */
static bool parse_offsets(struct reset_job *j, const char *s, int32_t n_parts, char *why,
                          size_t wlen)
{
    while (*s) {
        char *end;
        long long p = strtoll(s, &end, 10);
        if (end == s || *end != ':' || p < 0 || p >= n_parts) {
            snprintf(why, wlen, "offsets: a partition of the topic (0-%d) then ':' expected",
                     n_parts - 1);
            return false;
        }
        s = end + 1;
        long long o = strtoll(s, &end, 10);
        if (end == s || o < 0 || (*end && *end != ',')) {
            snprintf(why, wlen, "offsets: an offset >= 0 expected after partition %lld", p);
            return false;
        }
        for (int i = 0; i < j->n; i++)
            if (j->part[i] == (int32_t)p) {
                snprintf(why, wlen, "offsets: partition %lld given twice", p);
                return false;
            }
        if (j->n == RESET_MAX_PARTS) {
            snprintf(why, wlen, "offsets: at most %d partitions", RESET_MAX_PARTS);
            return false;
        }
        j->part[j->n] = (int32_t)p;
        j->off[j->n++] = o;
        s = *end ? end + 1 : end;
    }
    if (j->n == 0) {
        snprintf(why, wlen, "offsets: at least one partition:offset");
        return false;
    }
    return true;
}

void console_reset_cb(struct evhttp_request *r, void *arg)
{
    struct broker *b = arg;
    if (evhttp_request_get_command(r) != EVHTTP_REQ_POST) {
        refuse(r, 405, "actions are POST requests");
        return;
    }
    if (!b->cfg->gregor_console_actions_enable) {
        refuse(r, 403, "console actions are disabled (gregor.console.actions.enable=false)");
        return;
    }
    if (b->authz) {
        refuse(r, 403,
               "console actions are refused while an authorizer is configured: use gregor group "
               "reset-offsets as an authorized principal");
        return;
    }
    if (!b->groups) {
        refuse(r, 503, "this broker runs no group coordinator");
        return;
    }
    struct evkeyvalq q;
    memset(&q, 0, sizeof(q));
    const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(r));
    if (!query || evhttp_parse_query_str(query, &q) != 0) {
        refuse(r, 400, "give group, topic and offsets=partition:offset,...");
        return;
    }
    const char *group = evhttp_find_header(&q, "group");
    const char *topic = evhttp_find_header(&q, "topic");
    const char *offsets = evhttp_find_header(&q, "offsets");
    const char *execute = evhttp_find_header(&q, "execute");
    struct reset_job *j = calloc(1, sizeof(*j));
    char why[160];
    int code = 400;
    if (!j) {
        code = 503;
        snprintf(why, sizeof(why), "out of memory");
    } else if (!group || !*group || strlen(group) > RESET_MAX_GROUP || !topic || !offsets) {
        snprintf(why, sizeof(why),
                 "give group (1-%d bytes), topic and offsets=partition:offset,...",
                 RESET_MAX_GROUP);
    } else {
        struct mc_snapshot *s = mc_get(b->mc);
        const struct mc_topic *t = mc_find_topic(s, topic, strlen(topic));
        int32_t n_parts = t ? t->n_parts : 0;
        if (t)
            snprintf(j->topic, sizeof(j->topic), "%s", t->name);
        mc_put(s);
        j->b = b;
        j->req = r;
        j->code = 200;
        snprintf(j->group, sizeof(j->group), "%s", group);
        j->execute = execute && strcmp(execute, "true") == 0;
        if (!t) {
            code = 404;
            snprintf(why, sizeof(why), "unknown topic");
        } else if (parse_offsets(j, offsets, n_parts, why, sizeof(why))) {
            code = 0;
        }
    }
    evhttp_clear_headers(&q);
    if (code == 0 && !group_runtime_call(b->groups, reset_job, j)) {
        code = 503;
        snprintf(why, sizeof(why), "the group coordinator is stopping");
    }
    if (code != 0) {
        free(j);
        refuse(r, code, why);
    }
}
