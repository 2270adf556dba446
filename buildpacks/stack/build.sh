#!/usr/bin/env bash
# Build the paas stack image (paas/stack:bookworm) without any registry:
#   1. debootstrap a minimal Debian 12 root and import it as paas/stack-base:bookworm
#   2. docker build ./Dockerfile on top of it (runtimes and build tools)
# Idempotent: does nothing when the image already carries this recipe's VERSION.
# Usage: build.sh [--force]
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
version=$(cat "$here/VERSION")
image=paas/stack:bookworm
base=paas/stack-base:bookworm
mirror=${PAAS_DEBIAN_MIRROR:-http://deb.debian.org/debian}

have=$(docker image inspect --format '{{ index .Config.Labels "paas.stack.version" }}' "$image" 2>/dev/null || true)
if [[ "${1:-}" != "--force" && "$have" == "$version" ]]; then
    echo "stack: $image is at version $version"
    exit 0
fi

if ! docker image inspect "$base" >/dev/null 2>&1 || [[ "${1:-}" == "--force" ]]; then
    rootfs=$(mktemp -d /var/tmp/paas-stack.XXXXXX)
    trap 'rm -rf "$rootfs"' EXIT
    echo "stack: debootstrap bookworm into $rootfs"
    debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 \
        || { tail -n 30 "$rootfs.log"; exit 1; }
    rm -f "$rootfs.log"
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    echo "stack: importing $base"
    tar -C "$rootfs" -c . | docker import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["/bin/bash"]' - "$base" >/dev/null
fi

echo "stack: building $image (version $version)"
docker build --quiet --label "paas.stack.version=$version" -t "$image" "$here" >/dev/null
echo "stack: $image is at version $version"
