/*
 * tests/unit/broker/test_tls_principal.c — ssl.principal.mapping.rules
 * (broker/net/tls_principal.c) and the RFC 2253 subject a client
 * certificate's principal is made of (tls_subject_dn(), broker/net/tls.c).
 */
#include <criterion/criterion.h>

#include "broker/net/tls.h"
#include "broker/net/tls_principal.h"

#include <openssl/x509.h>
#include <string.h>

static char why[256];

/* Maps dn with rules; "" when the list is refused, "(none)" when no rule matches. */
static const char *map(const char *rules_text, const char *dn)
{
    static char out[512];
    struct tls_rules *r = tls_rules_parse(rules_text, why, sizeof(why));
    if (!r)
        return "";
    if (!tls_rules_apply(r, dn, out, sizeof(out)))
        snprintf(out, sizeof(out), "(none)");
    tls_rules_free(r);
    return out;
}

Test(tls_principal, default_keeps_the_dn)
{
    cr_assert_str_eq(map("DEFAULT", "CN=alice,OU=eng,O=Acme"), "CN=alice,OU=eng,O=Acme");
}

Test(tls_principal, rules_apply_in_order_with_groups_and_case)
{
    const char *rules = "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,"
                        "RULE:^CN=(.*?),OU=(.*?),O=(.*?)$/$1@$2/L, DEFAULT";
    cr_assert_str_eq(map(rules, "CN=svc-orders,OU=ServiceUsers,O=Acme"), "svc-orders");
    cr_assert_str_eq(map(rules, "CN=Alice,OU=Eng,O=Acme"), "alice@eng");
    cr_assert_str_eq(map(rules, "CN=x"), "CN=x"); /* falls through to DEFAULT */
    cr_assert_str_eq(map("RULE:^CN=([a-z]+)$/$1/U", "CN=bob"), "BOB");
    /* the pattern must match the whole DN */
    cr_assert_str_eq(map("RULE:CN=([a-z]+)/$1/", "CN=bob,O=Acme"), "(none)");
    /* escaped slashes in pattern and replacement; newline separates rules too */
    cr_assert_str_eq(map("RULE:^CN=(.*)\\/x$/a\\/$1/\nDEFAULT", "CN=p/x"), "a/p");
}

Test(tls_principal, no_matching_rule_is_reported)
{
    cr_assert_str_eq(map("RULE:^CN=admin$/admin/", "CN=alice"), "(none)");
}

Test(tls_principal, bad_rule_lists_are_refused)
{
    cr_assert_str_eq(map("RULE:^CN=(.*)$/$1", "CN=a"), "");
    cr_assert(strstr(why, "closing") != NULL, "%s", why);
    cr_assert_str_eq(map("SOMETHING", "CN=a"), "");
    cr_assert(strstr(why, "invalid rule") != NULL, "%s", why);
    cr_assert_str_eq(map("RULE:^CN=(a$/x/", "CN=a"), "");
    cr_assert(strstr(why, "bad pattern") != NULL, "%s", why);
    cr_assert_str_eq(map("DEFAULT junk", "CN=a"), "");
    cr_assert_str_eq(map("", "CN=a"), "");
}

/* A certificate whose subject was built O, OU, CN (the order a CA writes
 * them) reads most specific first, as Java's X500Principal.getName(). */
Test(tls_principal, subject_is_rfc2253_most_specific_first)
{
    X509 *cert = X509_new();
    X509_NAME *name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"Acme", -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "OU", MBSTRING_ASC, (const unsigned char *)"eng", -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"alice", -1, -1, 0);
    char dn[256];
    cr_assert(tls_subject_dn(cert, dn, sizeof(dn)));
    cr_assert_str_eq(dn, "CN=alice,OU=eng,O=Acme");
    /* special characters are escaped as RFC 2253 says */
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"a,b+c", -1, -1, 0);
    cr_assert(tls_subject_dn(cert, dn, sizeof(dn)));
    cr_assert_str_eq(dn, "CN=a\\,b\\+c,CN=alice,OU=eng,O=Acme");
    cr_assert_not(tls_subject_dn(cert, dn, 8)); /* does not fit */
    X509_free(cert);
}
