/* tests/unit/cli/test_describe_fmt.c — the header line of `gregor topic
 * describe` (cli/describe_fmt.c): a Configs field that could not be read
 * says so instead of being empty. */
#include "cli/describe_fmt.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

Test(describe_fmt, known_overrides)
{
    struct describe_cfg c = {.known = true};
    snprintf(c.text, sizeof(c.text), "retention.ms=1000,segment.bytes=100000");
    char line[8192];
    describe_fmt_header(line, sizeof(line), "t1", 3, 2, &c);
    cr_assert_str_eq(line, "Topic: t1\tPartitionCount: 3\tReplicationFactor: 2\t"
                           "Configs: retention.ms=1000,segment.bytes=100000\n");
}

Test(describe_fmt, no_overrides_is_an_empty_field)
{
    struct describe_cfg c = {.known = true};
    char line[8192];
    describe_fmt_header(line, sizeof(line), "t", 1, 1, &c);
    cr_assert_str_eq(line, "Topic: t\tPartitionCount: 1\tReplicationFactor: 1\tConfigs: \n");
}

Test(describe_fmt, unavailable_configs_say_why)
{
    struct describe_cfg c = {.known = true};
    describe_cfg_unavailable(&c, "Broker: Request timed out");
    char line[8192];
    describe_fmt_header(line, sizeof(line), "t", 1, 1, &c);
    cr_assert_str_eq(line, "Topic: t\tPartitionCount: 1\tReplicationFactor: 1\t"
                           "Configs: (unavailable: Broker: Request timed out)\n");
    describe_cfg_unavailable(&c, NULL);
    describe_fmt_header(line, sizeof(line), "t", 1, 1, &c);
    cr_assert(strstr(line, "\tConfigs: (unavailable: no answer)\n"), "%s", line);
    describe_cfg_unavailable(&c, "");
    describe_fmt_header(line, sizeof(line), "t", 1, 1, &c);
    cr_assert(strstr(line, "\tConfigs: (unavailable: no answer)\n"), "%s", line);
}

Test(describe_fmt, a_zeroed_entry_is_unavailable_not_empty)
{
    struct describe_cfg c;
    memset(&c, 0, sizeof(c));
    describe_cfg_unavailable(&c, "no answer for this topic");
    char line[8192];
    describe_fmt_header(line, sizeof(line), "t", 1, 1, &c);
    cr_assert_null(strstr(line, "\tConfigs: \n"));
}
