/*
 * controller/rpc.c — framing and protobuf codecs of the control-plane RPCs
 * (controller/rpc.h, proto/control.proto, docs/architecture.md §4).
 *
 * Owned formats: the request/response frames described in rpc.h. The body
 * of each frame is the protobuf-c packing of one message of
 * proto/control.proto; this file is the only user of the generated types.
 *
 * One generic codec serves every message: a table per plain struct lists
 * its members (each named like its protobuf field, which the table finds
 * through the message's ProtobufCMessageDescriptor) with their kind (int,
 * error code, string, int array, array of parts). A new control message
 * costs its plain struct in rpc.h, one table line per field and one
 * RPC_MESSAGE_FUNCS() line here. protobuf-c stays inside this file
 * (docs/architecture.md §11):
 *   encode: the caller's plain struct is mirrored into protobuf-c messages
 *           allocated from a local arena (strings and int arrays are
 *           borrowed, not copied), packed into the caller's kbuf, and the
 *           arena is freed before returning.
 *   decode: protobuf-c unpacks into its own tree; everything is copied into
 *           the plain struct, with memory from an arena whose chunks become
 *           the struct's `mem`; the protobuf-c tree is freed at once.
 * The arena (struct rpc_mem chain) has sticky failure flags, so the copy
 * code needs no error paths: the caller checks once at the end.
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
static char *enc_str(const char *s) { return (char *)(s ? s : ""); }

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

bool rpc_is_api_key(int api_key) { return api_key_is_control(api_key); }

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

/* ---- generic codec: plain struct <-> protobuf-c, driven by tables ---------- */

/* How one member of a plain struct maps to the protobuf field of the same
 * name in its message of proto/control.proto. */
enum rpc_kind {
    RK_I32,  /* int32_t <-> int32 */
    RK_I64,  /* int64_t <-> int64 */
    RK_BOOL, /* bool <-> bool */
    RK_ERR,  /* int16_t error code <-> int32 (outside int16: corrupt) */
    RK_STR,  /* const char * <-> string (NULL encodes as "", decodes as a copy) */
    RK_I32S, /* int n_<m> + const int32_t *<m> <-> repeated int32 */
    RK_MSGS, /* int n_<m> + const struct ... *<m> <-> repeated message */
};

struct rpc_type;

struct rpc_field {
    const char *name; /* member name == protobuf field name */
    enum rpc_kind kind;
    size_t off;                 /* offset of the member in the plain struct */
    size_t n_off;               /* RK_I32S, RK_MSGS: offset of the int count n_<name> */
    const struct rpc_type *sub; /* RK_MSGS: the element type */
};

/* A plain struct and its protobuf-c message. */
struct rpc_type {
    const ProtobufCMessageDescriptor *pb;
    size_t size;    /* sizeof the plain struct */
    size_t mem_off; /* a whole message: offset of its `mem`; a part: 0 */
    size_t n_fields;
    const struct rpc_field *fields;
};

/* offsetof(S, m), failing to compile unless the member has `size` bytes. */
#define RPC_OFF(S, m, size)                                                                        \
    (offsetof(S, m) + 0 * sizeof(char[sizeof(((S *)0)->m) == (size) ? 1 : -1]))
#define F_I32(S, m)                                                                                \
    {                                                                                              \
#m, RK_I32, RPC_OFF(S, m, 4), 0, NULL                                                      \
    }
#define F_I64(S, m)                                                                                \
    {                                                                                              \
#m, RK_I64, RPC_OFF(S, m, 8), 0, NULL                                                      \
    }
#define F_BOOL(S, m)                                                                               \
    {                                                                                              \
#m, RK_BOOL, RPC_OFF(S, m, sizeof(bool)), 0, NULL                                          \
    }
#define F_ERR(S, m)                                                                                \
    {                                                                                              \
#m, RK_ERR, RPC_OFF(S, m, 2), 0, NULL                                                      \
    }
#define F_STR(S, m)                                                                                \
    {                                                                                              \
#m, RK_STR, RPC_OFF(S, m, sizeof(char *)), 0, NULL                                         \
    }
