/*
 * controller/rpc.c — framing and protobuf codecs of the control-plane RPCs
 * (controller/rpc.h, proto/control.proto, DESIGN.md §4).
 *
 * Owned formats: the request/response frames described in rpc.h. The body
 * of each frame is the protobuf-c packing of one message of
 * proto/control.proto; this file is the only user of the generated types.
 *
 * How the codecs keep protobuf-c inside this file (STYLE.md §4):
 *   encode: the caller's plain struct is mirrored into protobuf-c structs
 *           allocated from a local arena (strings and int arrays are
 *           borrowed, not copied), packed into the caller's kbuf, and the
 *           arena is freed before returning.
 *   decode: protobuf-c unpacks into its own tree; everything is copied into
 *           the plain struct, with memory from an arena whose chunks become
 *           the struct's `mem`; the protobuf-c tree is freed at once.
 * The arena (struct rpc_mem chain) has sticky failure flags, so the copy
 * helpers need no error paths: the caller checks once at the end.
 *
 * Threads: no shared state; any thread.
 */
#include "controller/rpc.h"

#include "common/base.h"
#include "proto/control.pb-c.h"

#include <limits.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#define RPC_MEM_CHUNK 4000u /* bytes per arena chunk, unless one item is larger */

/* One chunk of an arena; a chain of them is a decoded message's `mem`. */
struct rpc_mem {
    struct rpc_mem *next; /* older chunk */
    size_t used;          /* bytes handed out from data */
    size_t cap;           /* bytes in data */
    alignas(max_align_t) unsigned char data[];
};

/* Local to one encode/decode call. */
struct rpc_arena {
    struct rpc_mem *chunks; /* newest first; owned */
    bool oom;               /* an allocation failed */
    bool bad;               /* input invalid (encode) or corrupt (decode) */
};

static void rpc_mem_free(struct rpc_mem *mem)
{
    while (mem) {
        struct rpc_mem *next = mem->next;
        free(mem);
        mem = next;
    }
}

