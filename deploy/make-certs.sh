#!/bin/sh
# deploy/make-certs.sh DIR [HOST...] — a small certificate authority and the
# PEM files a TLS cluster and its clients need (docs/security.md), made with
# the openssl command:
#
#   DIR/ca.pem, DIR/ca.key           the CA (ssl.truststore.location; clients' CA file)
#   DIR/broker.pem                   broker certificate + chain + key in one file
#                                    (ssl.keystore.location); subject CN=broker,
#                                    SAN: localhost, 127.0.0.1, ::1 and every HOST
#   DIR/broker.crt, DIR/broker.key   the same, separately
#   DIR/<user>.crt, DIR/<user>.key   client certificates for mutual TLS, for the
#   DIR/<user>.pem                   users admin and alice (subject
#                                    CN=<user>,OU=clients,O=Gregor; .pem = both)
#
# Keys are unencrypted RSA 2048 (keep DIR private); certificates last 825
# days. Running it again over an existing DIR makes new certificates signed
# by the CA already there.
set -eu
[ $# -ge 1 ] || { echo "usage: $0 DIR [HOST...]" >&2; exit 2; }
dir=$1
shift
mkdir -p "$dir"
umask 077
days=825

if [ ! -f "$dir/ca.key" ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
        -subj "/O=Gregor/CN=Gregor test CA" \
        -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
fi

san="DNS:localhost,IP:127.0.0.1,IP:::1"
for h in "$@"; do
    case $h in
        *[!0-9.]*) case $h in *:*) san="$san,IP:$h" ;; *) san="$san,DNS:$h" ;; esac ;;
        *) san="$san,IP:$h" ;;
    esac
done

# sign NAME SUBJECT EXTENSIONS
sign() {
    openssl req -newkey rsa:2048 -nodes -sha256 -subj "$2" \
        -keyout "$dir/$1.key" -out "$dir/$1.csr" 2>/dev/null
    printf '%s\n' "$3" > "$dir/$1.ext"
    openssl x509 -req -in "$dir/$1.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
        -CAcreateserial -days $days -sha256 -extfile "$dir/$1.ext" \
        -out "$dir/$1.crt" 2>/dev/null
    cat "$dir/$1.crt" "$dir/$1.key" > "$dir/$1.pem"
    rm -f "$dir/$1.csr" "$dir/$1.ext"
}

sign broker "/O=Gregor/CN=broker" \
    "subjectAltName=$san
extendedKeyUsage=serverAuth,clientAuth
keyUsage=digitalSignature,keyEncipherment"
for user in admin alice; do
    sign "$user" "/O=Gregor/OU=clients/CN=$user" \
        "extendedKeyUsage=clientAuth
keyUsage=digitalSignature,keyEncipherment"
done
chmod 644 "$dir/ca.pem" "$dir"/*.crt
echo "certificates in $dir: ca.pem, broker.pem (SAN $san), admin.pem, alice.pem"
