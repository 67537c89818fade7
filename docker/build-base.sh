#!/usr/bin/env bash
# Builds the image's base from Debian packages where no registry is reachable: a minimal
# bookworm root filesystem (debootstrap from the Debian mirror apt already uses), committed as a
# local image that `docker/Dockerfile` takes as its BASE. Python 3.11 is bookworm's python3, the
# same minor version as the python:3.11-slim-bookworm base used where a registry exists.
# Usage: docker/build-base.sh IMAGE_NAME WORKDIR
set -euo pipefail

image=${1:?image name}
workdir=${2:?work directory}
mirror=${DEBIAN_MIRROR:-$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)}
mirror=${mirror:-http://deb.debian.org/debian}
storage=(--storage-driver vfs)

if buildah "${storage[@]}" inspect --type image "$image" >/dev/null 2>&1; then
  echo "base image $image exists; remove it (buildah --storage-driver vfs rmi $image) to rebuild"
  exit 0
fi

rootfs=$workdir/rootfs
rm -rf "$rootfs"
mkdir -p "$workdir"
# minbase: dpkg, apt and essentials only; python3-venv brings ensurepip for the build stage's
# virtualenv; ca-certificates lets pip and apt reach HTTPS mirrors.
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
  bookworm "$rootfs" "$mirror"
# Debian's own cleanup: no package lists or downloaded .debs in the base.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb

container=$(buildah "${storage[@]}" from scratch)
trap 'buildah "${storage[@]}" rm "$container" >/dev/null 2>&1 || true' EXIT
mountpoint=$(buildah "${storage[@]}" mount "$container")
tar -C "$rootfs" -cf - . | tar -C "$mountpoint" -xf -
buildah "${storage[@]}" umount "$container" >/dev/null
buildah "${storage[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --env LANG=C.UTF-8 --cmd /bin/bash "$container"
buildah "${storage[@]}" commit --quiet "$container" "$image"
rm -rf "$rootfs"
echo "base image $image built from $mirror"
