/*
 * tests/unit/broker/group/test_offsets_format.c — the `__consumer_offsets` keys and values
 * (broker/group/offsets_format.c) against byte vectors written out by hand from Kafka's
 * schemas (OffsetCommitKey/Value, GroupMetadataKey/Value), every version, plus round trips and
 * rejection of truncated, trailing and malformed input.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "broker/group/offsets_format.h"

static struct kstr S(const char *z) {
    return (struct kstr){z, z ? (int32_t)strlen(z) : 0};
}

static void
assert_bytes(const struct kbuf *b, const uint8_t *want, size_t n)
{
    cr_assert_not(b->oom);
    cr_assert_eq(b->len, n, "encoded %zu bytes, want %zu", b->len, n);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(b->data[i], want[i], "byte %zu: 0x%02x, want 0x%02x", i, b->data[i], want[i]);
}

/* --- keys --- */

static const uint8_t KEY_V1[] = {
    0x00, 0x01,                  /* version 1 */
    0x00, 0x02, 'g',  '1',       /* group */
    0x00, 0x03, 't',  'o',  'p', /* topic */
    0x00, 0x00, 0x00, 0x07,      /* partition 7 */
};

static const uint8_t KEY_V0[] = {
    0x00, 0x00, 0x00, 0x01, 'x', 0x00, 0x00, 0xff, 0xff, 0xff, 0xfe, /* "x", "", -2 */
};

static const uint8_t KEY_V2[] = {
    0x00, 0x02, 0x00, 0x05, 'g', 'r', 'o', 'u', 'p',
};

Test(offsets_format, offset_key_v1_bytes)
{
    struct kbuf b;
    kbuf_init(&b);
    okey_put_offset(&b, 1, "g1", "top", 7);
    assert_bytes(&b, KEY_V1, sizeof(KEY_V1));
    kbuf_destroy(&b);

    struct okey k;
    cr_assert_eq(okey_decode(KEY_V1, sizeof(KEY_V1), &k), KERR_NONE);
    cr_assert_eq(k.kind, OKEY_OFFSET);
    cr_assert_eq(k.version, 1);
    cr_assert(kstr_eq(k.group, "g1"));
    cr_assert(kstr_eq(k.topic, "top"));
    cr_assert_eq(k.partition, 7);
}

Test(offsets_format, offset_key_v0_decodes)
{
    struct okey k;
    cr_assert_eq(okey_decode(KEY_V0, sizeof(KEY_V0), &k), KERR_NONE);
    cr_assert_eq(k.kind, OKEY_OFFSET);
    cr_assert_eq(k.version, 0);
    cr_assert(kstr_eq(k.group, "x"));
    cr_assert(kstr_eq(k.topic, ""));
    cr_assert_eq(k.partition, -2);
    struct kbuf b;
    kbuf_init(&b);
    okey_put_offset(&b, 0, "x", "", -2);
    assert_bytes(&b, KEY_V0, sizeof(KEY_V0));
    kbuf_destroy(&b);
}

Test(offsets_format, group_key_v2_bytes)
{
    struct kbuf b;
    kbuf_init(&b);
    okey_put_group(&b, "group");
    assert_bytes(&b, KEY_V2, sizeof(KEY_V2));
    kbuf_destroy(&b);
    struct okey k;
    cr_assert_eq(okey_decode(KEY_V2, sizeof(KEY_V2), &k), KERR_NONE);
    cr_assert_eq(k.kind, OKEY_GROUP);
    cr_assert(kstr_eq(k.group, "group"));
}

