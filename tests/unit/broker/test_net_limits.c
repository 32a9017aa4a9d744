/*
 * tests/unit/broker/test_net_limits.c — connection admission (broker-wide,
 * per address, overrides, descriptor reserve) and the request memory pool
 * of broker/net/limits.c, including their accounting under threads.
 */
#include "broker/config/config.h"
#include "broker/net/limits.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <sys/resource.h>

static struct sockaddr_in v4(const char *ip)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    cr_assert_eq(inet_pton(AF_INET, ip, &a.sin_addr), 1);
    return a;
}

static enum net_admit admit(const char *ip, bool total, struct net_slot *slot)
{
    struct sockaddr_in a = v4(ip);
    return net_limits_admit(10, (struct sockaddr *)&a, total, slot);
}

static void configure(int32_t max_total, int32_t per_ip, int64_t pool)
{
    static const struct config_ip_override ov[] = {{"10.0.0.9", 0}, {"10.0.0.8", 4}};
    net_limits_configure(&(struct net_limits_config){.max_connections = max_total,
                                                     .max_per_ip = per_ip,
                                                     .overrides = ov,
                                                     .n_overrides = 2,
                                                     .pool_bytes = pool});
}

Test(net_limits, per_address_and_total_limits)
{
    configure(4, 2, -1);
    struct net_slot s[8];
    cr_assert_eq(admit("10.0.0.1", true, &s[0]), NET_ADMIT_OK);
    cr_assert_eq(admit("10.0.0.1", true, &s[1]), NET_ADMIT_OK);
    cr_assert_eq(admit("10.0.0.1", true, &s[2]), NET_REFUSE_IP);
    cr_assert_str_eq(s[2].ip, "10.0.0.1");
    cr_assert(!s[2].held);
    cr_assert_eq(admit("10.0.0.9", true, &s[2]), NET_REFUSE_IP, "override 0 refuses");
    cr_assert_eq(admit("10.0.0.8", true, &s[2]), NET_ADMIT_OK);
    cr_assert_eq(admit("10.0.0.8", true, &s[3]), NET_ADMIT_OK, "override 4 beats per-ip 2");
    cr_assert_eq(admit("10.0.0.8", true, &s[4]), NET_REFUSE_TOTAL, "4 counted connections");
    /* the inter-broker listener is not counted against max.connections */
    cr_assert_eq(admit("10.0.0.8", false, &s[4]), NET_ADMIT_OK);
    cr_assert_eq(net_limits_open(), 5);
    net_limits_release(&s[0]);
    net_limits_release(&s[0]); /* a second release is a no-op */
    cr_assert_eq(admit("10.0.0.1", true, &s[0]), NET_ADMIT_OK, "a released slot is reusable");
    for (int i = 0; i < 5; i++)
        net_limits_release(&s[i]);
    net_limits_release(&s[1]);
    cr_assert_eq(net_limits_open(), 0);
}

Test(net_limits, ipv4_mapped_ipv6_counts_as_ipv4)
{
    configure(100, 1, -1);
    struct net_slot a, b;
    cr_assert_eq(admit("10.0.0.1", true, &a), NET_ADMIT_OK);
    struct sockaddr_in6 m = {.sin6_family = AF_INET6};
    cr_assert_eq(inet_pton(AF_INET6, "::ffff:10.0.0.1", &m.sin6_addr), 1);
    cr_assert_eq(net_limits_admit(10, (struct sockaddr *)&m, true, &b), NET_REFUSE_IP);
    cr_assert_str_eq(b.ip, "10.0.0.1");
    net_limits_release(&a);
}

Test(net_limits, descriptor_reserve)
{
    struct rlimit rl = {512, 512};
    struct rlimit old;
    getrlimit(RLIMIT_NOFILE, &old);
    if (old.rlim_max < 512)
        rl.rlim_max = old.rlim_max;
    rl.rlim_cur = rl.rlim_max < 512 ? rl.rlim_max : 512;
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    configure(INT32_MAX, INT32_MAX, -1);
    int reserve = net_limits_fd_reserve();
    cr_assert_eq(reserve, 51, "a tenth of 512");
    struct sockaddr_in a = v4("10.0.0.1");
    struct net_slot s;
    cr_assert_eq(net_limits_admit(512 - reserve, (struct sockaddr *)&a, true, &s), NET_REFUSE_FDS);
    cr_assert_eq(net_limits_admit(512 - reserve - 1, (struct sockaddr *)&a, true, &s),
                 NET_ADMIT_OK);
    net_limits_release(&s);
}

Test(net_limits, pool_admits_while_room_or_when_empty)
{
    configure(INT32_MAX, INT32_MAX, 100);
    cr_assert(net_pool_reserve(60));
    cr_assert(net_pool_reserve(40), "exactly full is allowed");
    cr_assert(!net_pool_reserve(1));
    net_pool_release(40);
    cr_assert(!net_pool_reserve(41));
    net_pool_release(60);
    cr_assert_eq(net_pool_used(), 0);
    cr_assert(net_pool_reserve(150), "larger than the pool: admitted alone");
    cr_assert(!net_pool_reserve(1));
    net_pool_release(150);
    cr_assert_eq(net_pool_used(), 0);
}

static void *churn(void *arg)
{
    const char *ip = arg;
    for (int i = 0; i < 20000; i++) {
        struct net_slot s;
        if (admit(ip, true, &s) == NET_ADMIT_OK)
            net_limits_release(&s);
        if (net_pool_reserve(7))
            net_pool_release(7);
    }
    return NULL;
}

Test(net_limits, accounting_is_exact_across_threads)
{
    configure(3, 2, 20);
    static const char *ips[] = {"10.1.0.1", "10.1.0.2", "10.1.0.1", "10.1.0.3"};
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, churn, (void *)ips[i]), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    cr_assert_eq(net_limits_open(), 0);
    cr_assert_eq(net_pool_used(), 0);
    /* the limits still hold exactly after the churn */
    struct net_slot s[4];
    cr_assert_eq(admit("10.1.0.1", true, &s[0]), NET_ADMIT_OK);
    cr_assert_eq(admit("10.1.0.1", true, &s[1]), NET_ADMIT_OK);
    cr_assert_eq(admit("10.1.0.2", true, &s[2]), NET_ADMIT_OK);
    cr_assert_eq(admit("10.1.0.3", true, &s[3]), NET_REFUSE_TOTAL);
    for (int i = 0; i < 3; i++)
        net_limits_release(&s[i]);
}
