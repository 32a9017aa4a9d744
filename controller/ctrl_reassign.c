/*
 * controller/ctrl_reassign.c — partition reassignment (Kafka's KIP-455, ZooKeeper
 * mode; docs/architecture.md §4): AlterPartitionReassignments and
 * ListPartitionReassignments (controller_alter_reassignments(),
 * controller_list_reassignments()) and the legacy /admin/reassign_partitions
 * znode (ctrl_reassign_znode()).
 *
 * State (in the topic's assignment znode, TopicAssignment in proto/zk.proto,
 * so a new controller resumes from it): with ORS the original replicas and
 * TRS the target, the partition's replicas are RS = TRS ++ (ORS - TRS),
 * adding = TRS - ORS, removing = ORS - TRS.
 * Start: write RS, adding, removing (conditional on the version read), bump
 * the leader epoch with leader and ISR unchanged and push LeaderAndIsr to
 * RS: the new replicas become followers and catch up through the fetchers.
 * Progress (after every AlterIsr, election, broker change): once every
 * adding replica is in the ISR, finish towards TRS.
 * Finish towards a set S (TRS on completion, ORS on cancel): the leader
 * must be a live member of S in the ISR, else the first such replica of S
 * becomes leader (epoch bump; a replica outside the ISR never leads, so no
 * acknowledged record is lost; with none the move waits); ISR ∩= S; write
 * the state, then RS = S with adding/removing cleared; push LeaderAndIsr to
 * S and UpdateMetadata to everyone; StopReplica(delete) to the replicas
 * that left. Every step is idempotent, so a controller that dies between
 * two of them leaves a state its successor finishes the same way.
 * The preferred leader is the first of TRS (RS starts with it).
 * Loop-owned: the controller's loop only.
 */
#include "controller/controller_int.h"
#include "controller/election.h"
#include "common/reassign_json.h"
#include "common/say.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RA_MSG 384 /* room for a 249-byte topic name in a message */

/* A replica list. */
struct ra_set {
    int n;
    int32_t v[ZK_MAX_ISR];
};

static bool set_has(const struct ra_set *s, int32_t id)
{
    for (int i = 0; i < s->n; i++)
        if (s->v[i] == id)
            return true;
    return false;
}

static void set_add(struct ra_set *s, int32_t id)
{
    if (!set_has(s, id) && s->n < ZK_MAX_ISR)
        s->v[s->n++] = id;
}

/* Row p of rows (width rf) as a set; rows NULL: empty. */
static struct ra_set row_of(const int32_t *rows, int rf, int p)
{
    struct ra_set s = {0};
    int n = ctrl_row_len(rows, rf, p);
    for (int i = 0; i < n; i++)
        set_add(&s, rows[p * rf + i]);
    return s;
}

bool ctrl_reassign_in_progress(const struct ctopic *t, int p)
{
    return ctrl_row_len(t->adding, t->rf, p) > 0 || ctrl_row_len(t->removing, t->rf, p) > 0;
}

static bool in_progress(const struct ctopic *t, int p) { return ctrl_reassign_in_progress(t, p); }

/* ORS: the replicas before the reassignment in progress (RS - adding). */
static struct ra_set original_of(const struct ctopic *t, int p)
{
    struct ra_set rs = row_of(t->replicas, t->rf, p), add = row_of(t->adding, t->rf, p), o = {0};
    for (int i = 0; i < rs.n; i++)
        if (!set_has(&add, rs.v[i]))
            set_add(&o, rs.v[i]);
    return o;
}

/* TRS: the target of the reassignment in progress (RS - removing). */
static struct ra_set target_of(const struct ctopic *t, int p)
{
    struct ra_set rs = row_of(t->replicas, t->rf, p), rem = row_of(t->removing, t->rf, p), o = {0};
    for (int i = 0; i < rs.n; i++)
        if (!set_has(&rem, rs.v[i]))
            set_add(&o, rs.v[i]);
    return o;
}

/* Copies row p of src (width w_src; NULL: empty) into row p of dst
 * (width w_dst), padded. */
static void row_copy(int32_t *dst, int w_dst, const int32_t *src, int w_src, int p)
{
    int n = ctrl_row_len(src, w_src, p);
    for (int r = 0; r < w_dst; r++)
        dst[p * w_dst + r] = r < n ? src[p * w_src + r] : ZK_NO_REPLICA;
}

