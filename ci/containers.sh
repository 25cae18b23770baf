#!/usr/bin/env bash
# Containers for the harness's container targets on a machine with no running
# Docker engine and no reachable registry (the project's CI machines):
#   1. start dockerd by hand (no systemd): no bridge, no iptables, so every
#      container runs with host networking and traffic stays on loopback;
#   2. build, offline, the two images the e2e suite runs through testcontainers:
#      - the moto image the default target uses (python3 + the pinned moto[server]),
#      - a LocalStack Community image (localstack-core 4.14.0, the last Community
#        release, on Debian trixie's Python 3.13; why not 2026.3.0: see the pins file).
# Idempotent: a running engine is reused and an existing image is not rebuilt.
# Prints the environment the harness needs, to be eval'd only when it succeeded:
#   env=$(sudo ci/containers.sh) && eval "$env"
# (a plain `eval "$(...)"` evals nothing and succeeds when the script fails).
# Everything else goes to stderr. Needs root (apt, debootstrap, chroot, dockerd).
#   ci/containers.sh stop   stops the engine it started (images and data stay).
set -euo pipefail
cd "$(dirname "$0")/.."

ROOT=${HARNESS_DOCKER_ROOT:-/var/lib/harness-docker}
SOCK=${HARNESS_DOCKER_SOCK:-/run/harness-docker.sock}
WORK=${HARNESS_IMAGE_WORK:-/var/tmp/harness-images}
MIRROR=${HARNESS_DEBIAN_MIRROR:-$(awk '/^URIs:/ { print $2; exit } /^deb / { print $2; exit }' \
  /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null || true)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
MOTO_VERSION=$(sed -n 's/^moto\[server\]==//p' harness/emulator/requirements.txt)
LOCALSTACK_VERSION=$(sed -n 's/^localstack-core\[runtime\]==//p' harness/emulator/localstack-requirements.txt)
# The tag names the requirements too: an image built before a pin changed (signxml for SAML) is not reused.
MOTO_PINS=$(sha256sum harness/emulator/requirements.txt | cut -c1-8)
MOTO_IMAGE=harness-local/moto:$MOTO_VERSION-$MOTO_PINS
LOCALSTACK_IMAGE=harness-local/localstack-community:$LOCALSTACK_VERSION

log() { echo "containers: $*" >&2; }
die() { echo "containers: error: $*" >&2; exit 1; }
PIDFILE=/run/harness-docker.pid

# `stop`: end the engine this script started (its pid file), waiting for it.
if [ "${1:-}" = stop ]; then
  [ -s "$PIDFILE" ] || { log "no engine of this script runs (no $PIDFILE)"; exit 0; }
  pid=$(cat "$PIDFILE")
  kill "$pid" 2>/dev/null || { log "the engine ($pid) had already stopped"; rm -f "$PIDFILE"; exit 0; }
  deadline=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || die "dockerd ($pid) did not stop within 30 s; kill -9 $pid"
    sleep 0.2
  done
  log "stopped dockerd ($pid); its images and data stay in $ROOT (remove the folder to free them)"
  exit 0
fi
[ $# -eq 0 ] || die "unknown argument '$1'; run it with no argument to start, or 'stop'"

# apt, debootstrap and the chroots are loud (needrestart, "Can not write log"
# without /dev/pts): their output goes to this file; a failure names it.
DETAILS=${HARNESS_CONTAINERS_LOG:-/var/tmp/harness-containers.log}
: >"$DETAILS"
apt_updated=
# Install Debian packages, updating the package lists once first (a fresh
# machine may have none).
apt_install() {
  if [ -z "$apt_updated" ]; then
    log "apt-get update (details: $DETAILS)"
    apt-get update -qq >>"$DETAILS" 2>&1 || die "apt-get update failed; see $DETAILS"
    apt_updated=1
  fi
  log "installing $*"
  DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=a apt-get install -y -qq "$@" >>"$DETAILS" 2>&1 </dev/null \
    || die "apt-get install $* failed; see $DETAILS"
}

[ "$(id -u)" = 0 ] || die "needs root (apt-get, debootstrap, chroot, dockerd); run it with sudo"

# --- 1. the engine -----------------------------------------------------------
export DOCKER_HOST=unix://$SOCK
if ! docker info >/dev/null 2>&1; then
  command -v dockerd >/dev/null || apt_install docker.io
  mkdir -p "$ROOT" /run/harness-docker-exec
  log "starting dockerd on $SOCK (log: $ROOT.log)"
  setsid dockerd --data-root "$ROOT" --exec-root /run/harness-docker-exec -H "$DOCKER_HOST" \
    --pidfile "$PIDFILE" --bridge=none --iptables=false >"$ROOT.log" 2>&1 < /dev/null &
  deadline=$((SECONDS + 60))
  until docker info >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || die "dockerd did not answer within 60 s; see $ROOT.log"
    sleep 0.2
  done
fi

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

# in_chroot mounts /proc and binds the host's /dev into a root filesystem. If
# this script is killed there, they stay mounted, and removing that rootfs
# later would empty the host's /dev. So: unmount on any exit, and remove a
# rootfs only when nothing is mounted under it.
unmount_under() {
  findmnt -rn -o TARGET | { grep -F "$1/" || true; } | sort -r | while read -r target; do umount -l "$target"; done
}
remove_rootfs() {
  unmount_under "$1"
  if findmnt -rn -o TARGET | grep -qF "$1/"; then die "$1 still has mounts under it; not removing it"; fi
  rm -rf "$1"
}
trap 'unmount_under "$WORK"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- 2. the images -------------------------------------------------------------
# One Debian trixie root filesystem (python3 3.13, venv, CA certificates) is the
# base of both images; each image is a copy with its packages installed by chroot
# into /opt/venv (a venv: pip must not fight Debian's own python3 packages).
base_rootfs() {
  local base=$WORK/trixie
  [ -f "$base/.done" ] && return
  command -v debootstrap >/dev/null || apt_install debootstrap
  remove_rootfs "$base" && mkdir -p "$WORK"
  log "debootstrap trixie from $MIRROR (about a minute)"
  debootstrap --variant=minbase trixie "$base" "$MIRROR" >>"$DETAILS" 2>&1 || die "debootstrap failed; see $DETAILS"
  in_chroot "$base" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 python3-venv ca-certificates >/dev/null && apt-get clean'
  touch "$base/.done"
}

# Run a command in a root filesystem, with the host's resolver and CA bundle
# (HTTPS goes through an intercepting proxy whose CA only the host trusts).
in_chroot() {
  local rootfs=$1; shift
  cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
  cp /etc/ssl/certs/ca-certificates.crt "$rootfs/host-ca.crt"
  mount -t proc proc "$rootfs/proc"
  mount --bind /dev "$rootfs/dev"
  local rc=0
  env -u REQUESTS_CA_BUNDLE -u SSL_CERT_FILE -u CURL_CA_BUNDLE -u PIP_FIND_LINKS PIP_CERT=/host-ca.crt \
    PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore chroot "$rootfs" "$@" >>"$DETAILS" 2>&1 || rc=$?
  [ $rc = 0 ] || log "a command in $rootfs failed (exit $rc); see $DETAILS"
  umount "$rootfs/dev" "$rootfs/proc"
  return $rc
}

# build_image NAME ROOTFS-NAME PIP-ARGS CHANGES...: copy the base, pip install
# (the pinned requirement files are in /pins), import with CHANGES.
build_image() {
  local name=$1 rootfs=$WORK/$2 pip_args=$3; shift 3
  have_image "$name" && { log "$name exists"; return; }
  base_rootfs
  log "building $name"
  remove_rootfs "$rootfs" && cp -a "$WORK/trixie" "$rootfs"
  mkdir "$rootfs/pins" && cp harness/emulator/*requirements.txt "$rootfs/pins/"
  in_chroot "$rootfs" sh -c "python3 -m venv /opt/venv && /opt/venv/bin/pip install --quiet $pip_args"
  rm -rf "$rootfs/host-ca.crt" "$rootfs/.done" "$rootfs/pins"
  local changes=(--change "ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
  for change in "$@"; do changes+=(--change "$change"); done
  tar -C "$rootfs" -c . | docker import "${changes[@]}" - "$name" >/dev/null
  remove_rootfs "$rootfs"
  log "$name built"
}

# (a) moto: the interface of the official motoserver/moto image (python3 with
# moto[server] first on PATH, moto_server as entrypoint); the harness copies
# its launcher in and runs it with python3.
build_image "$MOTO_IMAGE" moto "-r /pins/requirements.txt" \
  'ENTRYPOINT ["moto_server"]' 'CMD ["-H", "0.0.0.0"]' 'EXPOSE 5000'

# (b) LocalStack Community, run as LocalStack's host mode inside the container
# (the official image's supervisor and paths are not rebuilt here), with every
# dependency pinned (harness/emulator/localstack-requirements.txt).
build_image "$LOCALSTACK_IMAGE" localstack "-r /pins/localstack-requirements.txt" \
  'ENV OVERRIDE_IN_DOCKER=0' 'ENV GATEWAY_SERVER=hypercorn' 'ENV FILESYSTEM_ROOT=/var/lib/localstack/fs' \
  'ENV CONFIG_DIR=/var/lib/localstack/config' 'ENV SERVICES=iam,sts,s3,ec2' \
  'ENTRYPOINT ["python3", "-m", "localstack.runtime.main"]' 'EXPOSE 4566'

echo "export DOCKER_HOST=$DOCKER_HOST"
echo "export HARNESS_MOTO_IMAGE=$MOTO_IMAGE"
echo "export HARNESS_LOCALSTACK_COMMUNITY_IMAGE=$LOCALSTACK_IMAGE"
