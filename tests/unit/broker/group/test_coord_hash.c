/*
 * tests/unit/broker/group/test_coord_hash.c — Java String.hashCode over UTF-8 input and the
 * group -> `__consumer_offsets` partition mapping (broker/group/coord_hash.c). Expected values
 * are Java's, computed outside the code under test (h = 31*h + c over UTF-16 code units with
 * int32 wrap-around, e.g. by a python one-liner over s.encode('utf-16-be')).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "broker/group/coord_hash.h"

static int32_t jhash(const char *s) { return coord_java_hash(s, strlen(s)); }

Test(coord_hash, empty_string_hashes_to_zero)
{
    cr_assert_eq(jhash(""), 0);
    cr_assert_eq(coord_partition_for("", 0, 50), 0);
}

Test(coord_hash, ascii_matches_java)
{
    cr_assert_eq(jhash("a"), 97);
    cr_assert_eq(jhash("my-group"), -1906497762);
    cr_assert_eq(jhash("console-consumer-12345"), 158455506);
    cr_assert_eq(jhash("abcdefghijklmnopqrstuvwxyz"), 958031277);
}

Test(coord_hash, bmp_characters_hash_as_one_code_unit)
{
    cr_assert_eq(jhash("gr\xc3\xbc"
                       "ppe"),
                 -1233264812); /* grüppe */
    /* 日本語グループ: three-byte UTF-8 sequences */
    cr_assert_eq(jhash("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x82\xb0\xe3\x83\xab\xe3\x83\xbc"
                       "\xe3\x83\x97"),
                 -305235731);
}

Test(coord_hash, non_bmp_characters_hash_as_surrogate_pairs)
{
    /* "g😀x": U+1F600 is D83D DE00 in UTF-16 */
    cr_assert_eq(jhash("g\xf0\x9f\x98\x80x"), 58028462);
    int32_t h = 'g';
    h = 31 * h + 0xD83D;
    h = 31 * h + 0xDE00;
    h = 31 * h + 'x';
    cr_assert_eq(jhash("g\xf0\x9f\x98\x80x"), h);
}

Test(coord_hash, partition_is_abs_hash_mod_partitions)
{
    /* Kafka's Utils.abs is Math.abs (INT_MIN -> 0), not a sign-bit mask: "my-group"
     * (hashCode -1906497762) lives on partition 1906497762 % 50 = 12 of a Kafka cluster
     * (masking would give 240985886 % 50 = 36). */
    cr_assert_eq(coord_partition_for("my-group", 8, 50), 12);
    cr_assert_eq(coord_partition_for("my-group", 8, 10), 2);
    cr_assert_eq(coord_partition_for("kafka-txn-0", 11, 50), 30); /* hashCode -1469191130 */
    cr_assert_eq(coord_partition_for("console-consumer-12345", 22, 50), 6);
    cr_assert_eq(coord_partition_for("a", 1, 50), 47);
    cr_assert_eq(coord_partition_for("g\xf0\x9f\x98\x80x", 6, 50), 12);
    cr_assert_eq(coord_partition_for("my-group", 8, 1), 0);
}

Test(coord_hash, int_min_hash_maps_like_kafka_utils_abs)
{
    /* "polygenelubricants".hashCode() == Integer.MIN_VALUE, which Math.abs leaves negative:
     * Utils.abs maps it to 0, so the partition is 0 */
    cr_assert_eq(jhash("polygenelubricants"), INT32_MIN);
    cr_assert_eq(coord_partition_for("polygenelubricants", 18, 50), 0);
    cr_assert_eq(coord_partition_for("polygenelubricants", 18, 7), 0);
}

Test(coord_hash, invalid_utf8_hashes_as_replacement_character)
{
    cr_assert_eq(coord_java_hash("\xff", 1), 0xFFFD);
    cr_assert_eq(coord_java_hash("\xc3", 1), 0xFFFD);                   /* truncated sequence */
    cr_assert_eq(coord_java_hash("\xc0\x80", 2), 31 * 0xFFFD + 0xFFFD); /* overlong NUL */
}