static void row_set(int32_t *dst, int w, int p, const struct ra_set *s)
{
    for (int r = 0; r < w; r++)
        dst[p * w + r] = r < s->n ? s->v[r] : ZK_NO_REPLICA;
}

/* Writes row p of t's assignment (rs, add, rem) to ZooKeeper, conditional
 * on the version read (re-read on a conflict, 3 attempts), and adopts the
 * topic's rows as written. KERR_NOT_CONTROLLER when fenced. */
static kerr_t write_row(struct controller *c, struct ctopic *t, int p, const struct ra_set *rs,
                        const struct ra_set *add, const struct ra_set *rem)
{
    kerr_t rc = KERR__EXISTS;
    for (int attempt = 0; attempt < 3 && rc == KERR__EXISTS; attempt++) {
        struct zk_topic zt;
        rc = zk_store_topic_get(c->env.zk, t->name, &zt);
        if (rc != KERR_NONE)
            return rc;
        if (zt.n_partitions != t->n_parts || p >= zt.n_partitions) {
            zk_topic_destroy(&zt);
            return KERR__EXISTS; /* partitions being added: the next round */
        }
        int np = zt.n_partitions;
        bool moving = add->n > 0 || rem->n > 0;
        int w = rs->n;
        for (int q = 0; q < np; q++) {
            if (q == p)
                continue;
            int len = ctrl_row_len(zt.replicas, zt.replication_factor, q);
            w = len > w ? len : w;
            moving = moving || ctrl_row_len(zt.adding, zt.replication_factor, q) > 0 ||
                     ctrl_row_len(zt.removing, zt.replication_factor, q) > 0;
        }
        int32_t *reps = malloc(sizeof(int32_t) * (size_t)np * (size_t)w);
        int32_t *ad = moving ? malloc(sizeof(int32_t) * (size_t)np * (size_t)w) : NULL;
        int32_t *re = moving ? malloc(sizeof(int32_t) * (size_t)np * (size_t)w) : NULL;
        if (!reps || (moving && (!ad || !re))) {
            free(reps);
            free(ad);
            free(re);
            zk_topic_destroy(&zt);
            return KERR__NOMEM;
        }
        for (int q = 0; q < np; q++) {
            row_copy(reps, w, zt.replicas, zt.replication_factor, q);
            if (moving) {
                row_copy(ad, w, zt.adding, zt.replication_factor, q);
                row_copy(re, w, zt.removing, zt.replication_factor, q);
            }
        }
        row_set(reps, w, p, rs);
        if (moving) {
            row_set(ad, w, p, add);
            row_set(re, w, p, rem);
        }
        free(zt.replicas);
        free(zt.adding);
        free(zt.removing);
        zt.replicas = reps;
        zt.adding = ad;
        zt.removing = re;
        zt.replication_factor = w;
        rc = zk_store_topic_assignment_set(c->env.zk, &zt);
        if (rc == KERR_NONE) {
            free(t->replicas);
            free(t->adding);
            free(t->removing);
            t->replicas = zt.replicas;
            t->adding = zt.adding;
            t->removing = zt.removing;
            t->rf = w;
            zt.replicas = zt.adding = zt.removing = NULL;
        }
        zk_topic_destroy(&zt);
    }
    return rc;
}

/* ---- leader and ISR decisions ---------------------------------------------- */

struct finish_ctx {
    const struct ra_set *to; /* the replicas the partition ends with */
    const int32_t *live, *eligible;
    int n_live, n_eligible;
    bool blocked; /* out: no live in-sync member of `to` can lead */
};

