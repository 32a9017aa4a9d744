/* tests/unit/common/test_cleanup_policy.c — the shared cleanup.policy rule
 * (common/cleanup_policy.c). */
#include "common/cleanup_policy.h"

#include <criterion/criterion.h>

Test(cleanup_policy, single_words)
{
    cr_assert_eq(cleanup_policy_parse("delete"), CLEANUP_DELETE);
    cr_assert_eq(cleanup_policy_parse("compact"), CLEANUP_COMPACT);
}

Test(cleanup_policy, both_in_either_order)
{
    cr_assert_eq(cleanup_policy_parse("delete,compact"), CLEANUP_DELETE | CLEANUP_COMPACT);
    cr_assert_eq(cleanup_policy_parse("compact,delete"), CLEANUP_DELETE | CLEANUP_COMPACT);
}

Test(cleanup_policy, blanks_around_items_are_allowed)
{
    cr_assert_eq(cleanup_policy_parse(" compact , delete "), CLEANUP_DELETE | CLEANUP_COMPACT);
    cr_assert_eq(cleanup_policy_parse("\tdelete\n"), CLEANUP_DELETE);
    cr_assert_eq(cleanup_policy_parse("compact  ,delete"), CLEANUP_DELETE | CLEANUP_COMPACT);
}

Test(cleanup_policy, empty_items_are_refused)
{
    const char *bad[] = {
        "", " ", ",", "delete,", ",compact", "delete,,compact", "delete, ,compact"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(cleanup_policy_parse(bad[i]), 0, "'%s'", bad[i]);
}

Test(cleanup_policy, other_words_are_refused)
{
    /* a substring match would take the first three as compact */
    const char *bad[] = {"compacted", "nocompact", "compact-delete", "Delete",  "COMPACT",
                         "remove",    "del ete",   "delete compact", "deletes", "delet"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(cleanup_policy_parse(bad[i]), 0, "'%s'", bad[i]);
}

Test(cleanup_policy, a_word_given_twice_is_refused)
{
    cr_assert_eq(cleanup_policy_parse("delete,delete"), 0);
    cr_assert_eq(cleanup_policy_parse("compact, compact"), 0);
    cr_assert_eq(cleanup_policy_parse("delete,compact,delete"), 0);
}

Test(cleanup_policy, null_is_refused) { cr_assert_eq(cleanup_policy_parse(NULL), 0); }

Test(cleanup_policy, canonical_names)
{
    cr_assert_str_eq(cleanup_policy_name(CLEANUP_DELETE), "delete");
    cr_assert_str_eq(cleanup_policy_name(CLEANUP_COMPACT), "compact");
    cr_assert_str_eq(cleanup_policy_name(CLEANUP_DELETE | CLEANUP_COMPACT), "delete,compact");
    cr_assert_str_eq(cleanup_policy_name(0), "");
    cr_assert_eq(cleanup_policy_parse(cleanup_policy_name(CLEANUP_COMPACT | CLEANUP_DELETE)),
                 CLEANUP_DELETE | CLEANUP_COMPACT);
}