/* Returns n bytes aligned for any type, or NULL (oom set). */
static void *arena_alloc(struct rpc_arena *a, size_t n)
{
    const size_t align = alignof(max_align_t);
    if (a->oom || a->bad)
        return NULL;
    if (n > SIZE_MAX / 2) {
        a->bad = true;
        return NULL;
    }
    n = (n + align - 1) & ~(align - 1);
    struct rpc_mem *c = a->chunks;
    if (!c || c->cap - c->used < n) {
        size_t cap = MAX(n, (size_t)RPC_MEM_CHUNK);
        c = malloc(sizeof(*c) + cap);
        if (!c) {
            a->oom = true;
            return NULL;
        }
        c->next = a->chunks;
        c->used = 0;
        c->cap = cap;
        a->chunks = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    return p;
}

/* Returns an array of n items of size bytes (NULL when n == 0 or failed). */
static void *arena_array(struct rpc_arena *a, size_t n, size_t size)
{
    if (n == 0)
        return NULL;
    if (n > SIZE_MAX / 2 / size) {
        a->bad = true;
        return NULL;
    }
    return arena_alloc(a, n * size);
}

/* Returns a NUL-terminated copy of s (NULL reads as ""); "" if failed. */
static const char *arena_strdup(struct rpc_arena *a, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    char *d = arena_alloc(a, n + 1);
    if (!d)
        return "";
    if (n)
        memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* Copies a decoded int array; sets *n_out. */
static const int32_t *dec_ints(struct rpc_arena *a, const int32_t *src, size_t n, int *n_out)
{
    *n_out = 0;
    if (n > INT_MAX) {
        a->bad = true;
        return NULL;
    }
    int32_t *d = arena_array(a, n, sizeof(*d));
    if (!d)
        return NULL;
    memcpy(d, src, n * sizeof(*d));
    *n_out = (int)n;
    return d;
}

static int16_t dec_error_code(struct rpc_arena *a, int32_t v)
{
    if (v < INT16_MIN || v > INT16_MAX)
        a->bad = true;
    return (int16_t)v;
}

/* Bounds a decoded repeated-field count; returns it as an int. */
static int dec_count(struct rpc_arena *a, size_t n)
{
    if (n > INT_MAX) {
        a->bad = true;
        return 0;
    }
    return (int)n;
}

/* Checks a caller's array for encoding: n >= 0 and items present. */
static bool enc_array_ok(struct rpc_arena *a, const void *items, int n)
{
    if (n < 0 || (n > 0 && !items)) {
        a->bad = true;
        return false;
    }
    return n > 0 && !a->oom;
}

/* protobuf-c only reads these pointers while packing. */
static char *enc_str(const char *s)
{
    return (char *)(s ? s : "");
}

static int32_t *enc_ints(struct rpc_arena *a, const int32_t *v, int n, size_t *n_out)
{
    *n_out = 0;
    if (!enc_array_ok(a, v, n))
        return NULL;
    *n_out = (size_t)n;
    return (int32_t *)v;
}

/* Appends the packing of msg to out. */
static kerr_t pack_into(const ProtobufCMessage *msg, struct kbuf *out)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    if (n > RPC_MAX_FRAME)
        return KERR__INVALID;
    if (out->oom)
        return KERR__NOMEM;
    if (n == 0)
        return KERR_NONE;
    size_t at = kbuf_skip(out, n);
    if (out->oom)
        return KERR__NOMEM;
    size_t w = protobuf_c_message_pack(msg, out->data + at);
    KASSERT(w == n);
    return KERR_NONE;
}

/* Ends an encoder: packs msg unless the arena failed, then frees it. */
static kerr_t enc_finish(struct rpc_arena *a, const ProtobufCMessage *msg, struct kbuf *out)
{
    kerr_t err = KERR_NONE;
    if (a->bad)
        err = KERR__INVALID;
    else if (a->oom)
        err = KERR__NOMEM;
    else
        err = pack_into(msg, out);
    rpc_mem_free(a->chunks);
    a->chunks = NULL;
    return err;
}

/* Ends a decoder: on success the arena becomes *mem_out; on failure it is
 * freed and the whole message struct m (size bytes) is zeroed. */
static kerr_t dec_finish(struct rpc_arena *a, void *m, size_t size, struct rpc_mem **mem_out)
{
    kerr_t err = a->bad ? KERR__CORRUPT : a->oom ? KERR__NOMEM : KERR_NONE;
    if (err) {
        rpc_mem_free(a->chunks);
        memset(m, 0, size);
    } else {
        *mem_out = a->chunks;
    }
    a->chunks = NULL;
    return err;
}

/* ---- API keys and framing ------------------------------------------------ */

bool rpc_is_api_key(int api_key)
{
    return api_key_is_control(api_key);
}

const char *rpc_api_name(int api_key)
{
    return api_key_is_control(api_key) ? api_key_name(api_key) : "Unknown";
}

kerr_t rpc_request_frame(struct kbuf *out, int16_t api_key, int32_t correlation_id,
                         const char *client_id, const void *body, size_t len)
{
    size_t id_len = client_id ? strlen(client_id) : 0;
    if (id_len > INT16_MAX || len > RPC_MAX_FRAME || 2 + 2 + 4 + 2 + id_len + len > RPC_MAX_FRAME)
        return KERR__INVALID;
    struct khdr_req h = {api_key, RPC_API_VERSION, correlation_id, {client_id, (int32_t)id_len}};
    size_t at = khdr_frame_begin(out);
    khdr_put_req(out, 1, &h);
    kbuf_put(out, body, len);
    return khdr_frame_end(out, at, RPC_MAX_FRAME);
}

kerr_t rpc_response_frame(struct kbuf *out, int32_t correlation_id, const void *body, size_t len)
{
    if (len > RPC_MAX_FRAME - 4)
        return KERR__INVALID;
    size_t at = khdr_frame_begin(out);
    khdr_put_resp(out, 0, correlation_id);
    kbuf_put(out, body, len);
    return khdr_frame_end(out, at, RPC_MAX_FRAME);
}

kerr_t rpc_frame_size(const uint8_t *p, size_t avail, size_t max, size_t *frame_len)
{
    if (avail < 4)
        return KERR__AGAIN;
    int32_t size = (int32_t)be32_load(p);
    if (size < 0 || (size_t)size > max)
        return KERR__CORRUPT;
    *frame_len = (size_t)size;
    return avail - 4 < (size_t)size ? KERR__AGAIN : KERR_NONE;
}

kerr_t rpc_request_parse(const uint8_t *frame, size_t len, struct khdr_req *hdr,
                         const uint8_t **body, size_t *body_len)
{
    struct kslice s;
    kslice_init(&s, frame, len);
    if (!khdr_get_req(&s, 1, hdr))
        return KERR__CORRUPT;
    *body = kslice_cur(&s);
    *body_len = kslice_remaining(&s);
    return KERR_NONE;
}

kerr_t rpc_response_parse(const uint8_t *frame, size_t len, int32_t *correlation_id,
                          const uint8_t **body, size_t *body_len)
{
    struct kslice s;
    kslice_init(&s, frame, len);
    if (!khdr_get_resp(&s, 0, correlation_id))
        return KERR__CORRUPT;
    *body = kslice_cur(&s);
    *body_len = kslice_remaining(&s);
    return KERR_NONE;
}

/* ---- message parts: plain struct <-> protobuf-c ---------------------------- */

typedef Gregor__Control__PartitionLeaderState PbState;
typedef Gregor__Control__LiveLeader PbLeader;
typedef Gregor__Control__PartitionError PbPartErr;
typedef Gregor__Control__TopicPartition PbTp;
typedef Gregor__Control__Endpoint PbEndpoint;
typedef Gregor__Control__LiveBroker PbBroker;
typedef Gregor__Control__AlterIsrPartition PbProposal;
typedef Gregor__Control__AlterIsrPartitionResult PbResult;

/* Allocates n protobuf-c items, each initialised from *init, and the
 * pointer array protobuf-c wants; returns the pointer array. */
static void **enc_items(struct rpc_arena *a, size_t n, const void *init, size_t size)
{
    void **ptrs = arena_array(a, n, sizeof(*ptrs));
    unsigned char *items = arena_array(a, n, size);
    if (!ptrs || !items)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        ptrs[i] = items + i * size;
        memcpy(ptrs[i], init, size);
    }
    return ptrs;
}

