/*
 * broker/kafka/request.c — the parts of struct req (request.h) that handlers
 * call: attaching segment bytes to a response, and completing a pending
 * request from any thread (the connection's loop then sends it).
 */
#include "broker/kafka/request.h"
#include "common/loop/worker.h"
#include "common/say.h"
#include "common/vec.h"

#include <unistd.h>

bool req_add_file(struct req *req, int fd, int64_t pos, int64_t len)
{
    if (!VEC_RESERVE_AT(req->files, req->cap_files, (size_t)req->n_files + 1)) {
        close(fd);
        return false;
    }
    req->files[req->n_files++] = (struct req_file){req->out.len, fd, pos, len};
    req->files_len += len;
    return true;
}

void req_complete(struct req *req)
{
    if (!worker_post(req->worker, req->complete_job, req))
        say_error("net", "cannot post completion: out of memory");
}

struct event_base *req_base(struct req *req) { return worker_base(req->worker); }