/* Leader in `to` and in the ISR, ISR ⊆ `to`; leader kept when it can be. */
static bool finish_decide(struct controller *c, const struct ctopic *t, int p,
                          const struct zk_partition_state *cur, void *arg,
                          struct zk_partition_state *out)
{
    (void)c;
    (void)t;
    (void)p;
    struct finish_ctx *fc = arg;
    *out = *cur;
    out->n_isr = 0;
    for (int i = 0; i < cur->n_isr; i++)
        if (set_has(fc->to, cur->isr[i]))
            out->isr[out->n_isr++] = cur->isr[i];
    bool keep = false;
    for (int i = 0; i < out->n_isr && !keep; i++)
        keep = out->isr[i] == cur->leader && election_is_live(fc->live, fc->n_live, cur->leader);
    if (!keep) {
        int32_t leader = -1;
        for (int pass = 0; pass < 2 && leader < 0; pass++)
            for (int i = 0; i < fc->to->n && leader < 0; i++) {
                int32_t id = fc->to->v[i];
                bool ok = pass == 0 ? election_is_live(fc->eligible, fc->n_eligible, id)
                                    : election_is_live(fc->live, fc->n_live, id);
                for (int k = 0; ok && k < out->n_isr; k++)
                    if (out->isr[k] == id) {
                        leader = id;
                        break;
                    }
            }
        if (leader < 0) {
            fc->blocked = true;
            *out = *cur;
            return false;
        }
        out->leader = leader;
    }
    if (out->leader == cur->leader && out->n_isr == cur->n_isr)
        return false;
    out->leader_epoch = cur->leader_epoch + 1;
    return true;
}

/* Same leader and ISR, next leader epoch: tells the replicas a new set. */
static bool bump_decide(struct controller *c, const struct ctopic *t, int p,
                        const struct zk_partition_state *cur, void *arg,
                        struct zk_partition_state *out)
{
    (void)c;
    (void)t;
    (void)p;
    (void)arg;
    if (cur->version == ZK_VERSION_NEW)
        return false;
    *out = *cur;
    out->leader_epoch = cur->leader_epoch + 1;
    return true;
}

/* Finishes t's partition p towards `to` (see the file comment). Returns
 * KERR_NONE when done, KERR_REASSIGNMENT_IN_PROGRESS when no replica of
 * `to` can lead yet, KERR_NOT_CONTROLLER when fenced, else a store error. */
static kerr_t finish(struct controller *c, struct ctopic *t, int p, const struct ra_set *to,
                     struct ctrl_changes *changes)
{
    struct finish_ctx fc = {.to = to};
    int32_t *live = ctrl_live_ids(c, false, &fc.n_live);
    int32_t *eligible = ctrl_live_ids(c, true, &fc.n_eligible);
    fc.live = live;
    fc.eligible = eligible;
    bool changed = false;
    kerr_t rc = live && eligible ? ctrl_update_partition(c, t, p, finish_decide, &fc, &changed)
                                 : KERR__NOMEM;
    free(live);
    free(eligible);
    if (rc != KERR_NONE)
        return rc;
    if (fc.blocked)
        return KERR_REASSIGNMENT_IN_PROGRESS;
    struct ra_set before = row_of(t->replicas, t->rf, p), none = {0};
    rc = write_row(c, t, p, to, &none, &none);
    if (rc != KERR_NONE)
        return rc;
    if (!changed && /* same leader and ISR: the epoch still tells the replicas the new set */
        ctrl_update_partition(c, t, p, bump_decide, NULL, &changed) == KERR_NOT_CONTROLLER)
        return KERR_NOT_CONTROLLER;
    say_info("ctrl", "reassignment finished topic=%s partition=%d replicas=%d leader=%d epoch=%d",
             t->name, p, to->n, t->st[p].leader, t->st[p].leader_epoch);
    (void)ctrl_changes_add(changes, t, p);
    for (int i = 0; i < before.n; i++)
        if (!set_has(to, before.v[i]))
            ctrl_push_stop_partition(c, t, p, before.v[i], true);
    return KERR_NONE;
}

/* Checks that ids[0..n) is a usable target; KERR_NONE or
 * INVALID_REPLICA_ASSIGNMENT with msg. */
static kerr_t check_target(struct controller *c, const int32_t *ids, int n, char *msg, size_t len)
{
    if (n == 0) {
        snprintf(msg, len, "the replica list is empty");
        return KERR_INVALID_REPLICA_ASSIGNMENT;
    }
    if (n > ZK_MAX_ISR) {
        snprintf(msg, len, "%d replicas: at most %d", n, ZK_MAX_ISR);
        return KERR_INVALID_REPLICA_ASSIGNMENT;
    }
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < i; k++)
            if (ids[k] == ids[i]) {
                snprintf(msg, len, "broker %d is listed twice", ids[i]);
                return KERR_INVALID_REPLICA_ASSIGNMENT;
            }
        if (!ctrl_find_broker(c, ids[i])) {
            snprintf(msg, len, "broker %d is not a live registered broker (dead or unknown)",
                     ids[i]);
            return KERR_INVALID_REPLICA_ASSIGNMENT;
        }
    }
    return KERR_NONE;
}