static PbState **enc_states(struct rpc_arena *a, const struct rpc_partition_state *v, int n,
                            size_t *n_out)
{
    static const PbState init = GREGOR__CONTROL__PARTITION_LEADER_STATE__INIT;
    *n_out = 0;
    if (!enc_array_ok(a, v, n))
        return NULL;
    PbState **pb = (PbState **)enc_items(a, (size_t)n, &init, sizeof(init));
    for (int i = 0; pb && i < n; i++) {
        pb[i]->topic = enc_str(v[i].topic);
        pb[i]->partition = v[i].partition;
        pb[i]->leader = v[i].leader;
        pb[i]->leader_epoch = v[i].leader_epoch;
        pb[i]->isr = enc_ints(a, v[i].isr, v[i].n_isr, &pb[i]->n_isr);
        pb[i]->replicas = enc_ints(a, v[i].replicas, v[i].n_replicas, &pb[i]->n_replicas);
        pb[i]->partition_epoch = v[i].partition_epoch;
        pb[i]->is_new = v[i].is_new;
    }
    *n_out = pb ? (size_t)n : 0;
    return pb;
}

static const struct rpc_partition_state *dec_states(struct rpc_arena *a, PbState *const *pb,
                                                    size_t n, int *n_out)
{
    *n_out = dec_count(a, n);
    struct rpc_partition_state *v = arena_array(a, (size_t)*n_out, sizeof(*v));
    for (int i = 0; v && i < *n_out; i++) {
        v[i].topic = arena_strdup(a, pb[i]->topic);
        v[i].partition = pb[i]->partition;
        v[i].leader = pb[i]->leader;
        v[i].leader_epoch = pb[i]->leader_epoch;
        v[i].isr = dec_ints(a, pb[i]->isr, pb[i]->n_isr, &v[i].n_isr);
        v[i].replicas = dec_ints(a, pb[i]->replicas, pb[i]->n_replicas, &v[i].n_replicas);
        v[i].partition_epoch = pb[i]->partition_epoch;
        v[i].is_new = pb[i]->is_new;
    }
    return v;
}

static PbLeader **enc_leaders(struct rpc_arena *a, const struct rpc_live_leader *v, int n,
                              size_t *n_out)
{
    static const PbLeader init = GREGOR__CONTROL__LIVE_LEADER__INIT;
    *n_out = 0;
    if (!enc_array_ok(a, v, n))
        return NULL;
    PbLeader **pb = (PbLeader **)enc_items(a, (size_t)n, &init, sizeof(init));
    for (int i = 0; pb && i < n; i++) {
        pb[i]->id = v[i].id;
        pb[i]->host = enc_str(v[i].host);
        pb[i]->port = v[i].port;
    }
    *n_out = pb ? (size_t)n : 0;
    return pb;
}

static const struct rpc_live_leader *dec_leaders(struct rpc_arena *a, PbLeader *const *pb,
                                                 size_t n, int *n_out)
{
    *n_out = dec_count(a, n);
    struct rpc_live_leader *v = arena_array(a, (size_t)*n_out, sizeof(*v));
    for (int i = 0; v && i < *n_out; i++) {
        v[i].id = pb[i]->id;
        v[i].host = arena_strdup(a, pb[i]->host);
        v[i].port = pb[i]->port;
    }
    return v;
}

static PbPartErr **enc_part_errors(struct rpc_arena *a, const struct rpc_partition_error *v,
                                   int n, size_t *n_out)
{
    static const PbPartErr init = GREGOR__CONTROL__PARTITION_ERROR__INIT;
    *n_out = 0;
    if (!enc_array_ok(a, v, n))
        return NULL;
    PbPartErr **pb = (PbPartErr **)enc_items(a, (size_t)n, &init, sizeof(init));
    for (int i = 0; pb && i < n; i++) {
        pb[i]->topic = enc_str(v[i].topic);
        pb[i]->partition = v[i].partition;
        pb[i]->error_code = v[i].error_code;
    }
    *n_out = pb ? (size_t)n : 0;
    return pb;
}

