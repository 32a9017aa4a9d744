/*
 * tests/bench/nats_bench.c — NATS JetStream produce and consume throughput,
 * the NATS peer of the Gregor figures (docs/PERFORMANCE.md §23), through
 * NATS's own C client (libnats).
 *
 *   nats_bench URL produce STREAM SIZE COUNT [pending=N]
 *   nats_bench URL consume STREAM [batch=N] [ack=none|all]
 *
 * produce creates STREAM (file storage, one subject named after the stream,
 * no limits; an existing stream of that name is deleted first), then
 * publishes COUNT records of SIZE bytes with js_PublishAsync, at most
 * `pending` (default 4096) unacknowledged, and waits until every publish is
 * acknowledged: the elapsed time runs from the first publish to the last
 * ack. At `pending` unacknowledged, a publish waits for room (up to 60 s). A
 * publish the server refuses counts as an error.
 *
 * consume reads STREAM from its first record to its last through a pull
 * consumer (js_PullSubscribe; ack policy "none", which pull consumers accept
 * since NATS 2.9, or with ack=all, "all" and one ack per fetched batch),
 * fetching `batch` (default 8192) records per request, and stops when it has
 * seen as many records as the stream held when it started. The elapsed time runs from the subscription
 * to the last record.
 *
 * Prints one line of key=value results on stdout, the keys of the other
 * benches: records bytes elapsed_s records_per_s mb_per_s (MB = 10^6 bytes of
 * record values) cpu_user_s cpu_sys_s cpu_s_per_mb, and errors for produce.
 * Exit status: 0 on success, 1 on error, 2 on usage.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nats/nats.h>

#include "bench_util.h"

static uint64_t publish_errors;

static void on_publish_error(jsCtx *js, jsPubAckErr *pae, void *closure)
{
    (void)js;
    (void)closure;
    if (publish_errors++ == 0)
        fprintf(stderr, "nats_bench: publish refused: %s\n",
                pae->ErrText ? pae->ErrText : natsStatus_GetText(pae->Err));
}

static int fail(const char *what, natsStatus s, jsErrCode jerr)
{
    fprintf(stderr, "nats_bench: %s: %s (JetStream error %d)\n", what, natsStatus_GetText(s),
            (int)jerr);
    return 1;
}

/* Parses key=value arguments into *pending (produce) or *batch and *ack_all
 * (consume); returns 0 or -1. */
static int parse_opts(int argc, char **argv, int first, int64_t *pending, int *batch, int *ack_all)
{
    for (int i = first; i < argc; i++) {
        if (strncmp(argv[i], "pending=", 8) == 0 && pending)
            *pending = strtoll(argv[i] + 8, NULL, 10);
        else if (strncmp(argv[i], "batch=", 6) == 0 && batch)
            *batch = atoi(argv[i] + 6);
        else if (strcmp(argv[i], "ack=all") == 0 && ack_all)
            *ack_all = 1;
        else if (strcmp(argv[i], "ack=none") == 0 && ack_all)
            *ack_all = 0;
        else {
            fprintf(stderr, "nats_bench: unknown option %s\n", argv[i]);
            return -1;
        }
    }
    return 0;
}

static void print_result(uint64_t records, uint64_t bytes, int64_t t0, double u0, double s0)
{
    double elapsed = (double)(bench_now_ns() - t0) / 1e9, u1, s1;
    bench_cpu(RUSAGE_SELF, &u1, &s1);
    double mb = (double)bytes / 1e6;
    printf("records=%" PRIu64 " bytes=%" PRIu64 " elapsed_s=%.3f records_per_s=%.0f"
           " mb_per_s=%.1f cpu_user_s=%.3f cpu_sys_s=%.3f cpu_s_per_mb=%.5f",
           records, bytes, elapsed, (double)records / elapsed, mb / elapsed, u1 - u0, s1 - s0,
           mb > 0 ? (u1 - u0 + s1 - s0) / mb : 0.0);
}

