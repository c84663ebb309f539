#!/usr/bin/env bash
# `npm run test:containers`: builds the container image with podman and checks what operators
# rely on (test/deploy/*.deploy.ts), the compose files, and the alert rules.
#
# No container registry is needed: the `node:20-bookworm-slim` base is made locally from Debian
# packages (debootstrap) plus this machine's Node 20, and tagged with that name, so the
# Dockerfile is built unchanged. The base is kept as a tarball in CHARGEGATE_CONTAINERS_CACHE
# (default /var/cache/chargegate-containers) and rebuilt when Node or the recipe changes.
# Everything else (podman's storage, images, containers, volumes) lives in a temporary
# directory that is removed at the end, whatever the outcome.
#
# Runs as root (apt, debootstrap, podman). Installs what is missing with apt.
set -euo pipefail
cd "$(dirname "$0")/../.."

log() { printf '[containers %(%H:%M:%S)T] %s\n' -1 "$*"; }
started=$SECONDS

# --- Tools ---------------------------------------------------------------------------------
missing=()
for tool in podman:podman runc:runc debootstrap:debootstrap podman-compose:podman-compose; do
  command -v "${tool%%:*}" >/dev/null || missing+=("${tool#*:}")
done
if ((${#missing[@]} > 0)); then
  log "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if ! command -v promtool >/dev/null; then
  # promtool ships in Debian's prometheus package; the server itself is not needed.
  log "installing prometheus (for promtool)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi

# --- Alert rules ---------------------------------------------------------------------------
log "checking and unit-testing the alert rules"
npm run --silent test:rules

# --- Private podman storage and settings ----------------------------------------------------
work=$(mktemp -d /tmp/chargegate-containers.XXXXXX)
export CONTAINERS_STORAGE_CONF=$work/storage.conf CONTAINERS_CONF=$work/containers.conf
cleanup() {
  local status=$?
  set +e
  # The package check runs in the background: let it finish (it stops what it started).
  [[ -n ${package_pid:-} ]] && { wait "$package_pid"; cat "$work/package.log"; }
  log "removing every container, volume and image this run made"
  podman rm --all --force --time 0 >/dev/null 2>&1
  podman volume prune --force >/dev/null 2>&1
  podman rmi --all --force >/dev/null 2>&1
  # podman keeps its storage mounted; only mounts inside $work are undone.
  for _ in 1 2 3; do
    findmnt -rn -o TARGET | grep "^$work/" | sort -r | xargs -r umount -l 2>/dev/null
    rm -rf "$work" 2>/dev/null && break
    sleep 1
  done
  [[ -e $work ]] && log "could not remove $work"
  log "done in $((SECONDS - started)) s"
  exit "$status"
}
trap cleanup EXIT
cat >"$CONTAINERS_STORAGE_CONF" <<CONF
[storage]
driver = "overlay"
runroot = "$work/run"
graphroot = "$work/storage"
CONF
# runc: crun cannot start containers on hosts with a hybrid cgroup layout. The ulimits: podman's
# default open-files limit (1048576) is above what an unprivileged host may grant.
cat >"$CONTAINERS_CONF" <<'CONF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF

# --- The local base image -------------------------------------------------------------------
node_bin=$(command -v node)
node_prefix=$(dirname "$(dirname "$(readlink -f "$node_bin")")")
mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
mirror=${mirror:-$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' /etc/apt/sources.list 2>/dev/null)}
mirror=${mirror:-http://deb.debian.org/debian}
ca_bundle=${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}
# Part of the cache key: bump it when the recipe below changes.
recipe_version=1
key=$( { echo "$recipe_version $mirror $(uname -m)"; "$node_bin" --version; sha256sum "$ca_bundle"; } \
  | sha256sum | cut -c1-16)
cache=${CHARGEGATE_CONTAINERS_CACHE:-/var/cache/chargegate-containers}
base_tar=$cache/node20-bookworm-base-$key.tar
base_image=docker.io/library/node:20-bookworm-slim

if [[ ! -f $base_tar ]]; then
  log "making the base image from Debian bookworm ($mirror) and Node $("$node_bin" --version)"
  rootfs=$work/rootfs
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log"; exit 1; }
  # What the official image has: Node in /usr/local, npm and npx, a `node` user with uid 1000.
  install -m 0755 "$node_bin" "$rootfs/usr/local/bin/node"
  mkdir -p "$rootfs/usr/local/lib/node_modules" "$rootfs/usr/local/include" "$rootfs/usr/local/etc"
  cp -a "$node_prefix/lib/node_modules/npm" "$rootfs/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
  chroot "$rootfs" groupadd --gid 1000 node
  chroot "$rootfs" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
  # What only this machine needs: npm reaches the registry through a TLS-intercepting proxy
  # (its CA bundle), and node-gyp cannot download Node's headers (they are copied instead).
  cp -a "$node_prefix/include/node" "$rootfs/usr/local/include/node"
  install -m 0644 "$ca_bundle" "$rootfs/usr/local/etc/npm-ca.crt"
  printf 'cafile=/usr/local/etc/npm-ca.crt\nnodedir=/usr/local\n' >"$rootfs/usr/local/etc/npmrc"
  cp /etc/apt/apt.conf.d/99artifact-registry "$rootfs/etc/apt/apt.conf.d/" 2>/dev/null || true
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin \
    "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*
  mkdir -p "$cache"
  tar --numeric-owner -C "$rootfs" -cf "$base_tar.tmp" .
  mv "$base_tar.tmp" "$base_tar"
  rm -rf "$rootfs"
  # Older bases (another Node or recipe) are of no further use.
  find "$cache" -maxdepth 1 -name 'node20-bookworm-base-*.tar' ! -path "$base_tar" -delete
fi
log "importing the base as $base_image"
podman import --quiet \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["node"]' "$base_tar" "$base_image" >/dev/null

# --- The npm package, beside the image build -------------------------------------------------
# Both compile better-sqlite3 (no prebuilt binary can be downloaded here), each mostly on one
# core: side by side they take little more than the longer of the two.
npm run --silent build
log "packing the npm package and installing it in an empty folder (in the background)"
npx vitest run --config vitest.deploy.config.ts test/deploy/package.deploy.ts \
  >"$work/package.log" 2>&1 &
package_pid=$!

# --- The image ------------------------------------------------------------------------------
image=localhost/chargegate:containers-test
log "building $image"
build_started=$SECONDS
# --format docker keeps HEALTHCHECK (OCI image configs have no field for it); --network=host
# lets the build reach npm and Debian.
podman build --format docker --network=host -t "$image" . >"$work/build.log" 2>&1 \
  || { tail -40 "$work/build.log"; exit 1; }
size=$(podman image inspect --format '{{.Size}}' "$image")
log "built in $((SECONDS - build_started)) s; image size $((size / 1000000)) MB"

# --- The checks -----------------------------------------------------------------------------
log "running the container and compose checks"
CHARGEGATE_IMAGE=$image npx vitest run --config vitest.deploy.config.ts \
  test/deploy/image.deploy.ts test/deploy/compose.deploy.ts
log "waiting for the package check"
package_status=0
wait "$package_pid" || package_status=$?
package_pid=
cat "$work/package.log"
exit "$package_status"