Test(offsets_format, bad_keys_are_rejected)
{
    struct okey k;
    for (size_t n = 0; n < sizeof(KEY_V1); n++)
        cr_assert_eq(okey_decode(KEY_V1, n, &k), KERR__CORRUPT, "truncated at %zu", n);
    uint8_t longer[sizeof(KEY_V2) + 1];
    memcpy(longer, KEY_V2, sizeof(KEY_V2));
    longer[sizeof(KEY_V2)] = 0;
    cr_assert_eq(okey_decode(longer, sizeof(longer), &k), KERR__CORRUPT);
    static const uint8_t v3[] = {0x00, 0x03, 0x00, 0x01, 'g'};
    cr_assert_eq(okey_decode(v3, sizeof(v3), &k), KERR__CORRUPT);
    static const uint8_t null_group[] = {0x00, 0x02, 0xff, 0xff};
    cr_assert_eq(okey_decode(null_group, sizeof(null_group), &k), KERR__CORRUPT);
    static const uint8_t neg_len[] = {0x00, 0x02, 0xff, 0xfe};
    cr_assert_eq(okey_decode(neg_len, sizeof(neg_len), &k), KERR__CORRUPT);
}

/* --- OffsetCommit values --- */

static const uint8_t OCV0[] = {
    0x00, 0x00,                                     /* version 0 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, /* offset 256 */
    0x00, 0x02, 'm',  'd',                          /* metadata */
    0x00, 0x00, 0x01, 0x7f, 0x00, 0x00, 0x00, 0x01, /* commit ts */
};

static const uint8_t OCV1[] = {
    0x00, 0x01,                                     /* version 1 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a, /* offset 42 */
    0x00, 0x00,                                     /* metadata "" */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xe8, /* commit ts 1000 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0xd0, /* expire ts 2000 */
};

static const uint8_t OCV2[] = {
    0x00, 0x02,                                     /* version 2 */
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* offset -1 */
    0x00, 0x01, 'z',                                /* metadata */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, /* commit ts 5 */
};

static const uint8_t OCV3[] = {
    0x00, 0x03,                                     /* version 3 */
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, /* offset 2^32 */
    0x00, 0x00, 0x00, 0x09,                         /* leader epoch 9 */
    0x00, 0x03, 'a',  'b',  'c',                    /* metadata */
    0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00, /* commit ts */
};

struct ocv_case {
    const uint8_t *bytes;
    size_t len;
    struct ocommit_value v;
};

static const struct ocv_case OCV_CASES[] = {
    {OCV0, sizeof(OCV0), {0, 256, -1, {"md", 2}, 0x0000017f00000001LL, -1}},
    {OCV1, sizeof(OCV1), {1, 42, -1, {"", 0}, 1000, 2000}},
    {OCV2, sizeof(OCV2), {2, -1, -1, {"z", 1}, 5, -1}},
    {OCV3, sizeof(OCV3), {3, 1LL << 32, 9, {"abc", 3}, 0x0000018bcfe56800LL, -1}},
};

Test(offsets_format, offset_commit_values_every_version)
{
    for (size_t i = 0; i < sizeof(OCV_CASES) / sizeof(OCV_CASES[0]); i++) {
        const struct ocv_case *c = &OCV_CASES[i];
        struct ocommit_value v;
        cr_assert_eq(ocommit_value_decode(c->bytes, c->len, &v), KERR_NONE, "v%zu", i);
        cr_assert_eq(v.version, c->v.version);
        cr_assert_eq(v.offset, c->v.offset);
        cr_assert_eq(v.leader_epoch, c->v.leader_epoch);
        cr_assert_eq(v.metadata.len, c->v.metadata.len);
        cr_assert_eq(memcmp(v.metadata.ptr, c->v.metadata.ptr, (size_t)v.metadata.len), 0);
        cr_assert_eq(v.commit_ts, c->v.commit_ts);
        cr_assert_eq(v.expire_ts, c->v.expire_ts);
        struct kbuf b;
        kbuf_init(&b);
        cr_assert_eq(ocommit_value_put(&b, &c->v), KERR_NONE);
        assert_bytes(&b, c->bytes, c->len);
        kbuf_destroy(&b);
    }
}

