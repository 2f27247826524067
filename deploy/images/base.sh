#!/usr/bin/env bash
# The local base image, for machines where no registry serves python:3.11-slim: Debian bookworm (Python 3.11) made
# with debootstrap and imported into buildah as $MEDNET_BASE_IMAGE. Cached: the rootfs tarball lives in
# ~/.cache/mednet/images and is rebuilt only when the suite or the package list changes; the import is skipped when
# buildah already has that base.
set -euo pipefail

SUITE=bookworm
MIRROR="${MEDNET_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
IMAGE="${MEDNET_BASE_IMAGE:-localhost/mednet-base:bookworm}"
CACHE="${MEDNET_CACHE_DIR:-$HOME/.cache/mednet}/images"
PACKAGES=python3,python3-venv,ca-certificates,tzdata
RECIPE=2  # bump when the rootfs is made differently
DIGEST=$(echo "$SUITE $PACKAGES $RECIPE" | sha256sum | cut -c1-16)
TARBALL="$CACHE/base-$SUITE-$DIGEST.tar"

if buildah inspect --type image "$IMAGE" >/dev/null 2>&1 \
   && [ "$(buildah inspect --type image --format '{{index .ImageAnnotations "org.mednet.base.digest"}}' "$IMAGE")" = "$DIGEST" ]; then
    exit 0
fi
mkdir -p "$CACHE"
if [ ! -s "$TARBALL" ]; then
    rm -rf "$CACHE"/rootfs.*
    rootfs=$(mktemp -d "$CACHE/rootfs.XXXXXX")
    echo "debootstrap $SUITE (minbase + $PACKAGES) into $rootfs"
    debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$rootfs" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 \
        || { tail -20 "$CACHE/debootstrap.log"; echo "error: debootstrap failed (log: $CACHE/debootstrap.log)"; exit 1; }
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* \
           "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/* "$rootfs"/var/log/*.log
    tar --numeric-owner -C "$rootfs" -cf "$TARBALL.part" . && mv "$TARBALL.part" "$TARBALL"
    rm -rf "$rootfs"
    find "$CACHE" -maxdepth 1 -name "base-$SUITE-*.tar" ! -name "$(basename "$TARBALL")" -delete
fi
container=$(buildah from scratch)
trap 'buildah rm "$container" >/dev/null 2>&1 || true' EXIT
mount=$(buildah mount "$container")
tar --numeric-owner -C "$mount" -xf "$TARBALL"
buildah umount "$container" >/dev/null
buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --env LANG=C.UTF-8 \
    --cmd /bin/bash --annotation "org.mednet.base.digest=$DIGEST" \
    --annotation "org.opencontainers.image.description=Debian $SUITE minbase with Python 3 (debootstrap)" "$container"
buildah commit --quiet --rm "$container" "$IMAGE" >/dev/null
trap - EXIT
echo "base image $IMAGE ($(buildah inspect --type image --format '{{.FromImageID}}' "$IMAGE" | cut -c1-12))"
