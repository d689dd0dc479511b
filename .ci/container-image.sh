#!/usr/bin/env bash
# The image the container tests run: Debian bookworm's minimal base with python3 (3.11, the
# host's minor version, so values cross pickled). No registry is reachable here, so it is built
# from Debian's packages with debootstrap and imported; once per machine (skipped when present).
set -euo pipefail
image="${1:-localhost/pauta-test:1}"
if podman image exists "$image"; then
  echo "container image $image is present"
  exit 0
fi
root=$(mktemp -d /var/tmp/pauta-image.XXXXXX)
trap 'rm -rf "$root"' EXIT
echo "building container image $image (debootstrap, a few minutes)"
debootstrap --variant=minbase --include=python3 bookworm "$root" >"$root.log" 2>&1 \
  || { tail -n 30 "$root.log" >&2; exit 1; }
rm -f "$root.log"
tar -C "$root" -c . | podman import - "$image" >/dev/null
echo "imported $image"
