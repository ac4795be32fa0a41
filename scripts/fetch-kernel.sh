#!/usr/bin/env bash
# Fetches Debian's arm64 kernel (linux-image-6.1.0-*-arm64) into a cache directory without installing
# any arm64 package: the QEMU kernel tests and benchmarks walk its live translation tables.
#
# Usage: scripts/fetch-kernel.sh [CACHE_DIR]
#   CACHE_DIR defaults to $PVMFW_MMU_KERNEL_DIR, else ~/.cache/pvmfw-mmu/kernel.
#   On success prints the directory, which then holds:
#     Image        the uncompressed arm64 kernel image (boot with qemu -kernel)
#     System.map   its symbol map
#     VERSION      the package name, e.g. linux-image-6.1.0-41-arm64
#   Idempotent: a cache that already holds Image is reused without network access.
#   Needs root only for the first fetch (dpkg --add-architecture arm64 + apt-get update).
set -euo pipefail

dir="${1:-${PVMFW_MMU_KERNEL_DIR:-$HOME/.cache/pvmfw-mmu/kernel}}"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"

if [ -s "$dir/Image" ] && [ -s "$dir/System.map" ]; then
  echo "$dir"
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  echo "fetch-kernel: the first fetch needs root (dpkg --add-architecture arm64; apt-get update)" >&2
  exit 1
fi

if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  dpkg --add-architecture arm64
fi
apt-get update -qq

# The metapackage names the current ABI (linux-image-6.1.0-NN-arm64); its Depends gives the package.
pkg="$(apt-cache depends linux-image-arm64:arm64 2>/dev/null |
  sed -n 's/^ *Depends: \(linux-image-6\.1\.0-[0-9]*-arm64\)\(:arm64\)\?$/\1/p' | head -n1)"
if [ -z "$pkg" ]; then
  echo "fetch-kernel: could not resolve linux-image-6.1.0-*-arm64 from linux-image-arm64:arm64" >&2
  exit 1
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
chmod 755 "$work" # lets apt fetch as _apt instead of warning about an unsandboxed download
(cd "$work" && apt-get download -qq "$pkg:arm64")
deb="$(ls "$work"/*.deb)"
dpkg-deb -x "$deb" "$work/root"

vmlinuz="$(ls "$work"/root/boot/vmlinuz-*-arm64 | head -n1)"
sysmap="$(ls "$work"/root/boot/System.map-*-arm64 | head -n1)"
# Debian's arm64 vmlinuz is a gzip of the Image; QEMU loads either, the raw one skips a gunzip per boot.
if gzip -t "$vmlinuz" 2>/dev/null; then
  gzip -dc "$vmlinuz" >"$dir/Image.tmp"
else
  cp "$vmlinuz" "$dir/Image.tmp"
fi
cp "$sysmap" "$dir/System.map"
echo "$pkg" >"$dir/VERSION"
mv "$dir/Image.tmp" "$dir/Image"
echo "$dir"
