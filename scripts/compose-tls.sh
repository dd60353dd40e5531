#!/usr/bin/env bash
# Makes the certificates docker-compose.yml mounts at /etc/scim-connector/tls (from deploy/compose/tls):
# a private CA, one server certificate for every service name (gateway-1, gateway-2, adapter, audit, sim,
# redis, localhost) and the gateway's client certificate for the adapter's mutual TLS.
#
#   scripts/compose-tls.sh            # first time: a new CA and new certificates
#   scripts/compose-tls.sh --renew    # rotation: new certificates from the same CA; the connector's
#                                     # services pick them up within seconds (Redis: restart it)
#
# The keys are made readable by the containers' user (65532): this directory is for one host's compose
# stack; in Kubernetes use the cert-manager example under deploy/k8s/examples instead.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=deploy/compose/tls
mkdir -p "$dir"
days=${DAYS:-90}

if [ "${1:-}" != "--renew" ] || [ ! -f "$dir/ca.key" ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
        -subj "/CN=scim-connector compose CA" -keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null
fi

issue() { # name, subjectAltName, extendedKeyUsage
    local tmp
    tmp=$(mktemp -d)
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" \
        -keyout "$tmp/key" -out "$tmp/csr" 2>/dev/null
    printf 'subjectAltName=%s\nextendedKeyUsage=%s\nbasicConstraints=CA:FALSE\n' "$2" "$3" >"$tmp/ext"
    openssl x509 -req -in "$tmp/csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial -days "$days" \
        -extfile "$tmp/ext" -out "$tmp/crt" 2>/dev/null
    chmod 644 "$tmp/key" "$tmp/crt"
    # Each file is replaced by a rename, so a service never reads a half-written one.
    mv "$tmp/crt" "$dir/$4.crt"
    mv "$tmp/key" "$dir/$4.key"
    rm -rf "$tmp"
}

issue scim-connector \
    "DNS:localhost,IP:127.0.0.1,DNS:gateway-1,DNS:gateway-2,DNS:adapter,DNS:audit,DNS:sim,DNS:redis" \
    serverAuth tls
issue scim-gateway "DNS:scim-gateway" clientAuth client
chmod 644 "$dir/ca.crt"
echo "certificates in $dir (valid $days days; CA: $dir/ca.crt)"