static const struct rpc_partition_error *dec_part_errors(struct rpc_arena *a,
                                                         PbPartErr *const *pb, size_t n,
                                                         int *n_out)
{
    *n_out = dec_count(a, n);
    struct rpc_partition_error *v = arena_array(a, (size_t)*n_out, sizeof(*v));
    for (int i = 0; v && i < *n_out; i++) {
        v[i].topic = arena_strdup(a, pb[i]->topic);
        v[i].partition = pb[i]->partition;
        v[i].error_code = dec_error_code(a, pb[i]->error_code);
    }
    return v;
}

static PbTp **enc_tps(struct rpc_arena *a, const struct rpc_topic_partition *v, int n,
                      size_t *n_out)
{
    static const PbTp init = GREGOR__CONTROL__TOPIC_PARTITION__INIT;
    *n_out = 0;
    if (!enc_array_ok(a, v, n))
        return NULL;
    PbTp **pb = (PbTp **)enc_items(a, (size_t)n, &init, sizeof(init));
    for (int i = 0; pb && i < n; i++) {
        pb[i]->topic = enc_str(v[i].topic);
        pb[i]->partition = v[i].partition;
        pb[i]->leader_epoch = v[i].leader_epoch;
    }
    *n_out = pb ? (size_t)n : 0;
    return pb;
}

static const struct rpc_topic_partition *dec_tps(struct rpc_arena *a, PbTp *const *pb,
                                                 size_t n, int *n_out)
{
    *n_out = dec_count(a, n);
    struct rpc_topic_partition *v = arena_array(a, (size_t)*n_out, sizeof(*v));
    for (int i = 0; v && i < *n_out; i++) {
        v[i].topic = arena_strdup(a, pb[i]->topic);
        v[i].partition = pb[i]->partition;
        v[i].leader_epoch = pb[i]->leader_epoch;
    }
    return v;
}

static PbEndpoint **enc_endpoints(struct rpc_arena *a, const struct rpc_endpoint *v, int n,
                                  size_t *n_out)
{
    static const PbEndpoint init = GREGOR__CONTROL__ENDPOINT__INIT;
    *n_out = 0;
    if (!enc_array_ok(a, v, n))
        return NULL;
    PbEndpoint **pb = (PbEndpoint **)enc_items(a, (size_t)n, &init, sizeof(init));
    for (int i = 0; pb && i < n; i++) {
        pb[i]->listener = enc_str(v[i].listener);
        pb[i]->host = enc_str(v[i].host);
        pb[i]->port = v[i].port;
        pb[i]->security_protocol = enc_str(v[i].security_protocol);
    }
    *n_out = pb ? (size_t)n : 0;
    return pb;
}

static const struct rpc_endpoint *dec_endpoints(struct rpc_arena *a, PbEndpoint *const *pb,
                                                size_t n, int *n_out)
{
    *n_out = dec_count(a, n);
    struct rpc_endpoint *v = arena_array(a, (size_t)*n_out, sizeof(*v));
    for (int i = 0; v && i < *n_out; i++) {
        v[i].listener = arena_strdup(a, pb[i]->listener);
        v[i].host = arena_strdup(a, pb[i]->host);
        v[i].port = pb[i]->port;
        v[i].security_protocol = arena_strdup(a, pb[i]->security_protocol);
    }
    return v;
}

static PbBroker **enc_brokers(struct rpc_arena *a, const struct rpc_live_broker *v, int n,
                              size_t *n_out)
{
    static const PbBroker init = GREGOR__CONTROL__LIVE_BROKER__INIT;
    *n_out = 0;
    if (!enc_array_ok(a, v, n))
        return NULL;
    PbBroker **pb = (PbBroker **)enc_items(a, (size_t)n, &init, sizeof(init));
    for (int i = 0; pb && i < n; i++) {
        pb[i]->id = v[i].id;
        pb[i]->rack = enc_str(v[i].rack);
        pb[i]->endpoints = enc_endpoints(a, v[i].endpoints, v[i].n_endpoints,
                                         &pb[i]->n_endpoints);
    }
    *n_out = pb ? (size_t)n : 0;
    return pb;
}

static const struct rpc_live_broker *dec_brokers(struct rpc_arena *a, PbBroker *const *pb,
                                                 size_t n, int *n_out)
{
    *n_out = dec_count(a, n);
    struct rpc_live_broker *v = arena_array(a, (size_t)*n_out, sizeof(*v));
    for (int i = 0; v && i < *n_out; i++) {
        v[i].id = pb[i]->id;
        v[i].rack = arena_strdup(a, pb[i]->rack);
        v[i].endpoints = dec_endpoints(a, pb[i]->endpoints, pb[i]->n_endpoints,
                                       &v[i].n_endpoints);
    }
    return v;
}

