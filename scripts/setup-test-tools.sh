#!/usr/bin/env bash
# Test tools, installed once into a cache: the job-queue client libraries
# sidewatch-queue's tests enqueue with (RQ and Celery from PyPI, BullMQ from
# npm), and the operator kit's validators (yamllint, kubernetes-validate).
set -euo pipefail
dest=${SIDEWATCH_QUEUE_LIBS:-$HOME/.cache/sidewatch/queue-libs}
mkdir -p "$dest"
if [ ! -f "$dest/py/.done" ]; then
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target "$dest/py" \
    'rq>=1.16' 'celery>=5.3' packaging
  touch "$dest/py/.done"
fi
if [ ! -f "$dest/node/.done" ]; then
  command -v npm >/dev/null || { echo "npm is required (Node.js)" >&2; exit 1; }
  mkdir -p "$dest/node"
  npm install --silent --no-audit --no-fund --prefix "$dest/node" 'bullmq@5'
  touch "$dest/node/.done"
fi
echo "queue libraries in $dest"

# The operator kit's validator yamllint (docker-compose comes with
# scripts/setup-docker.sh).
tools=${SIDEWATCH_KIT_TOOLS:-$HOME/.cache/sidewatch/kit-tools}
mkdir -p "$tools"
if [ ! -f "$tools/py/.done" ]; then
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
    --target "$tools/py" yamllint
  touch "$tools/py/.done"
fi
# The Kubernetes manifests' validator: the API schemas of every supported
# Kubernetes release, bundled (deploy/kubernetes; testkit/kubernetes/validate.py).
if [ ! -f "$tools/k8s/.done" ]; then
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
    --target "$tools/k8s" 'kubernetes-validate==1.37.0'
  touch "$tools/k8s/.done"
fi
echo "kit tools in $tools"
