#!/usr/bin/env bash
# make image-test: builds the collector image (make image) and runs testbed/cmd/imagetest
# against it: the image ships OTLP/HTTP records from the host to the Event API replica and
# exits 0 on SIGTERM.
#
# The container engine is $ENGINE if set, else podman if installed, else docker if its
# daemon answers, else podman and runc installed from Debian (as root, with apt-get).
# For podman it writes a containers.conf to a temporary folder and points
# CONTAINERS_CONF at it, unless CONTAINERS_CONF is set already: runtime runc and ulimits
# within this machine's hard limits (podman's default nofile is above them on CI).
set -euo pipefail
cd "$(dirname "$0")/../.."
export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false
IMAGE=${IMAGE:-otelcol-experimentation:0.1.0}
MAKE=${MAKE:-make}
step_start=$SECONDS

say() { echo "image-test: $*"; }
die() { echo "image-test: FAIL: $*" >&2; exit 1; }

apt_install() {
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null ||
    die "$* missing and cannot be installed here (needs root and apt-get); install it or set ENGINE=docker"
  say "installing $* from Debian"
  local t=$SECONDS
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/tmp/image-test-apt.log 2>&1; then
    apt-get update -qq >>/tmp/image-test-apt.log 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >>/tmp/image-test-apt.log 2>&1 ||
      { tail -20 /tmp/image-test-apt.log >&2; die "apt-get install $* failed (log: /tmp/image-test-apt.log)"; }
  fi
  say "installed $* in $((SECONDS - t))s"
}

engine=${ENGINE:-}
if [ -z "$engine" ]; then
  if command -v podman >/dev/null; then
    engine=podman
  elif command -v docker >/dev/null && timeout 20 docker info >/dev/null 2>&1; then
    engine=docker
  else
    apt_install podman runc
    engine=podman
  fi
fi
command -v "$engine" >/dev/null || die "container engine $engine not found"

tmp=$(mktemp -d /tmp/image-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
if [ "$engine" = podman ]; then
  command -v runc >/dev/null || apt_install runc
  if [ -z "${CONTAINERS_CONF:-}" ]; then
    hn=$(ulimit -Hn)
    [ "$hn" = unlimited ] && hn=1048576
    cat >"$tmp/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$hn:$hn", "nproc=4096:4096"]

[engine]
runtime = "runc"
EOF
    export CONTAINERS_CONF=$tmp/containers.conf
  fi
fi
say "$($engine --version)"

t=$SECONDS
$MAKE --no-print-directory image ENGINE="$engine" IMAGE="$IMAGE" || die "make image failed"
say "make image took $((SECONDS - t))s"

# A built binary rather than go run, so that a signal reaches it and it removes its container.
t=$SECONDS
(cd testbed && go build -o "$tmp/imagetest" ./cmd/imagetest) || die "building testbed/cmd/imagetest failed"
say "built testbed/cmd/imagetest in $((SECONDS - t))s"
"$tmp/imagetest" -engine "$engine" -image "$IMAGE" -datafile testdata/datafile.json ${IMAGETEST_FLAGS:-} ||
  die "the image check failed (see above)"
say "passed in $((SECONDS - step_start))s"