Test(offsets_format, offset_commit_value_rejects_bad_input)
{
    struct ocommit_value v;
    for (size_t n = 0; n < sizeof(OCV3); n++)
        cr_assert_eq(ocommit_value_decode(OCV3, n, &v), KERR__CORRUPT, "truncated at %zu", n);
    uint8_t extra[sizeof(OCV0) + 1];
    memcpy(extra, OCV0, sizeof(OCV0));
    extra[sizeof(OCV0)] = 0x00;
    cr_assert_eq(ocommit_value_decode(extra, sizeof(extra), &v), KERR__CORRUPT);
    uint8_t v4[sizeof(OCV2)];
    memcpy(v4, OCV2, sizeof(OCV2));
    v4[1] = 0x04;
    cr_assert_eq(ocommit_value_decode(v4, sizeof(v4), &v), KERR__CORRUPT);
    uint8_t nullmeta[sizeof(OCV2)];
    memcpy(nullmeta, OCV2, sizeof(OCV2));
    nullmeta[10] = 0xff, nullmeta[11] = 0xff; /* metadata is not nullable */
    cr_assert_eq(ocommit_value_decode(nullmeta, sizeof(nullmeta) - 1, &v), KERR__CORRUPT);
    struct kbuf b;
    kbuf_init(&b);
    struct ocommit_value bad = {.version = 4};
    cr_assert_eq(ocommit_value_put(&b, &bad), KERR__INVALID);
    kbuf_destroy(&b);
}

/* --- GroupMetadata values --- */

/* v0, one member: no rebalance timeout, no instance id, no state timestamp */
static const uint8_t GMV0[] = {
    0x00, 0x00,                                             /* version 0 */
    0x00, 0x08, 'c',  'o',  'n',  's',  'u', 'm', 'e', 'r', /* protocol type */
    0x00, 0x00, 0x00, 0x03,                                 /* generation 3 */
    0x00, 0x05, 'r',  'a',  'n',  'g',  'e',                /* protocol */
    0x00, 0x02, 'm',  '1',                                  /* leader */
    0x00, 0x00, 0x00, 0x01,                                 /* 1 member */
    0x00, 0x02, 'm',  '1',                                  /*   member id */
    0x00, 0x02, 'c',  '1',                                  /*   client id */
    0x00, 0x02, 'h',  '1',                                  /*   client host */
    0x00, 0x00, 0x27, 0x10,                                 /*   session timeout 10000 */
    0x00, 0x00, 0x00, 0x02, 0xaa, 0xbb,                     /*   subscription */
    0x00, 0x00, 0x00, 0x01, 0xcc,                           /*   assignment */
};

/* v1: rebalance timeout per member; empty group fields are null */
static const uint8_t GMV1[] = {
    0x00, 0x01,             /* version 1 */
    0x00, 0x01, 'p',        /* protocol type */
    0x00, 0x00, 0x00, 0x00, /* generation 0 */
    0xff, 0xff,             /* protocol null */
    0xff, 0xff,             /* leader null */
    0x00, 0x00, 0x00, 0x01, /* 1 member */
    0x00, 0x01, 'm',        /*   member id */
    0x00, 0x00,             /*   client id "" */
    0x00, 0x00,             /*   client host "" */
    0x00, 0x04, 0x93, 0xe0, /*   rebalance timeout 300000 */
    0x00, 0x00, 0x75, 0x30, /*   session timeout 30000 */
    0x00, 0x00, 0x00, 0x00, /*   subscription empty */
    0x00, 0x00, 0x00, 0x00, /*   assignment empty */
};

/* v2: current state timestamp, no members */
static const uint8_t GMV2[] = {
    0x00, 0x02,                                     /* version 2 */
    0x00, 0x00,                                     /* protocol type "" */
    0x00, 0x00, 0x00, 0x05,                         /* generation 5 */
    0xff, 0xff,                                     /* protocol null */
    0xff, 0xff,                                     /* leader null */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x86, 0xa0, /* state ts 100000 */
    0x00, 0x00, 0x00, 0x00,                         /* no members */
};

