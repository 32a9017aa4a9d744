/*
 * tests/fuzz/fuzz_group_codec.c — libFuzzer target: arbitrary bytes as the body of a
 * consumer-group request, decoded by the codecs of broker/kafka/group_codec.h, every API and
 * version, then answered by the matching response encoder.
 *
 * Input: [api selector][version][body...]. The selector (mod 11) picks FindCoordinator,
 * JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch, OffsetDelete,
 * DescribeGroups, ListGroups or DeleteGroups; the version byte is taken modulo the API's
 * version count. Responses that mirror their request (OffsetCommit, OffsetDelete,
 * DeleteGroups) are encoded from the decoded request itself; the others from values sized by
 * it. Checks (abort = a finding): a decoder that reports success having read past the input,
 * a decoded count that does not fit the input, an encoder that fails to allocate; ASan/UBSan
 * and the leak checker catch the rest (a decoder must free what it made on failure).
 */
#include <stdlib.h>

#include "broker/kafka/group_codec.h"

static void check(bool ok)
{
    if (!ok)
        abort();
}

static void find_coordinator(struct kslice *s, int v, struct kbuf *b)
{
    struct gcodec_find_coord_req r;
    if (!gcodec_find_coord_req_decode(s, v % 5, &r))
        return;
    check((v % 5 >= 4 || r.key_count == 1) && (size_t)r.key_count <= s->len + 1);
    struct gcodec_coordinator c = {"k", 1, "h", 9092, KERR_NONE, NULL};
    for (int32_t i = 0; i < r.key_count; i++)
        gcodec_find_coord_resp_encode(b, v % 5, 0, &c, 1);
    gcodec_find_coord_req_free(&r);
}

static void join(struct kslice *s, int v, struct kbuf *b)
{
    struct gcodec_join_req r;
    if (!gcodec_join_req_decode(s, v % 8, &r))
        return;
    struct group_join_member m = {"m", NULL, NULL, 0};
    struct group_join_result res = {KERR_NONE, "m", 1, NULL, NULL, "m", &m, 1};
    for (int32_t i = 0; i < r.protocol_count; i++) {
        m.metadata = r.protocols[i].metadata;
        m.metadata_len = r.protocols[i].metadata_len;
        gcodec_join_resp_encode(b, v % 8, 0, &res);
    }
    gcodec_join_req_free(&r);
}

static void sync_group(struct kslice *s, int v, struct kbuf *b)
{
    struct gcodec_sync_req r;
    if (!gcodec_sync_req_decode(s, v % 6, &r))
        return;
    for (int32_t i = 0; i < r.assignment_count; i++) {
        struct group_sync_result res = {KERR_NONE, NULL, "range", r.assignments[i].data,
                                        r.assignments[i].len};
        gcodec_sync_resp_encode(b, v % 6, 0, &res);
    }
    gcodec_sync_req_free(&r);
}

static void heartbeat(struct kslice *s, int v, struct kbuf *b)
{
    struct gcodec_heartbeat_req r;
    if (gcodec_heartbeat_req_decode(s, v % 5, &r))
        gcodec_heartbeat_resp_encode(b, v % 5, 0, (kerr_t)r.generation);
}

static void leave(struct kslice *s, int v, struct kbuf *b)
{
    struct gcodec_leave_req r;
    if (!gcodec_leave_req_decode(s, v % 5, &r))
        return;
    struct group_leave_member m = {"", NULL, KERR_UNKNOWN_MEMBER_ID};
    for (int32_t i = 0; i < r.member_count; i++)
        gcodec_leave_resp_encode(b, v % 5, 0, KERR_NONE, &m, 1);
    gcodec_leave_req_free(&r);
}

static void commit(struct kslice *s, int v, struct kbuf *b)
{
    struct gcodec_commit_req r;
    if (!gcodec_commit_req_decode(s, v % 9, &r))
        return;
    for (int32_t i = 0; i < r.topic_count; i++)
        for (int32_t j = 0; j < r.topics[i].part_count; j++)
            r.topics[i].parts[j].err = (kerr_t)(r.topics[i].parts[j].partition & 0x7f);
    gcodec_commit_resp_encode(b, v % 9, 0, &r);
    gcodec_commit_req_free(&r);
}

static void fetch(struct kslice *s, int v, struct kbuf *b)
{
    struct gcodec_fetch_req r;
    if (!gcodec_fetch_req_decode(s, v % 9, &r))
        return;
    check(r.group_count >= 0 && (size_t)r.group_count <= s->len + 1);
    struct gcodec_fetch_part p = {0, -1, -1, NULL, KERR_NONE};
    struct gcodec_fetch_topic t = {"t", &p, 1};
    for (int32_t i = 0; i < r.group_count; i++) {
        struct gcodec_fetch_group g = {"g", r.groups[i].all_topics ? NULL : &t,
                                       r.groups[i].topic_count, KERR_NONE};
        if (g.topics)
            g.topic_count = r.groups[i].topic_count > 0 ? 1 : 0;
        gcodec_fetch_resp_encode(b, v % 9, 0, &g, 1);
    }
    gcodec_fetch_req_free(&r);
}

static void offset_delete(struct kslice *s, struct kbuf *b)
{
    struct gcodec_odel_req r;
    if (!gcodec_odel_req_decode(s, 0, &r))
        return;
    gcodec_odel_resp_encode(b, 0, 0, KERR_NONE, &r);
    gcodec_odel_req_free(&r);
}

static void describe(struct kslice *s, int v, struct kbuf *b)
{
    struct gcodec_describe_req r;
    if (!gcodec_describe_req_decode(s, v % 6, &r))
        return;
    struct gcodec_described_group g = {KERR_NONE, "g", "Dead", "", "", NULL, 0, 0};
    for (int32_t i = 0; i < r.group_count; i++)
        gcodec_describe_resp_encode(b, v % 6, 0, &g, 1);
    gcodec_describe_req_free(&r);
}

static void list(struct kslice *s, int v, struct kbuf *b)
{
    struct gcodec_list_req r;
    if (!gcodec_list_req_decode(s, v % 5, &r))
        return;
    struct gcodec_listed_group g = {"g", "consumer", "Stable"};
    gcodec_list_resp_encode(b, v % 5, 0, KERR_NONE, &g, r.state_count > 0 ? 1 : 0);
    gcodec_list_req_free(&r);
}

static void delete_groups(struct kslice *s, int v, struct kbuf *b)
{
    struct gcodec_delete_req r;
    if (!gcodec_delete_req_decode(s, v % 3, &r))
        return;
    gcodec_delete_resp_encode(b, v % 3, 0, &r);
    gcodec_delete_req_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    struct kslice s;
    struct kbuf b;
    kslice_init(&s, data + 2, size - 2);
    kbuf_init(&b);
    int v = data[1];
    switch (data[0] % 11) {
    case 0:
        find_coordinator(&s, v, &b);
        break;
    case 1:
        join(&s, v, &b);
        break;
    case 2:
        sync_group(&s, v, &b);
        break;
    case 3:
        heartbeat(&s, v, &b);
        break;
    case 4:
        leave(&s, v, &b);
        break;
    case 5:
        commit(&s, v, &b);
        break;
    case 6:
        fetch(&s, v, &b);
        break;
    case 7:
        offset_delete(&s, &b);
        break;
    case 8:
        describe(&s, v, &b);
        break;
    case 9:
        list(&s, v, &b);
        break;
    default:
        delete_groups(&s, v, &b);
        break;
    }
    check(s.pos <= s.len);
    check(!b.oom);
    kbuf_destroy(&b);
    return 0;
}