static PbProposal **enc_proposals(struct rpc_arena *a, const struct rpc_isr_proposal *v, int n,
                                  size_t *n_out)
{
    static const PbProposal init = GREGOR__CONTROL__ALTER_ISR_PARTITION__INIT;
    *n_out = 0;
    if (!enc_array_ok(a, v, n))
        return NULL;
    PbProposal **pb = (PbProposal **)enc_items(a, (size_t)n, &init, sizeof(init));
    for (int i = 0; pb && i < n; i++) {
        pb[i]->topic = enc_str(v[i].topic);
        pb[i]->partition = v[i].partition;
        pb[i]->leader_epoch = v[i].leader_epoch;
        pb[i]->new_isr = enc_ints(a, v[i].new_isr, v[i].n_new_isr, &pb[i]->n_new_isr);
        pb[i]->partition_epoch = v[i].partition_epoch;
    }
    *n_out = pb ? (size_t)n : 0;
    return pb;
}

static const struct rpc_isr_proposal *dec_proposals(struct rpc_arena *a, PbProposal *const *pb,
                                                    size_t n, int *n_out)
{
    *n_out = dec_count(a, n);
    struct rpc_isr_proposal *v = arena_array(a, (size_t)*n_out, sizeof(*v));
    for (int i = 0; v && i < *n_out; i++) {
        v[i].topic = arena_strdup(a, pb[i]->topic);
        v[i].partition = pb[i]->partition;
        v[i].leader_epoch = pb[i]->leader_epoch;
        v[i].new_isr = dec_ints(a, pb[i]->new_isr, pb[i]->n_new_isr, &v[i].n_new_isr);
        v[i].partition_epoch = pb[i]->partition_epoch;
    }
    return v;
}

static PbResult **enc_results(struct rpc_arena *a, const struct rpc_isr_result *v, int n,
                              size_t *n_out)
{
    static const PbResult init = GREGOR__CONTROL__ALTER_ISR_PARTITION_RESULT__INIT;
    *n_out = 0;
    if (!enc_array_ok(a, v, n))
        return NULL;
    PbResult **pb = (PbResult **)enc_items(a, (size_t)n, &init, sizeof(init));
    for (int i = 0; pb && i < n; i++) {
        pb[i]->topic = enc_str(v[i].topic);
        pb[i]->partition = v[i].partition;
        pb[i]->error_code = v[i].error_code;
        pb[i]->leader = v[i].leader;
        pb[i]->leader_epoch = v[i].leader_epoch;
        pb[i]->isr = enc_ints(a, v[i].isr, v[i].n_isr, &pb[i]->n_isr);
        pb[i]->partition_epoch = v[i].partition_epoch;
    }
    *n_out = pb ? (size_t)n : 0;
    return pb;
}

static const struct rpc_isr_result *dec_results(struct rpc_arena *a, PbResult *const *pb,
                                                size_t n, int *n_out)
{
    *n_out = dec_count(a, n);
    struct rpc_isr_result *v = arena_array(a, (size_t)*n_out, sizeof(*v));
    for (int i = 0; v && i < *n_out; i++) {
        v[i].topic = arena_strdup(a, pb[i]->topic);
        v[i].partition = pb[i]->partition;
        v[i].error_code = dec_error_code(a, pb[i]->error_code);
        v[i].leader = pb[i]->leader;
        v[i].leader_epoch = pb[i]->leader_epoch;
        v[i].isr = dec_ints(a, pb[i]->isr, pb[i]->n_isr, &v[i].n_isr);
        v[i].partition_epoch = pb[i]->partition_epoch;
    }
    return v;
}

/* ---- messages ------------------------------------------------------------- */

/* Every message struct has its arena in `mem`; destroy frees it. */
#define RPC_DESTROY(m) do { rpc_mem_free((m)->mem); memset((m), 0, sizeof(*(m))); } while (0)

kerr_t rpc_leader_and_isr_req_encode(const struct rpc_leader_and_isr_req *m, struct kbuf *out)
{
    Gregor__Control__LeaderAndIsrRequest pb = GREGOR__CONTROL__LEADER_AND_ISR_REQUEST__INIT;
    struct rpc_arena a = {0};
    pb.controller_id = m->controller_id;
    pb.controller_epoch = m->controller_epoch;
    pb.broker_epoch = m->broker_epoch;
    pb.partitions = enc_states(&a, m->partitions, m->n_partitions, &pb.n_partitions);
    pb.live_leaders = enc_leaders(&a, m->live_leaders, m->n_live_leaders, &pb.n_live_leaders);
    return enc_finish(&a, &pb.base, out);
}