/* v3: group instance id (one static, one dynamic member) */
static const uint8_t GMV3[] = {
    0x00, 0x03,                                               /* version 3 */
    0x00, 0x08, 'c',  'o',  'n',  's',  'u',  'm',  'e', 'r', /* protocol type */
    0x00, 0x00, 0x00, 0x0b,                                   /* generation 11 */
    0x00, 0x02, 'r',  'r',                                    /* protocol */
    0x00, 0x01, 'a',                                          /* leader */
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,           /* state ts -1 */
    0x00, 0x00, 0x00, 0x02,                                   /* 2 members */
    0x00, 0x01, 'a',                                          /*   member id */
    0x00, 0x02, 'i',  '1',                                    /*   instance id */
    0x00, 0x01, 'c',                                          /*   client id */
    0x00, 0x01, 'h',                                          /*   client host */
    0x00, 0x00, 0xea, 0x60,                                   /*   rebalance 60000 */
    0x00, 0x00, 0x1b, 0x58,                                   /*   session 7000 */
    0x00, 0x00, 0x00, 0x01, 0x01,                             /*   subscription */
    0x00, 0x00, 0x00, 0x01, 0x02,                             /*   assignment */
    0x00, 0x01, 'b',                                          /*   member id */
    0xff, 0xff,                                               /*   instance id null */
    0x00, 0x01, 'd',                                          /*   client id */
    0x00, 0x01, 'k',                                          /*   client host */
    0x00, 0x00, 0xea, 0x60,                                   /*   rebalance 60000 */
    0x00, 0x00, 0x1b, 0x58,                                   /*   session 7000 */
    0x00, 0x00, 0x00, 0x00,                                   /*   subscription empty */
    0x00, 0x00, 0x00, 0x02, 0x03, 0x04,                       /*   assignment */
};

static void assert_kstr(struct kstr got, const char *want)
{
    if (!want) {
        cr_assert(kstr_is_null(got), "expected null");
        return;
    }
    cr_assert(kstr_eq(got, want), "got '%.*s', want '%s'", got.len, got.ptr ? got.ptr : "", want);
}

/* Decodes bytes, checks them with check(), re-encodes and compares byte by byte. */
static void roundtrip(const uint8_t *bytes, size_t len, void (*check)(const struct ogroup_value *))
{
    struct ogroup_value v;
    cr_assert_eq(ogroup_value_decode(bytes, len, &v), KERR_NONE);
    check(&v);
    struct kbuf b;
    kbuf_init(&b);
    cr_assert_eq(ogroup_value_put(&b, &v), KERR_NONE);
    assert_bytes(&b, bytes, len);
    kbuf_destroy(&b);
    ogroup_value_destroy(&v);
}

static void check_v0(const struct ogroup_value *v)
{
    cr_assert_eq(v->version, 0);
    assert_kstr(v->protocol_type, "consumer");
    cr_assert_eq(v->generation, 3);
    assert_kstr(v->protocol, "range");
    assert_kstr(v->leader, "m1");
    cr_assert_eq(v->state_ts, -1);
    cr_assert_eq(v->member_count, 1);
    const struct ogroup_member *m = &v->members[0];
    assert_kstr(m->member_id, "m1");
    assert_kstr(m->instance_id, NULL);
    assert_kstr(m->client_id, "c1");
    assert_kstr(m->client_host, "h1");
    cr_assert_eq(m->session_timeout, 10000);
    cr_assert_eq(m->rebalance_timeout, 10000); /* v0: the session timeout */
    cr_assert_eq(m->subscription_len, 2);
    cr_assert_eq(m->subscription[0], 0xaa);
    cr_assert_eq(m->subscription[1], 0xbb);
    cr_assert_eq(m->assignment_len, 1);
    cr_assert_eq(m->assignment[0], 0xcc);
}

static void check_v1(const struct ogroup_value *v)
{
    cr_assert_eq(v->version, 1);
    assert_kstr(v->protocol_type, "p");
    cr_assert_eq(v->generation, 0);
    assert_kstr(v->protocol, NULL);
    assert_kstr(v->leader, NULL);
    cr_assert_eq(v->member_count, 1);
    cr_assert_eq(v->members[0].rebalance_timeout, 300000);
    cr_assert_eq(v->members[0].session_timeout, 30000);
    assert_kstr(v->members[0].client_id, "");
    cr_assert_eq(v->members[0].subscription_len, 0);
    cr_assert_eq(v->members[0].assignment_len, 0);
}

static void check_v2(const struct ogroup_value *v)
{
    cr_assert_eq(v->version, 2);
    assert_kstr(v->protocol_type, "");
    cr_assert_eq(v->generation, 5);
    cr_assert_eq(v->state_ts, 100000);
    cr_assert_eq(v->member_count, 0);
}