/* Starts reassigning t's partition p to trs[0..n) (checked). */
static kerr_t start(struct controller *c, struct ctopic *t, int p, const int32_t *trs_v, int n,
                    struct ctrl_changes *changes, char *msg, size_t len)
{
    struct ra_set trs = {0}, ors = original_of(t, p), cur = row_of(t->replicas, t->rf, p);
    for (int i = 0; i < n; i++)
        set_add(&trs, trs_v[i]);
    struct ra_set rs = trs, add = {0}, rem = {0};
    for (int i = 0; i < ors.n; i++)
        if (!set_has(&trs, ors.v[i])) {
            set_add(&rs, ors.v[i]);
            set_add(&rem, ors.v[i]);
        }
    for (int i = 0; i < trs.n; i++)
        if (!set_has(&ors, trs.v[i]))
            set_add(&add, trs.v[i]);
    if (rs.n > ZK_MAX_ISR) {
        snprintf(msg, len, "the original and target replicas together are more than %d",
                 ZK_MAX_ISR);
        return KERR_INVALID_REPLICA_ASSIGNMENT;
    }
    if (add.n == 0) /* a reorder or a shrink: nothing to catch up */
        return finish(c, t, p, &trs, changes);
    kerr_t rc = write_row(c, t, p, &rs, &add, &rem);
    if (rc != KERR_NONE)
        return rc;
    say_info("ctrl", "reassignment started topic=%s partition=%d adding=%d removing=%d", t->name, p,
             add.n, rem.n);
    bool changed = false;
    rc = ctrl_update_partition(c, t, p, bump_decide, NULL, &changed);
    if (rc == KERR_NOT_CONTROLLER)
        return rc;
    (void)ctrl_changes_add(changes, t, p);
    /* replicas of an earlier target that the new one drops */
    for (int i = 0; i < cur.n; i++)
        if (!set_has(&rs, cur.v[i]))
            ctrl_push_stop_partition(c, t, p, cur.v[i], true);
    return KERR_NONE;
}

/* Cancels the reassignment of t's partition p: back to ORS. */
static kerr_t cancel(struct controller *c, struct ctopic *t, int p, struct ctrl_changes *changes,
                     char *msg, size_t len)
{
    if (!in_progress(t, p)) {
        snprintf(msg, len, "no reassignment of %s-%d is in progress", t->name, p);
        return KERR_NO_REASSIGNMENT_IN_PROGRESS;
    }
    struct ra_set ors = original_of(t, p);
    kerr_t rc = finish(c, t, p, &ors, changes);
    if (rc == KERR_REASSIGNMENT_IN_PROGRESS)
        snprintf(msg, len, "no original replica of %s-%d is alive and in sync to lead", t->name, p);
    return rc;
}

