/*
 * broker/core/log_manager.h — background work on the partition logs (docs/architecture.md
 * §5, §7): retention, time-based flush, and the per-log-dir checkpoint
 * files, on the broker's background worker so no network loop waits on
 * fsync or unlink.
 */
#ifndef GREGOR_BROKER_CORE_LOG_MANAGER_H
#define GREGOR_BROKER_CORE_LOG_MANAGER_H

struct broker;
struct partition;

/* Start-up, before topics are loaded: reads recovery-point-offset-checkpoint
 * and log-start-offset-checkpoint and sets b->recovery (-1 everywhere after
 * a clean shutdown, else the checkpointed point, else 0). Returns 0/-1. */
int log_manager_load(struct broker *b);
/* Start-up, after the topics are loaded: logs "loaded N partitions in X ms"
 * (N local logs, X since log_manager_load()). */
void log_manager_loaded(struct broker *b);
/* Start-up: applies the checkpointed log start offset to part. */
void log_manager_restore(struct broker *b, struct partition *part);
/* Starts the background worker and its timers. Returns 0/-1. */
int log_manager_start(struct broker *b);
/* Stops the timers and the worker, then writes both checkpoint files once
 * more (logs still open). Main thread, at shutdown. */
void log_manager_stop(struct broker *b);
/* Runs retention on every local log now (tests, admin). bg worker or start-up. */
void log_manager_retention_now(struct broker *b);

#endif