kerr_t rpc_leader_and_isr_req_decode(const uint8_t *p, size_t len, struct rpc_leader_and_isr_req *m)
{
    struct rpc_arena a = {0};
    memset(m, 0, sizeof(*m));
    Gregor__Control__LeaderAndIsrRequest *pb =
        gregor__control__leader_and_isr_request__unpack(NULL, len, p);
    if (!pb)
        return KERR__CORRUPT;
    m->controller_id = pb->controller_id;
    m->controller_epoch = pb->controller_epoch;
    m->broker_epoch = pb->broker_epoch;
    m->partitions = dec_states(&a, pb->partitions, pb->n_partitions, &m->n_partitions);
    m->live_leaders = dec_leaders(&a, pb->live_leaders, pb->n_live_leaders, &m->n_live_leaders);
    gregor__control__leader_and_isr_request__free_unpacked(pb, NULL);
    return dec_finish(&a, m, sizeof(*m), &m->mem);
}

void rpc_leader_and_isr_req_destroy(struct rpc_leader_and_isr_req *m)
{
    RPC_DESTROY(m);
}

kerr_t rpc_leader_and_isr_resp_encode(const struct rpc_leader_and_isr_resp *m, struct kbuf *out)
{
    Gregor__Control__LeaderAndIsrResponse pb = GREGOR__CONTROL__LEADER_AND_ISR_RESPONSE__INIT;
    struct rpc_arena a = {0};
    pb.error_code = m->error_code;
    pb.partition_errors = enc_part_errors(&a, m->partition_errors, m->n_partition_errors,
                                          &pb.n_partition_errors);
    return enc_finish(&a, &pb.base, out);
}

kerr_t rpc_leader_and_isr_resp_decode(const uint8_t *p, size_t len, struct rpc_leader_and_isr_resp *m)
{
    struct rpc_arena a = {0};
    memset(m, 0, sizeof(*m));
    Gregor__Control__LeaderAndIsrResponse *pb =
        gregor__control__leader_and_isr_response__unpack(NULL, len, p);
    if (!pb)
        return KERR__CORRUPT;
    m->error_code = dec_error_code(&a, pb->error_code);
    m->partition_errors = dec_part_errors(&a, pb->partition_errors, pb->n_partition_errors,
                                          &m->n_partition_errors);
    gregor__control__leader_and_isr_response__free_unpacked(pb, NULL);
    return dec_finish(&a, m, sizeof(*m), &m->mem);
}

void rpc_leader_and_isr_resp_destroy(struct rpc_leader_and_isr_resp *m)
{
    RPC_DESTROY(m);
}

kerr_t rpc_update_metadata_req_encode(const struct rpc_update_metadata_req *m, struct kbuf *out)
{
    Gregor__Control__UpdateMetadataRequest pb = GREGOR__CONTROL__UPDATE_METADATA_REQUEST__INIT;
    struct rpc_arena a = {0};
    pb.controller_id = m->controller_id;
    pb.controller_epoch = m->controller_epoch;
    pb.broker_epoch = m->broker_epoch;
    pb.partitions = enc_states(&a, m->partitions, m->n_partitions, &pb.n_partitions);
    pb.brokers = enc_brokers(&a, m->brokers, m->n_brokers, &pb.n_brokers);
    return enc_finish(&a, &pb.base, out);
}

kerr_t rpc_update_metadata_req_decode(const uint8_t *p, size_t len, struct rpc_update_metadata_req *m)
{
    struct rpc_arena a = {0};
    memset(m, 0, sizeof(*m));
    Gregor__Control__UpdateMetadataRequest *pb =
        gregor__control__update_metadata_request__unpack(NULL, len, p);
    if (!pb)
        return KERR__CORRUPT;
    m->controller_id = pb->controller_id;
    m->controller_epoch = pb->controller_epoch;
    m->broker_epoch = pb->broker_epoch;
    m->partitions = dec_states(&a, pb->partitions, pb->n_partitions, &m->n_partitions);
    m->brokers = dec_brokers(&a, pb->brokers, pb->n_brokers, &m->n_brokers);
    gregor__control__update_metadata_request__free_unpacked(pb, NULL);
    return dec_finish(&a, m, sizeof(*m), &m->mem);
}

void rpc_update_metadata_req_destroy(struct rpc_update_metadata_req *m)
{
    RPC_DESTROY(m);
}

kerr_t rpc_update_metadata_resp_encode(const struct rpc_update_metadata_resp *m, struct kbuf *out)
{
    Gregor__Control__UpdateMetadataResponse pb = GREGOR__CONTROL__UPDATE_METADATA_RESPONSE__INIT;
    struct rpc_arena a = {0};
    pb.error_code = m->error_code;
    return enc_finish(&a, &pb.base, out);
}

