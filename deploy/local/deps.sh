#!/usr/bin/env bash
# `make deps`: the system tools the test suite drives, installed when missing. Idempotent, and
# quick when everything is there (no network then). `make test` never installs anything.
#   chromium, chromedriver   browser tests (Debian packages, via browser.sh)
#   java, mvn                the local Kafka broker (kafka.sh; Debian: default-jre-headless, maven)
#   PostgreSQL server        postgres.sh (Debian: postgresql-15)
#   promtool                 Prometheus config and rule checks: built from the Prometheus Go module
#                            (Debian's build lacks Kubernetes service discovery, which
#                            deploy/prometheus/prometheus.yml uses) into .cache/tools/bin; the first
#                            build takes minutes, later ones reuse Go's build cache
#   amtool                   Alertmanager config check: only the binary, unpacked from Debian's
#                            prometheus-alertmanager package into .cache/tools/bin (no server)
#   kubeconform              Kubernetes manifest validation (Go module, built into .cache/tools/bin)
#   kustomize                only where kubectl is missing (Go module, into .cache/tools/bin)
# A tool already on PATH is used as it is. Debian packages need root (CI and the dev machines are).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TOOLS="$ROOT/.cache/tools/bin"
KUBECONFORM_VERSION=v0.8.0
KUSTOMIZE_VERSION=v5.8.3
PROMETHEUS_VERSION=2.55.1  # as docker-compose.yml's Prometheus; Go module version v0.55.1
mkdir -p "$TOOLS"
export PATH="$TOOLS:$PATH"

have() { command -v "$1" >/dev/null 2>&1; }

apt_updated=0
apt_update() {
  if ((apt_updated)); then return; fi
  if [[ $(id -u) -ne 0 ]]; then
    echo "deps: Debian packages are missing and this is not root; run: sudo make deps" >&2
    exit 1
  fi
  apt-get update -q
  apt_updated=1
}

apt_install() {  # packages...
  apt_update
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
}

deb_binary() {  # package binary: unpack /usr/bin/<binary> of a Debian package into $TOOLS
  local package=$1 binary=$2 work
  if have "$binary"; then return; fi
  apt_update
  work=$(mktemp -d)
  chmod 755 "$work"  # apt downloads as its own user
  (cd "$work" && apt-get download -q "$package")
  dpkg-deb -x "$work"/*.deb "$work/root"
  install -m 0755 "$work/root/usr/bin/$binary" "$TOOLS/$binary"
  rm -rf "$work"
  echo "deps: $binary from Debian's $package in .cache/tools/bin"
}

need_go() {
  if ! have go; then
    echo "deps: $1 is built with the Go toolchain, which is missing" >&2
    exit 1
  fi
}

# Prometheus's go.mod has replace directives, so `go install` refuses it: build it from a
# throwaway module that requires it with the same replacements.
promtool_build() {
  local want="promtool, version $PROMETHEUS_VERSION" work
  if [[ -x $TOOLS/promtool ]] && "$TOOLS/promtool" --version 2>&1 | grep -qF "$want "; then return; fi
  need_go promtool
  echo "deps: building promtool $PROMETHEUS_VERSION (the first time takes minutes)"
  work=$(mktemp -d)
  (
    cd "$work"
    export GOFLAGS=-buildvcs=false
    go mod init dispatch-tools/promtool >/dev/null 2>&1
    go mod edit -replace k8s.io/klog=github.com/simonpasquier/klog-gokit@v0.3.0 \
      -replace k8s.io/klog/v2=github.com/simonpasquier/klog-gokit/v3@v3.5.0 \
      -exclude github.com/linode/linodego@v1.0.0
    go get -d "github.com/prometheus/prometheus/cmd/promtool@v0.${PROMETHEUS_VERSION#2.}" >/dev/null 2>&1
    go build -trimpath -ldflags "-s -w -X github.com/prometheus/common/version.Version=$PROMETHEUS_VERSION" \
      -o "$TOOLS/promtool" github.com/prometheus/prometheus/cmd/promtool
  )
  rm -rf "$work"
  echo "deps: promtool $PROMETHEUS_VERSION in .cache/tools/bin"
}

go_tool() {  # binary module version
  local binary=$1 module=$2 version=$3
  if have "$binary"; then return; fi
  need_go "$binary"
  GOBIN="$TOOLS" GOFLAGS=-buildvcs=false go install "$module@$version"
  echo "deps: $binary $version in .cache/tools/bin"
}

"$ROOT/deploy/local/browser.sh"
if ! have java || ! have mvn; then apt_install default-jre-headless maven; fi
if ! compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null; then
  apt_install postgresql-15 || apt_install postgresql
fi
promtool_build
deb_binary prometheus-alertmanager amtool
go_tool kubeconform github.com/yannh/kubeconform/cmd/kubeconform "$KUBECONFORM_VERSION"
if ! have kubectl; then
  go_tool kustomize sigs.k8s.io/kustomize/kustomize/v5 "$KUSTOMIZE_VERSION"
fi
