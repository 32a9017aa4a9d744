/*
 * broker/http/console_reset.h — the web console's second action: resetting a
 * consumer group's committed offsets of one topic, on the group's coordinator
 * (docs/operations.md, "Actions"). Owns the request and answer format of
 * POST /api/actions/reset-offsets.
 */
#ifndef GREGOR_BROKER_HTTP_CONSOLE_RESET_H
#define GREGOR_BROKER_HTTP_CONSOLE_RESET_H

struct evhttp_request;

/* The evhttp callback; arg is the struct broker. Main thread. The group's
 * state and offsets are read and written on the group worker, whose answer
 * comes back to the main loop (event_base_once). */
void console_reset_cb(struct evhttp_request *r, void *arg);

#endif