static void check_v3(const struct ogroup_value *v)
{
    cr_assert_eq(v->version, 3);
    cr_assert_eq(v->generation, 11);
    assert_kstr(v->protocol, "rr");
    assert_kstr(v->leader, "a");
    cr_assert_eq(v->state_ts, -1);
    cr_assert_eq(v->member_count, 2);
    assert_kstr(v->members[0].instance_id, "i1");
    assert_kstr(v->members[1].instance_id, NULL);
    assert_kstr(v->members[1].client_host, "k");
    cr_assert_eq(v->members[0].rebalance_timeout, 60000);
    cr_assert_eq(v->members[0].session_timeout, 7000);
    cr_assert_eq(v->members[1].assignment_len, 2);
    cr_assert_eq(v->members[1].assignment[1], 0x04);
}

Test(offsets_format, group_value_v0) { roundtrip(GMV0, sizeof(GMV0), check_v0); }
Test(offsets_format, group_value_v1) { roundtrip(GMV1, sizeof(GMV1), check_v1); }
Test(offsets_format, group_value_v2) { roundtrip(GMV2, sizeof(GMV2), check_v2); }
Test(offsets_format, group_value_v3) { roundtrip(GMV3, sizeof(GMV3), check_v3); }

Test(offsets_format, group_value_encoder_builds_v3_from_fields)
{
    struct ogroup_member ms[2] = {
        {S("a"), S("i1"), S("c"), S("h"), 60000, 7000, (const uint8_t *)"\x01", 1,
         (const uint8_t *)"\x02", 1},
        {S("b"), S(NULL), S("d"), S("k"), 60000, 7000, NULL, 0, (const uint8_t *)"\x03\x04", 2},
    };
    struct ogroup_value v = {3, S("consumer"), 11, S("rr"), S("a"), -1, ms, 2};
    struct kbuf b;
    kbuf_init(&b);
    cr_assert_eq(ogroup_value_put(&b, &v), KERR_NONE);
    assert_bytes(&b, GMV3, sizeof(GMV3));
    kbuf_destroy(&b);
}

Test(offsets_format, group_value_rejects_bad_input)
{
    struct ogroup_value v;
    for (size_t n = 0; n < sizeof(GMV3); n++)
        cr_assert_eq(ogroup_value_decode(GMV3, n, &v), KERR__CORRUPT, "truncated at %zu", n);
    uint8_t extra[sizeof(GMV2) + 2];
    memcpy(extra, GMV2, sizeof(GMV2));
    extra[sizeof(GMV2)] = extra[sizeof(GMV2) + 1] = 0;
    cr_assert_eq(ogroup_value_decode(extra, sizeof(extra), &v), KERR__CORRUPT);
    /* a member count far beyond the bytes present is refused before allocating */
    uint8_t huge[sizeof(GMV2)];
    memcpy(huge, GMV2, sizeof(GMV2));
    huge[sizeof(GMV2) - 4] = 0x7f;
    cr_assert_eq(ogroup_value_decode(huge, sizeof(huge), &v), KERR__CORRUPT);
    /* negative BYTES length */
    uint8_t negbytes[sizeof(GMV1)];
    memcpy(negbytes, GMV1, sizeof(GMV1));
    memset(negbytes + sizeof(GMV1) - 4, 0xff, 4);
    cr_assert_eq(ogroup_value_decode(negbytes, sizeof(negbytes), &v), KERR__CORRUPT);
    /* member id is not nullable */
    uint8_t nullid[sizeof(GMV1)];
    memcpy(nullid, GMV1, sizeof(GMV1));
    nullid[17] = 0xff, nullid[18] = 0xff;
    cr_assert_eq(ogroup_value_decode(nullid, sizeof(nullid), &v), KERR__CORRUPT);
    uint8_t v4[sizeof(GMV2)];
    memcpy(v4, GMV2, sizeof(GMV2));
    v4[1] = 4;
    cr_assert_eq(ogroup_value_decode(v4, sizeof(v4), &v), KERR__CORRUPT);
}