#define F_I32S(S, m)                                                                               \
    {                                                                                              \
#m, RK_I32S, RPC_OFF(S, m, sizeof(int32_t *)), RPC_OFF(S, n_##m, sizeof(int)), NULL        \
    }
#define F_MSGS(S, m, type)                                                                         \
    {                                                                                              \
#m, RK_MSGS, RPC_OFF(S, m, sizeof(void *)), RPC_OFF(S, n_##m, sizeof(int)), &type          \
    }
#define RPC_PART(desc, S, fields)                                                                  \
    {                                                                                              \
        &desc, sizeof(S), 0, ARRAY_LEN(fields), fields                                             \
    }
#define RPC_MESSAGE(desc, S, fields)                                                               \
    {                                                                                              \
        &desc, sizeof(S), offsetof(S, mem), ARRAY_LEN(fields), fields                              \
    }

/* The protobuf field a table entry names; a table that names a field of
 * another type or one control.proto lacks is a bug found by any use. */
static const ProtobufCFieldDescriptor *field_desc(const struct rpc_type *t,
                                                  const struct rpc_field *f)
{
    const ProtobufCFieldDescriptor *fd =
        protobuf_c_message_descriptor_get_field_by_name(t->pb, f->name);
    KASSERT(fd != NULL);
    static const ProtobufCType pb_type[] = {
        [RK_I32] = PROTOBUF_C_TYPE_INT32,    [RK_I64] = PROTOBUF_C_TYPE_INT64,
        [RK_BOOL] = PROTOBUF_C_TYPE_BOOL,    [RK_ERR] = PROTOBUF_C_TYPE_INT32,
        [RK_STR] = PROTOBUF_C_TYPE_STRING,   [RK_I32S] = PROTOBUF_C_TYPE_INT32,
        [RK_MSGS] = PROTOBUF_C_TYPE_MESSAGE,
    };
    bool repeated = f->kind == RK_I32S || f->kind == RK_MSGS;
    KASSERT(fd->type == pb_type[f->kind]);
    KASSERT((fd->label == PROTOBUF_C_LABEL_REPEATED) == repeated);
    KASSERT(f->kind != RK_MSGS || fd->descriptor == f->sub->pb);
    return fd;
}

/* Builds the protobuf-c message of plain struct src in the arena. Strings
 * and int arrays are borrowed from src. NULL when the arena failed. */
static ProtobufCMessage *enc_msg(struct rpc_arena *a, const struct rpc_type *t,
                                 const unsigned char *src)
{
    ProtobufCMessage *msg = arena_alloc(a, t->pb->sizeof_message);
    if (!msg)
        return NULL;
    protobuf_c_message_init(t->pb, msg);
    unsigned char *dst = (unsigned char *)msg;
    for (size_t i = 0; i < t->n_fields; i++) {
        const struct rpc_field *f = &t->fields[i];
        const ProtobufCFieldDescriptor *fd = field_desc(t, f);
        const void *from = src + f->off;
        void *to = dst + fd->offset;
        switch (f->kind) {
        case RK_I32:
            *(int32_t *)to = *(const int32_t *)from;
            break;
        case RK_I64:
            *(int64_t *)to = *(const int64_t *)from;
            break;
        case RK_BOOL:
            *(protobuf_c_boolean *)to = *(const bool *)from;
            break;
        case RK_ERR:
            *(int32_t *)to = *(const int16_t *)from;
            break;
        case RK_STR:
            *(char **)to = enc_str(*(const char *const *)from);
            break;
        case RK_I32S:
            *(int32_t **)to =
                enc_ints(a, *(const int32_t *const *)from, *(const int *)(src + f->n_off),
                         (size_t *)(dst + fd->quantifier_offset));
            break;
        case RK_MSGS: {
            int n = *(const int *)(src + f->n_off);
            const unsigned char *items;
            memcpy(&items, from, sizeof(items));
            if (!enc_array_ok(a, items, n))
                break;
            ProtobufCMessage **ptrs = arena_array(a, (size_t)n, sizeof(*ptrs));
            for (int j = 0; ptrs && j < n; j++)
                if (!(ptrs[j] = enc_msg(a, f->sub, items + (size_t)j * f->sub->size)))
                    ptrs = NULL;
            if (ptrs) {
                *(size_t *)(dst + fd->quantifier_offset) = (size_t)n;
                memcpy(to, &ptrs, sizeof(ptrs));
            }
            break;
        }
        }
    }
    return msg;
}

