/*
 * broker/storage/io_throttle.h — a token bucket shared by the log cleaner
 * threads (log.cleaner.io.max.bytes.per.second): each read or write of the
 * cleaner takes its bytes first and sleeps while the bucket is in debt.
 * The bucket holds at most one second's worth of bytes.
 *
 * Threads: any; an internal mutex guards the bucket (sleeping is done
 * outside it).
 */
#ifndef GREGOR_BROKER_STORAGE_IO_THROTTLE_H
#define GREGOR_BROKER_STORAGE_IO_THROTTLE_H

#include "common/base.h"

struct io_throttle;

/* bytes_per_sec <= 0: unlimited. NULL: no memory. */
struct io_throttle *io_throttle_new(double bytes_per_sec);
void io_throttle_free(struct io_throttle *t);
void io_throttle_set_rate(struct io_throttle *t, double bytes_per_sec);
/* Takes n bytes, sleeping as long as the rate requires. NULL t: no-op. */
void io_throttle_take(struct io_throttle *t, int64_t n);
/* Microseconds slept in io_throttle_take() so far. */
int64_t io_throttle_slept_us(struct io_throttle *t);

#endif
