#!/usr/bin/env bash
# Makes the certificates docker-compose.yml mounts: a private CA, and one directory per service under
# deploy/compose/tls, each mounted into that service alone (at /etc/scim-connector/tls; Redis at /tls):
#
#   ca.crt, ca.key   the CA (nothing mounts deploy/compose/tls itself, so ca.key stays on the host)
#   gateway/         tls.crt, tls.key (gateway-1, gateway-2, localhost); client.crt, client.key (the
#                    gateways' client certificate for the adapter's mutual TLS); ca.crt
#   adapter/         tls.crt, tls.key (adapter); ca.crt
#   audit/           tls.crt, tls.key (audit, localhost); ca.crt
#   sim/             tls.crt, tls.key (sim, localhost); ca.crt
#   redis/           tls.crt, tls.key (redis); ca.crt
#
# Each server certificate names its own service only, so that one service's key cannot answer as another.
#
#   scripts/compose-tls.sh            # first time: a new CA and new certificates
#   scripts/compose-tls.sh --renew    # rotation: new certificates from the same CA; the connector's
#                                     # services pick them up within seconds (Redis: restart it)
#
# deploy/compose/tls is mode 700, so that on the host only its owner reaches a key. The containers run as
# users of their own (65532, Redis 999) and reach only their directory, through its bind mount: in it the
# files are readable by all (644), which is what lets those users read them. In Kubernetes use the
# cert-manager example under deploy/k8s/examples instead. COMPOSE_TLS_DIR writes somewhere else.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${COMPOSE_TLS_DIR:-deploy/compose/tls}
days=${DAYS:-90}
umask 077
mkdir -p "$dir"
chmod 700 "$dir"

if [ "${1:-}" != "--renew" ] || [ ! -f "$dir/ca.key" ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
        -subj "/CN=scim-connector compose CA" -keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null
fi
chmod 600 "$dir/ca.key"
chmod 644 "$dir/ca.crt"

# Each file is replaced by a rename, so a service never reads a half-written one.
place() { # file, destination
    chmod 644 "$1"
    mv "$1" "$2"
}

issue() { # common name, subjectAltName, extendedKeyUsage, destination without .crt/.key
    local tmp
    tmp=$(mktemp -d)
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" \
        -keyout "$tmp/key" -out "$tmp/csr" 2>/dev/null
    printf 'subjectAltName=%s\nextendedKeyUsage=%s\nbasicConstraints=CA:FALSE\n' "$2" "$3" >"$tmp/ext"
    openssl x509 -req -in "$tmp/csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial -days "$days" \
        -extfile "$tmp/ext" -out "$tmp/crt" 2>/dev/null
    place "$tmp/crt" "$dir/$4.crt"
    place "$tmp/key" "$dir/$4.key"
    rm -rf "$tmp"
}

for service in gateway adapter audit sim redis; do
    mkdir -p "$dir/$service"
    chmod 755 "$dir/$service"
    cp "$dir/ca.crt" "$dir/$service/.ca.crt.new"
    place "$dir/$service/.ca.crt.new" "$dir/$service/ca.crt"
done
local_names="DNS:localhost,IP:127.0.0.1"
issue scim-gateway "DNS:gateway-1,DNS:gateway-2,$local_names" serverAuth gateway/tls
issue scim-gateway "DNS:scim-gateway" clientAuth gateway/client
issue scim-adapter "DNS:adapter" serverAuth adapter/tls
issue scim-audit "DNS:audit,$local_names" serverAuth audit/tls
issue secret-server-sim "DNS:sim,$local_names" serverAuth sim/tls
issue redis "DNS:redis" serverAuth redis/tls
# The former layout (one certificate for every service, every file mounted everywhere).
rm -f "$dir/tls.crt" "$dir/tls.key" "$dir/client.crt" "$dir/client.key"
echo "certificates in $dir/<service> (valid $days days; CA: $dir/ca.crt)"