kerr_t rpc_update_metadata_resp_decode(const uint8_t *p, size_t len, struct rpc_update_metadata_resp *m)
{
    struct rpc_arena a = {0};
    memset(m, 0, sizeof(*m));
    Gregor__Control__UpdateMetadataResponse *pb =
        gregor__control__update_metadata_response__unpack(NULL, len, p);
    if (!pb)
        return KERR__CORRUPT;
    m->error_code = dec_error_code(&a, pb->error_code);
    gregor__control__update_metadata_response__free_unpacked(pb, NULL);
    return dec_finish(&a, m, sizeof(*m), &m->mem);
}

void rpc_update_metadata_resp_destroy(struct rpc_update_metadata_resp *m)
{
    RPC_DESTROY(m);
}

kerr_t rpc_stop_replica_req_encode(const struct rpc_stop_replica_req *m, struct kbuf *out)
{
    Gregor__Control__StopReplicaRequest pb = GREGOR__CONTROL__STOP_REPLICA_REQUEST__INIT;
    struct rpc_arena a = {0};
    pb.controller_id = m->controller_id;
    pb.controller_epoch = m->controller_epoch;
    pb.broker_epoch = m->broker_epoch;
    pb.delete_partitions = m->delete_partitions;
    pb.partitions = enc_tps(&a, m->partitions, m->n_partitions, &pb.n_partitions);
    return enc_finish(&a, &pb.base, out);
}

kerr_t rpc_stop_replica_req_decode(const uint8_t *p, size_t len, struct rpc_stop_replica_req *m)
{
    struct rpc_arena a = {0};
    memset(m, 0, sizeof(*m));
    Gregor__Control__StopReplicaRequest *pb =
        gregor__control__stop_replica_request__unpack(NULL, len, p);
    if (!pb)
        return KERR__CORRUPT;
    m->controller_id = pb->controller_id;
    m->controller_epoch = pb->controller_epoch;
    m->broker_epoch = pb->broker_epoch;
    m->delete_partitions = pb->delete_partitions;
    m->partitions = dec_tps(&a, pb->partitions, pb->n_partitions, &m->n_partitions);
    gregor__control__stop_replica_request__free_unpacked(pb, NULL);
    return dec_finish(&a, m, sizeof(*m), &m->mem);
}

void rpc_stop_replica_req_destroy(struct rpc_stop_replica_req *m)
{
    RPC_DESTROY(m);
}

kerr_t rpc_stop_replica_resp_encode(const struct rpc_stop_replica_resp *m, struct kbuf *out)
{
    Gregor__Control__StopReplicaResponse pb = GREGOR__CONTROL__STOP_REPLICA_RESPONSE__INIT;
    struct rpc_arena a = {0};
    pb.error_code = m->error_code;
    pb.partition_errors = enc_part_errors(&a, m->partition_errors, m->n_partition_errors,
                                          &pb.n_partition_errors);
    return enc_finish(&a, &pb.base, out);
}

kerr_t rpc_stop_replica_resp_decode(const uint8_t *p, size_t len, struct rpc_stop_replica_resp *m)
{
    struct rpc_arena a = {0};
    memset(m, 0, sizeof(*m));
    Gregor__Control__StopReplicaResponse *pb =
        gregor__control__stop_replica_response__unpack(NULL, len, p);
    if (!pb)
        return KERR__CORRUPT;
    m->error_code = dec_error_code(&a, pb->error_code);
    m->partition_errors = dec_part_errors(&a, pb->partition_errors, pb->n_partition_errors,
                                          &m->n_partition_errors);
    gregor__control__stop_replica_response__free_unpacked(pb, NULL);
    return dec_finish(&a, m, sizeof(*m), &m->mem);
}

void rpc_stop_replica_resp_destroy(struct rpc_stop_replica_resp *m)
{
    RPC_DESTROY(m);
}

kerr_t rpc_alter_isr_req_encode(const struct rpc_alter_isr_req *m, struct kbuf *out)
{
    Gregor__Control__AlterIsrRequest pb = GREGOR__CONTROL__ALTER_ISR_REQUEST__INIT;
    struct rpc_arena a = {0};
    pb.broker_id = m->broker_id;
    pb.broker_epoch = m->broker_epoch;
    pb.partitions = enc_proposals(&a, m->partitions, m->n_partitions, &pb.n_partitions);
    return enc_finish(&a, &pb.base, out);
}