/* Fills plain struct dst (zeroed) from msg, copying into the arena. */
static void dec_msg(struct rpc_arena *a, const struct rpc_type *t, const ProtobufCMessage *msg,
                    unsigned char *dst)
{
    const unsigned char *src = (const unsigned char *)msg;
    for (size_t i = 0; i < t->n_fields; i++) {
        const struct rpc_field *f = &t->fields[i];
        const ProtobufCFieldDescriptor *fd = field_desc(t, f);
        const void *from = src + fd->offset;
        void *to = dst + f->off;
        switch (f->kind) {
        case RK_I32:
            *(int32_t *)to = *(const int32_t *)from;
            break;
        case RK_I64:
            *(int64_t *)to = *(const int64_t *)from;
            break;
        case RK_BOOL:
            *(bool *)to = *(const protobuf_c_boolean *)from != 0;
            break;
        case RK_ERR:
            *(int16_t *)to = dec_error_code(a, *(const int32_t *)from);
            break;
        case RK_STR:
            *(const char **)to = arena_strdup(a, *(char *const *)from);
            break;
        case RK_I32S:
            *(const int32_t **)to =
                dec_ints(a, *(int32_t *const *)from, *(const size_t *)(src + fd->quantifier_offset),
                         (int *)(dst + f->n_off));
            break;
        case RK_MSGS: {
            int n = dec_count(a, *(const size_t *)(src + fd->quantifier_offset));
            ProtobufCMessage *const *items;
            memcpy(&items, from, sizeof(items));
            unsigned char *v = arena_array(a, (size_t)n, f->sub->size);
            if (v)
                memset(v, 0, (size_t)n * f->sub->size);
            for (int j = 0; v && j < n; j++)
                dec_msg(a, f->sub, items[j], v + (size_t)j * f->sub->size);
            *(int *)(dst + f->n_off) = n;
            memcpy(to, &v, sizeof(v));
            break;
        }
        }
    }
}

/* Appends the packing of plain message m of type t to out. */
static kerr_t rpc_encode(const struct rpc_type *t, const void *m, struct kbuf *out)
{
    struct rpc_arena a = {0};
    ProtobufCMessage *msg = enc_msg(&a, t, m);
    return enc_finish(&a, msg, out);
}

/* Fills plain message m of type t from the len bytes at p. */
static kerr_t rpc_decode(const struct rpc_type *t, const uint8_t *p, size_t len, void *m)
{
    struct rpc_arena a = {0};
    memset(m, 0, t->size);
    ProtobufCMessage *pb = protobuf_c_message_unpack(t->pb, NULL, len, p);
    if (!pb)
        return KERR__CORRUPT;
    dec_msg(&a, t, pb, m);
    protobuf_c_message_free_unpacked(pb, NULL);
    return dec_finish(&a, m, t->size, (struct rpc_mem **)((unsigned char *)m + t->mem_off));
}

/* ---- the tables: one line per field -------------------------------------- */

typedef struct rpc_partition_state PState;
typedef struct rpc_live_leader PLeader;
typedef struct rpc_partition_error PPartErr;
typedef struct rpc_topic_partition PTp;
typedef struct rpc_endpoint PEndpoint;
typedef struct rpc_live_broker PBroker;
typedef struct rpc_isr_proposal PProposal;
typedef struct rpc_isr_result PResult;