static int produce(natsConnection *nc, const char *stream, int size, uint64_t count,
                   int64_t pending)
{
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.PublishAsync.MaxPending = pending;
    jo.PublishAsync.ErrHandler = on_publish_error;
    /* at `pending` unacknowledged a publish waits for room (by default it
     * gives up after 200 ms, which a busy machine can exceed) */
    jo.PublishAsync.StallWait = 60000;
    jsCtx *js = NULL;
    natsStatus s = natsConnection_JetStream(&js, nc, &jo);
    if (s != NATS_OK)
        return fail("JetStream context", s, 0);

    jsErrCode jerr = 0;
    js_DeleteStream(js, stream, NULL, &jerr); /* (usually absent: not an error) */
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.Name = stream;
    const char *subjects[1] = {stream};
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    jsStreamInfo *si = NULL;
    jerr = 0;
    s = js_AddStream(&si, js, &cfg, NULL, &jerr);
    if (s != NATS_OK) {
        jsCtx_Destroy(js);
        return fail("add stream", s, jerr);
    }
    jsStreamInfo_Destroy(si);

    char *value = malloc((size_t)size);
    if (!value) {
        jsCtx_Destroy(js);
        return 1;
    }
    for (int i = 0; i < size; i++)
        value[i] = (char)('a' + i % 26);

    double u0, s0;
    bench_cpu(RUSAGE_SELF, &u0, &s0);
    int64_t t0 = bench_now_ns();
    uint64_t sent = 0;
    for (; sent < count; sent++) {
        s = js_PublishAsync(js, stream, value, size, NULL);
        if (s != NATS_OK)
            break;
    }
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = 120000;
    natsStatus done = s == NATS_OK ? js_PublishAsyncComplete(js, &po) : s;
    print_result(sent, sent * (uint64_t)size, t0, u0, s0);
    printf(" errors=%" PRIu64 "\n", publish_errors);
    free(value);
    jsCtx_Destroy(js);
    if (done != NATS_OK)
        return fail("publish", done, 0);
    return publish_errors ? 1 : 0;
}

static int consume(natsConnection *nc, const char *stream, int batch, int ack_all)
{
    jsCtx *js = NULL;
    natsStatus s = natsConnection_JetStream(&js, nc, NULL);
    if (s != NATS_OK)
        return fail("JetStream context", s, 0);
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    s = js_GetStreamInfo(&si, js, stream, NULL, &jerr);
    if (s != NATS_OK) {
        jsCtx_Destroy(js);
        return fail("stream info", s, jerr);
    }
    uint64_t want = si->State.Msgs;
    jsStreamInfo_Destroy(si);

    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = stream;
    so.Config.AckPolicy = ack_all ? js_AckAll : js_AckNone;
    so.Config.DeliverPolicy = js_DeliverAll;
    if (ack_all)
        so.Config.MaxAckPending = (int64_t)batch * 4;

    double u0, s0;
    bench_cpu(RUSAGE_SELF, &u0, &s0);
    int64_t t0 = bench_now_ns();
    natsSubscription *sub = NULL;
    jerr = 0;
    s = js_PullSubscribe(&sub, js, stream, NULL, NULL, &so, &jerr);
    if (s != NATS_OK) {
        jsCtx_Destroy(js);
        return fail("pull subscribe", s, jerr);
    }
    /* a fetched batch waits in the subscription's queue: room for two */
    natsSubscription_SetPendingLimits(sub, batch * 2, -1);
    uint64_t records = 0, bytes = 0;
    int rc = 0;
    while (records < want) {
        natsMsgList list = {0};
        jerr = 0;
        s = natsSubscription_Fetch(&list, sub, batch, 10000, &jerr);
        if (s != NATS_OK) {
            rc = fail("fetch", s, jerr);
            break;
        }
        for (int i = 0; i < list.Count; i++)
            bytes += (uint64_t)natsMsg_GetDataLength(list.Msgs[i]);
        records += (uint64_t)list.Count;
        if (ack_all && list.Count > 0)
            natsMsg_Ack(list.Msgs[list.Count - 1], NULL);
        natsMsgList_Destroy(&list);
    }
    print_result(records, bytes, t0, u0, s0);
    printf("\n");
    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
    jsCtx_Destroy(js);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 4 || (strcmp(argv[2], "produce") == 0 && argc < 6) ||
        (strcmp(argv[2], "produce") != 0 && strcmp(argv[2], "consume") != 0)) {
        fprintf(stderr, "usage: nats_bench URL produce STREAM SIZE COUNT [pending=N]\n"
                        "       nats_bench URL consume STREAM [batch=N] [ack=none|all]\n");
        return 2;
    }
    int producing = strcmp(argv[2], "produce") == 0;
    int64_t pending = 4096;
    int batch = 8192, ack_all = 0;
    if (parse_opts(argc, argv, producing ? 6 : 4, producing ? &pending : NULL,
                   producing ? NULL : &batch, producing ? NULL : &ack_all) != 0 ||
        pending < 1 || batch < 1)
        return 2;
    int size = producing ? atoi(argv[4]) : 0;
    uint64_t count = producing ? strtoull(argv[5], NULL, 10) : 0;
    if (producing && (size < 1 || count < 1)) {
        fprintf(stderr, "nats_bench: SIZE and COUNT must be positive\n");
        return 2;
    }
    bench_malloc_keep();

    natsConnection *nc = NULL;
    natsStatus s = natsConnection_ConnectTo(&nc, argv[1]);
    if (s != NATS_OK)
        return fail("connect", s, 0);
    int rc = producing ? produce(nc, argv[3], size, count, pending)
                       : consume(nc, argv[3], batch, ack_all);
    natsConnection_Destroy(nc);
    nats_Close();
    return rc;
}
