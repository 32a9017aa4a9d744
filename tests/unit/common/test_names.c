/* tests/unit/common/test_names.c — the shared topic-name rule (common/names.c). */
#include "common/names.h"

#include <criterion/criterion.h>
#include <string.h>

Test(names, legal_names)
{
    const char *ok[] = {"a",  "A",   "0", "orders", "my-topic_1.v2", "__consumer_offsets", "...",
                        ".a", "..a", "-", "_"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        cr_assert(topic_name_legal(ok[i], strlen(ok[i])), "%s", ok[i]);
        cr_assert(topic_name_legal_z(ok[i]), "%s", ok[i]);
    }
}

Test(names, illegal_names)
{
    const char *bad[] = {"",    ".",  "..",  "a b", "a/b", "a\\b", "a:b", "t\xc3\xa9",
                         "a\n", "a*", "a+b", "a,b", "a@b", "\x7f", "a#"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_not(topic_name_legal(bad[i], strlen(bad[i])), "'%s'", bad[i]);
        cr_assert_not(topic_name_legal_z(bad[i]), "'%s'", bad[i]);
    }
    cr_assert_not(topic_name_legal_z(NULL));
    cr_assert_not(topic_name_legal(NULL, 3));
}

Test(names, nul_inside_the_length_is_illegal_not_truncated)
{
    cr_assert_not(topic_name_legal("abc\0def", 7));
    cr_assert_not(topic_name_legal("abc\0", 4));
    cr_assert_not(topic_name_legal("\0", 1));
    /* the same bytes up to the NUL are legal: only the length decides */
    cr_assert(topic_name_legal("abc\0def", 3));
}

Test(names, length_limit_is_249_bytes)
{
    char name[300];
    memset(name, 'x', sizeof(name));
    cr_assert(topic_name_legal(name, 1));
    cr_assert(topic_name_legal(name, TOPIC_NAME_MAX_LEN));
    cr_assert_eq(TOPIC_NAME_MAX_LEN, 249);
    cr_assert_not(topic_name_legal(name, 250));
    cr_assert_not(topic_name_legal(name, sizeof(name)));
    name[249] = '\0';
    cr_assert(topic_name_legal_z(name));
    name[249] = 'x';
    name[250] = '\0';
    cr_assert_not(topic_name_legal_z(name));
}

Test(names, every_single_byte)
{
    for (int c = 0; c < 256; c++) {
        char s[2] = {(char)c, 'a'};
        bool want = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
        cr_assert_eq(topic_name_legal(s, 2), want, "byte 0x%02x", c);
    }
}

Test(names, problem_says_why)
{
    cr_assert_null(topic_name_problem("ok", 2));
    cr_assert_str_eq(topic_name_problem("", 0), "is empty");
    cr_assert_str_eq(topic_name_problem(".", 1), "cannot be \".\" or \"..\"");
    cr_assert_str_eq(topic_name_problem("a\0b", 3), "contains a byte outside [a-zA-Z0-9._-]");
    char name[250];
    memset(name, 'y', sizeof(name));
    cr_assert_str_eq(topic_name_problem(name, 250), "is longer than 249 bytes");
}