static const struct rpc_field state_fields[] = {
    F_STR(PState, topic),           F_I32(PState, partition), F_I32(PState, leader),
    F_I32(PState, leader_epoch),    F_I32S(PState, isr),      F_I32S(PState, replicas),
    F_I32(PState, partition_epoch), F_BOOL(PState, is_new),
};
static const struct rpc_type state_type =
    RPC_PART(gregor__control__partition_leader_state__descriptor, PState, state_fields);

static const struct rpc_field leader_fields[] = {
    F_I32(PLeader, id),
    F_STR(PLeader, host),
    F_I32(PLeader, port),
};
static const struct rpc_type leader_type =
    RPC_PART(gregor__control__live_leader__descriptor, PLeader, leader_fields);

static const struct rpc_field part_err_fields[] = {
    F_STR(PPartErr, topic),
    F_I32(PPartErr, partition),
    F_ERR(PPartErr, error_code),
};
static const struct rpc_type part_err_type =
    RPC_PART(gregor__control__partition_error__descriptor, PPartErr, part_err_fields);

static const struct rpc_field tp_fields[] = {
    F_STR(PTp, topic),
    F_I32(PTp, partition),
    F_I32(PTp, leader_epoch),
};
static const struct rpc_type tp_type =
    RPC_PART(gregor__control__topic_partition__descriptor, PTp, tp_fields);

static const struct rpc_field endpoint_fields[] = {
    F_STR(PEndpoint, listener),
    F_STR(PEndpoint, host),
    F_I32(PEndpoint, port),
    F_STR(PEndpoint, security_protocol),
};
static const struct rpc_type endpoint_type =
    RPC_PART(gregor__control__endpoint__descriptor, PEndpoint, endpoint_fields);

static const struct rpc_field broker_fields[] = {
    F_I32(PBroker, id),
    F_STR(PBroker, rack),
    F_MSGS(PBroker, endpoints, endpoint_type),
};
static const struct rpc_type broker_type =
    RPC_PART(gregor__control__live_broker__descriptor, PBroker, broker_fields);

static const struct rpc_field proposal_fields[] = {
    F_STR(PProposal, topic),    F_I32(PProposal, partition),       F_I32(PProposal, leader_epoch),
    F_I32S(PProposal, new_isr), F_I32(PProposal, partition_epoch),
};
static const struct rpc_type proposal_type =
    RPC_PART(gregor__control__alter_isr_partition__descriptor, PProposal, proposal_fields);

static const struct rpc_field result_fields[] = {
    F_STR(PResult, topic),           F_I32(PResult, partition),    F_ERR(PResult, error_code),
    F_I32(PResult, leader),          F_I32(PResult, leader_epoch), F_I32S(PResult, isr),
    F_I32(PResult, partition_epoch),
};
static const struct rpc_type result_type =
    RPC_PART(gregor__control__alter_isr_partition_result__descriptor, PResult, result_fields);

typedef struct rpc_leader_and_isr_req MLaiReq;
typedef struct rpc_leader_and_isr_resp MLaiResp;
typedef struct rpc_update_metadata_req MUmReq;
typedef struct rpc_update_metadata_resp MUmResp;
typedef struct rpc_stop_replica_req MSrReq;
typedef struct rpc_stop_replica_resp MSrResp;
typedef struct rpc_alter_isr_req MAiReq;
typedef struct rpc_alter_isr_resp MAiResp;
typedef struct rpc_controlled_shutdown_req MCsReq;
typedef struct rpc_controlled_shutdown_resp MCsResp;

