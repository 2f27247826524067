#!/usr/bin/env bash
# `make images`: every service's image (each services/*/Dockerfile) built with buildah on the local debootstrap
# base, labelled with its version and git revision, and an SBOM per image (syft, CycloneDX JSON) written to
# $MEDNET_CACHE_DIR/images/sbom. Usage: build.sh [service ...] (default: all). Fails on the first image that does not build.
set -euo pipefail
cd "$(dirname "$0")/../.."

CACHE="${MEDNET_CACHE_DIR:-$HOME/.cache/mednet}"
export MEDNET_BASE_IMAGE="${MEDNET_BASE_IMAGE:-localhost/mednet-base:bookworm}"
SBOM_DIR="$CACHE/images/sbom"
SYFT="$CACHE/bin/syft"
TAG="${MEDNET_IMAGE_TAG:-local}"

for tool in buildah debootstrap "$SYFT"; do
    command -v "$tool" >/dev/null || { echo "error: $tool is missing: run deploy/tools/install-tools.sh"; exit 1; }
done
bash deploy/images/base.sh

revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
[ -z "$(git status --porcelain -- shared services constraints.txt 2>/dev/null)" ] || revision="$revision-dirty"
if [ $# -gt 0 ]; then services=("$@"); else
    services=(); for dockerfile in services/*/Dockerfile; do services+=("$(basename "$(dirname "$dockerfile")")"); done
fi
mkdir -p "$SBOM_DIR"
# The host's CA bundle and pip configuration are lent to the build steps (bind mounts, never committed), so a build
# behind a TLS-inspecting proxy or with a private index works as pip does on the host.
lent=()
[ -f /etc/ssl/certs/ca-certificates.crt ] && lent+=(-v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro)
[ -f /etc/pip.conf ] && lent+=(-v /etc/pip.conf:/etc/pip.conf:ro)
for service in "${services[@]}"; do
    dockerfile="services/$service/Dockerfile"
    [ -f "$dockerfile" ] || { echo "error: no $dockerfile"; exit 1; }
    version=$(python3 -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["project"]["version"])' \
        "services/$service/pyproject.toml")
    image="localhost/mednet-$service:$TAG"
    started=$(date +%s)
    buildah bud --quiet --isolation chroot --format docker --layers --ignorefile deploy/images/containerignore "${lent[@]}" \
        --build-arg "BASE_IMAGE=$MEDNET_BASE_IMAGE" --build-arg "VERSION=$version" --build-arg "REVISION=$revision" \
        -f "$dockerfile" -t "$image" -t "localhost/mednet-$service:$version" . >/dev/null \
        || { echo "error: $dockerfile does not build"; exit 1; }
    container=$(buildah from --pull-never "$image")
    trap 'buildah rm "$container" >/dev/null 2>&1 || true' EXIT
    root=$(buildah mount "$container")
    SYFT_FILE_METADATA_SELECTION=none SYFT_CHECK_FOR_APP_UPDATE=false \
        "$SYFT" scan --quiet "dir:$root" --base-path "$root" --source-name "mednet-$service" --source-version "$version" \
        -o "cyclonedx-json=$SBOM_DIR/mednet-$service.cdx.json"
    buildah umount "$container" >/dev/null && buildah rm "$container" >/dev/null && trap - EXIT
    size=$(buildah images --format '{{.Size}}' "$image" | sed -n 1p)
    echo "$image: $size, built in $(( $(date +%s) - started ))s, SBOM $SBOM_DIR/mednet-$service.cdx.json"
done
