#!/usr/bin/env bash
# The operations tools the tests need: promtool and prometheus, buildah, debootstrap and kcat (Debian packages); kustomize
# and syft (Go modules, pinned). Idempotent: does nothing when they are present. Go tools go to
# ~/.cache/mednet/bin.
set -euo pipefail

KUSTOMIZE_VERSION="${MEDNET_KUSTOMIZE_VERSION:-v5.8.1}"
SYFT_VERSION="${MEDNET_SYFT_VERSION:-v1.38.0}"
BIN_DIR="${MEDNET_CACHE_DIR:-$HOME/.cache/mednet}/bin"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v promtool >/dev/null || ! command -v prometheus >/dev/null; then
    echo "installing prometheus (promtool + server) with apt-get"
    as_root apt-get update -qq
    no_daemon=/usr/sbin/policy-rc.d
    if [ ! -e "$no_daemon" ]; then
        printf '#!/bin/sh\nexit 101\n' | as_root tee "$no_daemon" >/dev/null && as_root chmod +x "$no_daemon"
        trap 'as_root rm -f "$no_daemon"' EXIT
    fi
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends prometheus >/dev/null
    if command -v systemctl >/dev/null && systemctl is-active --quiet prometheus 2>/dev/null; then
        as_root systemctl disable --now prometheus >/dev/null 2>&1 || true
    fi
fi

if ! command -v buildah >/dev/null || ! command -v debootstrap >/dev/null; then
    echo "installing buildah and debootstrap with apt-get (the service images: deploy/images)"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends buildah debootstrap >/dev/null
fi

if ! command -v kcat >/dev/null; then
    echo "installing kcat with apt-get (the firm guide's kcat example: docs/examples)"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends kcat >/dev/null
fi

if [ ! -x /usr/bin/chromium ]; then
    echo "installing chromium with apt-get (the browser tests drive it headless through Playwright: tests/browser)"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi

GO="$(command -v go || echo /usr/local/go/bin/go)"
go_install() {  # go_install NAME PACKAGE VERSION: unless $BIN_DIR/NAME was built from PACKAGE's module at VERSION
    local name=$1 package=$2 version=$3
    if [ -x "$BIN_DIR/$name" ] && "$GO" version -m "$BIN_DIR/$name" 2>/dev/null | grep -qE "^\s+mod\s.*\s$version(\s|$)"; then
        return
    fi
    [ -x "$GO" ] || { echo "error: go 1.24+ is required to install $name (https://go.dev/dl)"; exit 1; }
    echo "installing $name $version into $BIN_DIR"
    mkdir -p "$BIN_DIR"
    GOBIN="$BIN_DIR" GOTOOLCHAIN=local "$GO" install "$package@$version"
}
go_install syft github.com/anchore/syft/cmd/syft "$SYFT_VERSION"

if [ ! -x "$BIN_DIR/kustomize" ] || ! "$BIN_DIR/kustomize" version 2>/dev/null | grep -q "${KUSTOMIZE_VERSION#v}"; then
    GO="$(command -v go || echo /usr/local/go/bin/go)"
    [ -x "$GO" ] || { echo "error: go 1.24+ is required to install kustomize (https://go.dev/dl)"; exit 1; }
    echo "installing kustomize $KUSTOMIZE_VERSION into $BIN_DIR"
    mkdir -p "$BIN_DIR"
    GOBIN="$BIN_DIR" GOTOOLCHAIN=local "$GO" install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
fi

ASYNCAPI_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/asyncapi"
if [ ! -f "$ASYNCAPI_DIR/node_modules/.package-lock.json" ] \
   || [ "$ASYNCAPI_DIR/package-lock.json" -nt "$ASYNCAPI_DIR/node_modules/.package-lock.json" ]; then
    command -v npm >/dev/null || { echo "error: node 20+ and npm are required (the AsyncAPI parser): apt-get install nodejs npm"; exit 1; }
    echo "installing @asyncapi/parser (npm ci) into $ASYNCAPI_DIR/node_modules"
    (cd "$ASYNCAPI_DIR" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
fi