static const struct rpc_field lai_req_fields[] = {
    F_I32(MLaiReq, controller_id),
    F_I32(MLaiReq, controller_epoch),
    F_I64(MLaiReq, broker_epoch),
    F_MSGS(MLaiReq, partitions, state_type),
    F_MSGS(MLaiReq, live_leaders, leader_type),
};
static const struct rpc_field lai_resp_fields[] = {
    F_ERR(MLaiResp, error_code),
    F_MSGS(MLaiResp, partition_errors, part_err_type),
};
static const struct rpc_field um_req_fields[] = {
    F_I32(MUmReq, controller_id),         F_I32(MUmReq, controller_epoch),
    F_I64(MUmReq, broker_epoch),          F_MSGS(MUmReq, partitions, state_type),
    F_MSGS(MUmReq, brokers, broker_type),
};
static const struct rpc_field um_resp_fields[] = {
    F_ERR(MUmResp, error_code),
};
static const struct rpc_field sr_req_fields[] = {
    F_I32(MSrReq, controller_id),        F_I32(MSrReq, controller_epoch),
    F_I64(MSrReq, broker_epoch),         F_BOOL(MSrReq, delete_partitions),
    F_MSGS(MSrReq, partitions, tp_type),
};
static const struct rpc_field sr_resp_fields[] = {
    F_ERR(MSrResp, error_code),
    F_MSGS(MSrResp, partition_errors, part_err_type),
};
static const struct rpc_field ai_req_fields[] = {
    F_I32(MAiReq, broker_id),
    F_I64(MAiReq, broker_epoch),
    F_MSGS(MAiReq, partitions, proposal_type),
};
static const struct rpc_field ai_resp_fields[] = {
    F_ERR(MAiResp, error_code),
    F_MSGS(MAiResp, partitions, result_type),
};
static const struct rpc_field cs_req_fields[] = {
    F_I32(MCsReq, broker_id),
    F_I64(MCsReq, broker_epoch),
};
static const struct rpc_field cs_resp_fields[] = {
    F_ERR(MCsResp, error_code),
    F_MSGS(MCsResp, remaining, tp_type),
};

/* ---- messages: the public functions of rpc.h ------------------------------ */

/* Defines rpc_<name>_encode/_decode/_destroy for struct rpc_<name>, whose
 * protobuf message is `desc` and whose fields are listed in `fields`. */
#define RPC_MESSAGE_FUNCS(name, desc, fields)                                                      \
    static const struct rpc_type name##_type = RPC_MESSAGE(desc, struct rpc_##name, fields);       \
    kerr_t rpc_##name##_encode(const struct rpc_##name *m, struct kbuf *out)                       \
    {                                                                                              \
        return rpc_encode(&name##_type, m, out);                                                   \
    }                                                                                              \
    kerr_t rpc_##name##_decode(const uint8_t *p, size_t len, struct rpc_##name *m)                 \
    {                                                                                              \
        return rpc_decode(&name##_type, p, len, m);                                                \
    }                                                                                              \
    void rpc_##name##_destroy(struct rpc_##name *m)                                                \
    {                                                                                              \
        rpc_mem_free(m->mem);                                                                      \
        memset(m, 0, sizeof(*m));                                                                  \
    }

RPC_MESSAGE_FUNCS(leader_and_isr_req, gregor__control__leader_and_isr_request__descriptor,
                  lai_req_fields)
RPC_MESSAGE_FUNCS(leader_and_isr_resp, gregor__control__leader_and_isr_response__descriptor,
                  lai_resp_fields)
RPC_MESSAGE_FUNCS(update_metadata_req, gregor__control__update_metadata_request__descriptor,
                  um_req_fields)
RPC_MESSAGE_FUNCS(update_metadata_resp, gregor__control__update_metadata_response__descriptor,
                  um_resp_fields)
RPC_MESSAGE_FUNCS(stop_replica_req, gregor__control__stop_replica_request__descriptor,
                  sr_req_fields)
RPC_MESSAGE_FUNCS(stop_replica_resp, gregor__control__stop_replica_response__descriptor,
                  sr_resp_fields)
RPC_MESSAGE_FUNCS(alter_isr_req, gregor__control__alter_isr_request__descriptor, ai_req_fields)
RPC_MESSAGE_FUNCS(alter_isr_resp, gregor__control__alter_isr_response__descriptor, ai_resp_fields)
RPC_MESSAGE_FUNCS(controlled_shutdown_req, gregor__control__controlled_shutdown_request__descriptor,
                  cs_req_fields)
RPC_MESSAGE_FUNCS(controlled_shutdown_resp,
                  gregor__control__controlled_shutdown_response__descriptor, cs_resp_fields)
