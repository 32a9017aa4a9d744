/*
 * broker/replication/throttle.c — the windowed byte-rate meter of the
 * replication throttles (throttle.h).
 */
#include "broker/replication/throttle.h"

void throttle_meter_init(struct throttle_meter *m, int n_samples, int64_t sample_ms)
{
    *m = (struct throttle_meter){0};
    pthread_mutex_init(&m->lock, NULL);
    m->n_samples = n_samples < 1                      ? 1
                   : n_samples > THROTTLE_MAX_SAMPLES ? THROTTLE_MAX_SAMPLES
                                                      : n_samples;
    m->sample_ms = sample_ms < 1 ? 1 : sample_ms;
    for (int i = 0; i < THROTTLE_MAX_SAMPLES; i++)
        m->s[i].start_ms = INT64_MIN;
}

void throttle_meter_destroy(struct throttle_meter *m) { pthread_mutex_destroy(&m->lock); }

/* A sample still inside the window at now. */
static bool live_locked(const struct throttle_meter *m, int i, int64_t now)
{
    return m->s[i].start_ms != INT64_MIN &&
           now - m->s[i].start_ms < m->sample_ms * (int64_t)m->n_samples;
}

void throttle_meter_record(struct throttle_meter *m, int64_t bytes, int64_t now_ms)
{
    if (bytes <= 0)
        return;
    pthread_mutex_lock(&m->lock);
    if (m->s[m->cur].start_ms == INT64_MIN || now_ms - m->s[m->cur].start_ms >= m->sample_ms) {
        m->cur = (m->cur + 1) % m->n_samples;
        m->s[m->cur].start_ms = now_ms;
        m->s[m->cur].bytes = 0;
    }
    m->s[m->cur].bytes += bytes;
    m->bytes_total += (uint64_t)bytes;
    pthread_mutex_unlock(&m->lock);
}

static int64_t rate_locked(const struct throttle_meter *m, int64_t now)
{
    int64_t bytes = 0, oldest = now;
    for (int i = 0; i < m->n_samples; i++) {
        if (!live_locked(m, i, now))
            continue;
        bytes += m->s[i].bytes;
        if (m->s[i].start_ms < oldest)
            oldest = m->s[i].start_ms;
    }
    int64_t elapsed = now - oldest;
    if (elapsed < m->sample_ms)
        elapsed = m->sample_ms;
    return (int64_t)((double)bytes * 1000.0 / (double)elapsed);
}

int64_t throttle_meter_rate(struct throttle_meter *m, int64_t now_ms)
{
    pthread_mutex_lock(&m->lock);
    int64_t r = rate_locked(m, now_ms);
    pthread_mutex_unlock(&m->lock);
    return r;
}

bool throttle_meter_exceeded(struct throttle_meter *m, int64_t limit, int64_t now_ms)
{
    pthread_mutex_lock(&m->lock);
    bool over = limit != INT64_MAX && rate_locked(m, now_ms) > limit;
    /* what the last check held back stayed held until this one */
    if (m->over && now_ms > m->last_check_ms) {
        int64_t gap = now_ms - m->last_check_ms;
        m->over_total_ms += gap < m->sample_ms ? gap : m->sample_ms;
    }
    if (over)
        m->holds++;
    m->over = over;
    m->last_check_ms = now_ms;
    pthread_mutex_unlock(&m->lock);
    return over;
}

void throttle_meter_stats(struct throttle_meter *m, int64_t now_ms, struct throttle_stats *out)
{
    pthread_mutex_lock(&m->lock);
    out->rate = rate_locked(m, now_ms);
    out->bytes_total = m->bytes_total;
    out->holds = m->holds;
    out->throttled_ms = m->over_total_ms;
    pthread_mutex_unlock(&m->lock);
}