kerr_t rpc_alter_isr_req_decode(const uint8_t *p, size_t len, struct rpc_alter_isr_req *m)
{
    struct rpc_arena a = {0};
    memset(m, 0, sizeof(*m));
    Gregor__Control__AlterIsrRequest *pb = gregor__control__alter_isr_request__unpack(NULL, len, p);
    if (!pb)
        return KERR__CORRUPT;
    m->broker_id = pb->broker_id;
    m->broker_epoch = pb->broker_epoch;
    m->partitions = dec_proposals(&a, pb->partitions, pb->n_partitions, &m->n_partitions);
    gregor__control__alter_isr_request__free_unpacked(pb, NULL);
    return dec_finish(&a, m, sizeof(*m), &m->mem);
}

void rpc_alter_isr_req_destroy(struct rpc_alter_isr_req *m)
{
    RPC_DESTROY(m);
}

kerr_t rpc_alter_isr_resp_encode(const struct rpc_alter_isr_resp *m, struct kbuf *out)
{
    Gregor__Control__AlterIsrResponse pb = GREGOR__CONTROL__ALTER_ISR_RESPONSE__INIT;
    struct rpc_arena a = {0};
    pb.error_code = m->error_code;
    pb.partitions = enc_results(&a, m->partitions, m->n_partitions, &pb.n_partitions);
    return enc_finish(&a, &pb.base, out);
}

kerr_t rpc_alter_isr_resp_decode(const uint8_t *p, size_t len, struct rpc_alter_isr_resp *m)
{
    struct rpc_arena a = {0};
    memset(m, 0, sizeof(*m));
    Gregor__Control__AlterIsrResponse *pb =
        gregor__control__alter_isr_response__unpack(NULL, len, p);
    if (!pb)
        return KERR__CORRUPT;
    m->error_code = dec_error_code(&a, pb->error_code);
    m->partitions = dec_results(&a, pb->partitions, pb->n_partitions, &m->n_partitions);
    gregor__control__alter_isr_response__free_unpacked(pb, NULL);
    return dec_finish(&a, m, sizeof(*m), &m->mem);
}

void rpc_alter_isr_resp_destroy(struct rpc_alter_isr_resp *m)
{
    RPC_DESTROY(m);
}

kerr_t rpc_controlled_shutdown_req_encode(const struct rpc_controlled_shutdown_req *m,
                                          struct kbuf *out)
{
    Gregor__Control__ControlledShutdownRequest pb =
        GREGOR__CONTROL__CONTROLLED_SHUTDOWN_REQUEST__INIT;
    struct rpc_arena a = {0};
    pb.broker_id = m->broker_id;
    pb.broker_epoch = m->broker_epoch;
    return enc_finish(&a, &pb.base, out);
}

kerr_t rpc_controlled_shutdown_req_decode(const uint8_t *p, size_t len,
                                          struct rpc_controlled_shutdown_req *m)
{
    struct rpc_arena a = {0};
    memset(m, 0, sizeof(*m));
    Gregor__Control__ControlledShutdownRequest *pb =
        gregor__control__controlled_shutdown_request__unpack(NULL, len, p);
    if (!pb)
        return KERR__CORRUPT;
    m->broker_id = pb->broker_id;
    m->broker_epoch = pb->broker_epoch;
    gregor__control__controlled_shutdown_request__free_unpacked(pb, NULL);
    return dec_finish(&a, m, sizeof(*m), &m->mem);
}

void rpc_controlled_shutdown_req_destroy(struct rpc_controlled_shutdown_req *m)
{
    RPC_DESTROY(m);
}

kerr_t rpc_controlled_shutdown_resp_encode(const struct rpc_controlled_shutdown_resp *m,
                                           struct kbuf *out)
{
    Gregor__Control__ControlledShutdownResponse pb =
        GREGOR__CONTROL__CONTROLLED_SHUTDOWN_RESPONSE__INIT;
    struct rpc_arena a = {0};
    pb.error_code = m->error_code;
    pb.remaining = enc_tps(&a, m->remaining, m->n_remaining, &pb.n_remaining);
    return enc_finish(&a, &pb.base, out);
}

kerr_t rpc_controlled_shutdown_resp_decode(const uint8_t *p, size_t len,
                                           struct rpc_controlled_shutdown_resp *m)
{
    struct rpc_arena a = {0};
    memset(m, 0, sizeof(*m));
    Gregor__Control__ControlledShutdownResponse *pb =
        gregor__control__controlled_shutdown_response__unpack(NULL, len, p);
    if (!pb)
        return KERR__CORRUPT;
    m->error_code = dec_error_code(&a, pb->error_code);
    m->remaining = dec_tps(&a, pb->remaining, pb->n_remaining, &m->n_remaining);
    gregor__control__controlled_shutdown_response__free_unpacked(pb, NULL);
    return dec_finish(&a, m, sizeof(*m), &m->mem);
}

void rpc_controlled_shutdown_resp_destroy(struct rpc_controlled_shutdown_resp *m)
{
    RPC_DESTROY(m);
}
