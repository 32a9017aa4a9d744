/*
 * controller/ctrl_shutdown.c — ControlledShutdown on the active controller
 * (docs/architecture.md §3, §4): a broker about to exit asks the controller to move
 * its leaderships away first.
 *
 * The broker (checked against its registration's epoch) is marked shutting
 * down: from now on it is not eligible as a new leader (election_settle(),
 * preferred election) nor as a new ISR member (ctrl_isr.c), until its
 * registration disappears or it registers again (a new epoch). Each
 * partition it leads gets the next live, eligible ISR member (assignment
 * order) as leader; it leaves every ISR that keeps another member
 * (election_shutdown(): any change bumps the leader epoch, as Kafka's
 * ZooKeeper mode does). The answer lists the partitions it still leads:
 * nobody else could take over (replication factor 1, or no other eligible
 * ISR member). A repeated request changes nothing more and gets the same
 * answer.
 * Loop-owned: the controller's loop only.
 */
#include "controller/controller_int.h"
#include "controller/election.h"
#include "controller/rpc.h"
#include "common/say.h"

#include <stdlib.h>

struct shutdown_ctx {
    int32_t leaving;
    const int32_t *eligible;
    int n_eligible;
};

static bool shutdown_decide(struct controller *c, const struct ctopic *t, int p,
                            const struct zk_partition_state *cur, void *arg,
                            struct zk_partition_state *out)
{
    (void)c;
    const struct shutdown_ctx *sc = arg;
    return election_shutdown(&t->replicas[p * t->rf], t->rf, cur, sc->leaving, sc->eligible,
                             sc->n_eligible, out);
}

static bool replicates(const struct ctopic *t, int p, int32_t id)
{
    for (int r = 0; r < t->rf; r++)
        if (t->replicas[p * t->rf + r] == id)
            return true;
    return false;
}

/* Moves everything away from sc->leaving (one pipelined batch of writes).
 * KERR_NONE, KERR_NOT_CONTROLLER when fenced, KERR_UNKNOWN_SERVER_ERROR
 * when out of memory. */
static kerr_t move_all(struct controller *c, struct shutdown_ctx *sc, struct ctrl_changes *changes)
{
    struct ctrl_changes todo = {0};
    bool ok = true;
    for (int i = 0; ok && i < c->n_topics; i++) {
        struct ctopic *t = c->topics[i];
        for (int p = 0; ok && p < t->n_parts; p++)
            if (replicates(t, p, sc->leaving) && t->st[p].version != ZK_VERSION_NEW)
                ok = ctrl_changes_add(&todo, t, p);
    }
    kerr_t err =
        ok ? ctrl_update_partitions(c, todo.v, todo.n, shutdown_decide, sc, changes, NULL, NULL)
           : KERR__NOMEM;
    ctrl_changes_destroy(&todo);
    return err == KERR__NOMEM ? KERR_UNKNOWN_SERVER_ERROR : err;
}

/* Lists the partitions id still leads (borrowing topic names). Returns new
 * (free()), NULL on OOM. */
static struct rpc_topic_partition *still_led(struct controller *c, int32_t id, int *n)
{
    int total = 0;
    *n = 0;
    for (int i = 0; i < c->n_topics; i++)
        total += c->topics[i]->n_parts;
    struct rpc_topic_partition *v = calloc((size_t)(total ? total : 1), sizeof(*v));
    for (int i = 0; v && i < c->n_topics; i++) {
        const struct ctopic *t = c->topics[i];
        for (int p = 0; p < t->n_parts; p++)
            if (t->st[p].leader == id)
                v[(*n)++] = (struct rpc_topic_partition){t->name, p, t->st[p].leader_epoch};
    }
    return v;
}

void ctrl_controlled_shutdown(struct controller *c, const uint8_t *body, size_t len,
                              struct kbuf *out)
{
    KASSERT(CTRL_ON_LOOP(c));
    struct rpc_controlled_shutdown_req req;
    struct rpc_controlled_shutdown_resp resp = {0};
    if (rpc_controlled_shutdown_req_decode(body, len, &req) != KERR_NONE) {
        resp.error_code = KERR_INVALID_REQUEST;
        (void)rpc_controlled_shutdown_resp_encode(&resp, out);
        return;
    }
    kerr_t err = ctrl_check_broker_epoch(c, req.broker_id, req.broker_epoch);
    struct ctrl_changes changes = {0};
    struct rpc_topic_partition *left = NULL;
    struct shutdown_ctx sc = {.leaving = req.broker_id};
    int32_t *eligible = NULL;
    if (err == KERR_NONE) {
        struct cbroker *cb = ctrl_find_broker(c, req.broker_id);
        if (!cb->shutting_down)
            say_info("ctrl", "controlled shutdown broker=%d epoch=%lld", req.broker_id,
                     (long long)req.broker_epoch);
        cb->shutting_down = true;
        eligible = ctrl_live_ids(c, true, &sc.n_eligible);
        sc.eligible = eligible;
        if (!eligible)
            err = KERR_UNKNOWN_SERVER_ERROR;
        else
            err = move_all(c, &sc, &changes);
    }
    if (err == KERR_NONE) {
        left = still_led(c, req.broker_id, &resp.n_remaining);
        resp.remaining = left;
        if (!left)
            err = KERR_UNKNOWN_SERVER_ERROR;
    }
    resp.error_code = (int16_t)err;
    if (err != KERR_NONE)
        resp.n_remaining = 0;
    (void)rpc_controlled_shutdown_resp_encode(&resp, out);
    ctrl_push_or_resign(c, &changes, err == KERR_NOT_CONTROLLER && c->active);
    free(left);
    free(eligible);
    rpc_controlled_shutdown_req_destroy(&req);
}