/* Applies one request; the Kafka code, msg filled when not NONE. */
static kerr_t alter_one(struct controller *c, const char *topic, int32_t p, int n,
                        const int32_t *reps, struct ctrl_changes *changes, char *msg, size_t len)
{
    struct ctopic *t = ctrl_find_topic(c, topic);
    if (!t || p < 0 || p >= t->n_parts) {
        snprintf(msg, len, "no partition %s-%d", topic, p);
        return KERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    kerr_t rc;
    if (n < 0) {
        rc = cancel(c, t, p, changes, msg, len);
    } else {
        rc = check_target(c, reps, n, msg, len);
        if (rc == KERR_NONE)
            rc = start(c, t, p, reps, n, changes, msg, len);
    }
    if (rc < 0) {
        snprintf(msg, len, "ZooKeeper write failed: %s", kerr_name(rc));
        rc = rc == KERR_NOT_CONTROLLER ? rc : KERR_UNKNOWN_SERVER_ERROR;
    }
    return rc;
}

/* ---- progress ---------------------------------------------------------- */

void ctrl_reassign_progress(struct controller *c)
{
    KASSERT(CTRL_ON_LOOP(c));
    if (!c->active)
        return;
    struct ctrl_changes changes = {0};
    bool fenced = false;
    for (int i = 0; i < c->n_topics && !fenced; i++) {
        struct ctopic *t = c->topics[i];
        for (int p = 0; t->adding && p < t->n_parts && !fenced; p++) {
            if (!in_progress(t, p))
                continue;
            struct ra_set add = row_of(t->adding, t->rf, p);
            bool caught_up = true;
            for (int k = 0; k < add.n && caught_up; k++) {
                caught_up = false;
                for (int s = 0; s < t->st[p].n_isr; s++)
                    caught_up = caught_up || t->st[p].isr[s] == add.v[k];
            }
            if (!caught_up)
                continue;
            struct ra_set trs = target_of(t, p);
            kerr_t rc = finish(c, t, p, &trs, &changes);
            fenced = rc == KERR_NOT_CONTROLLER;
            if (rc != KERR_NONE && !fenced)
                say_warn("ctrl", "reassignment cannot finish yet topic=%s partition=%d err=%s",
                         t->name, p, kerr_name(rc));
        }
    }
    ctrl_push_or_resign(c, &changes, fenced);
}

/* ---- the /admin/reassign_partitions znode ------------------------------ */

void ctrl_reassign_znode(struct controller *c)
{
    KASSERT(CTRL_ON_LOOP(c));
    bool exists = false;
    if (!c->active || zk_store_watch_node(c->env.zk, ZK_PATH_REASSIGN, &exists) != KERR_NONE ||
        !exists)
        return;
    char *json = NULL;
    size_t len = 0;
    int32_t version = 0;
    if (zk_store_reassign_request_get(c->env.zk, &json, &len, &version) != KERR_NONE)
        return;
    struct reassign_entry *v = NULL;
    int n = 0;
    char err[RA_MSG];
    struct ctrl_changes changes = {0};
    bool fenced = false;
    if (reassign_json_parse(json, len, &v, &n, err, sizeof(err)) != KERR_NONE) {
        say_warn("ctrl", "%s ignored (deleted): not a reassignment plan reason=\"%s\"",
                 ZK_PATH_REASSIGN, err);
        n = 0;
    }
    for (int i = 0; i < n && !fenced; i++) {
        char msg[RA_MSG] = "";
        kerr_t rc = alter_one(c, v[i].topic, v[i].partition, v[i].n_replicas, v[i].replicas,
                              &changes, msg, sizeof(msg));
        fenced = rc == KERR_NOT_CONTROLLER;
        if (rc != KERR_NONE)
            say_warn("ctrl", "%s entry refused topic=%s partition=%d err=%s reason=\"%s\"",
                     ZK_PATH_REASSIGN, v[i].topic, v[i].partition, kerr_name(rc), msg);
    }
    free(v);
    free(json);
    ctrl_push_or_resign(c, &changes, fenced);
    if (fenced)
        return;
    /* started: the reassignments live in the topics' znodes now */
    kerr_t rc = zk_store_reassign_request_delete(c->env.zk, version);
    if (rc == KERR__EXISTS) /* rewritten meanwhile: the watch brings it back */
        say_info("ctrl", "%s changed while it was read", ZK_PATH_REASSIGN);
    (void)zk_store_watch_node(c->env.zk, ZK_PATH_REASSIGN, &exists);
    ctrl_reassign_progress(c);
}

/* ---- requests ------------------------------------------------------------ */

struct alter_job {
    struct controller *c;
    int n;
    struct reassign_entry *v; /* n, owned */
    controller_reassign_fn done;
    void *arg;
};

static void alter_job_run(void *arg)
{
    struct alter_job *aj = arg;
    struct controller *c = aj->c;
    KASSERT(CTRL_ON_LOOP(c));
    int16_t *errs = calloc((size_t)(aj->n ? aj->n : 1), sizeof(*errs));
    char(*msgs)[RA_MSG] = calloc((size_t)(aj->n ? aj->n : 1), sizeof(*msgs));
    const char **mp = calloc((size_t)(aj->n ? aj->n : 1), sizeof(*mp));
    struct ctrl_changes changes = {0};
    bool fenced = false;
    if (!errs || !msgs || !mp) {
        aj->done(aj->arg, 0, NULL, NULL);
        goto out;
    }
    for (int i = 0; i < aj->n; i++) {
        kerr_t rc;
        if (!c->active || c->stopping || fenced) {
            rc = KERR_NOT_CONTROLLER;
            snprintf(msgs[i], RA_MSG, "this broker is not the active controller");
        } else {
            rc = alter_one(c, aj->v[i].topic, aj->v[i].partition, aj->v[i].n_replicas,
                           aj->v[i].replicas, &changes, msgs[i], RA_MSG);
            fenced = rc == KERR_NOT_CONTROLLER;
        }
        errs[i] = (int16_t)rc;
        mp[i] = rc == KERR_NONE ? NULL : msgs[i];
    }
    aj->done(aj->arg, aj->n, errs, mp);
    if (c->active)
        ctrl_push_or_resign(c, &changes, fenced);
    ctrl_changes_destroy(&changes);
    if (c->active && !fenced)
        ctrl_reassign_progress(c);
out:
    free(errs);
    free(msgs);
    free(mp);
    free(aj->v);
    free(aj);
}

void controller_alter_reassignments(struct controller *c, int n,
                                    const struct controller_reassign *v,
                                    controller_reassign_fn done, void *arg)
{
    struct alter_job *aj = calloc(1, sizeof(*aj));
    if (aj) {
        aj->c = c;
        aj->n = n > 0 ? n : 0;
        aj->done = done;
        aj->arg = arg;
        aj->v = calloc((size_t)(aj->n ? aj->n : 1), sizeof(*aj->v));
        for (int i = 0; aj->v && i < aj->n; i++) {
            struct reassign_entry *e = &aj->v[i];
            snprintf(e->topic, sizeof(e->topic), "%s", v[i].topic ? v[i].topic : "");
            e->partition = v[i].partition;
            /* more than the limit: check_target() refuses it by count */
            e->n_replicas = v[i].n_replicas < 0                       ? -1
                            : v[i].n_replicas > REASSIGN_MAX_REPLICAS ? ZK_MAX_ISR + 1
                                                                      : v[i].n_replicas;
            for (int r = 0; r < e->n_replicas && r < REASSIGN_MAX_REPLICAS; r++)
                e->replicas[r] = v[i].replicas[r];
        }
        if (aj->v && c->env.post(c->env.post_ctx, alter_job_run, aj))
            return;
        free(aj->v);
        free(aj);
    }
    done(arg, 0, NULL, NULL);
}

struct list_job {
    struct controller *c;
    controller_list_reassign_fn done;
    void *arg;
};

static void list_job_run(void *arg)
{
    struct list_job *lj = arg;
    struct controller *c = lj->c;
    KASSERT(CTRL_ON_LOOP(c));
    if (!c->active || c->stopping) {
        lj->done(lj->arg, KERR_NOT_CONTROLLER, 0, NULL);
        free(lj);
        return;
    }
    int n = 0;
    for (int i = 0; i < c->n_topics; i++)
        for (int p = 0; p < c->topics[i]->n_parts; p++)
            n += in_progress(c->topics[i], p);
    struct controller_reassignment *v = calloc((size_t)(n ? n : 1), sizeof(*v));
    int k = 0;
    for (int i = 0; v && i < c->n_topics; i++) {
        const struct ctopic *t = c->topics[i];
        for (int p = 0; p < t->n_parts; p++) {
            if (!in_progress(t, p))
                continue;
            struct controller_reassignment *r = &v[k++];
            struct ra_set rs = row_of(t->replicas, t->rf, p), ad = row_of(t->adding, t->rf, p),
                          re = row_of(t->removing, t->rf, p);
            r->topic = t->name;
            r->partition = p;
            r->n_replicas = rs.n;
            r->n_adding = ad.n;
            r->n_removing = re.n;
            memcpy(r->replicas, rs.v, sizeof(int32_t) * (size_t)rs.n);
            memcpy(r->adding, ad.v, sizeof(int32_t) * (size_t)ad.n);
            memcpy(r->removing, re.v, sizeof(int32_t) * (size_t)re.n);
        }
    }
    lj->done(lj->arg, v ? KERR_NONE : KERR_UNKNOWN_SERVER_ERROR, v ? k : 0, v);
    free(v);
    free(lj);
}

void controller_list_reassignments(struct controller *c, controller_list_reassign_fn done,
                                   void *arg)
{
    struct list_job *lj = calloc(1, sizeof(*lj));
    if (lj) {
        *lj = (struct list_job){.c = c, .done = done, .arg = arg};
        if (c->env.post(c->env.post_ctx, list_job_run, lj))
            return;
        free(lj);
    }
    done(arg, KERR_NOT_CONTROLLER, 0, NULL);
}
