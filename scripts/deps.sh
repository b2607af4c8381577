#!/usr/bin/env bash
# Installs everything connectc needs to build and test, from Debian's
# packages (chromium for the browser test among them), the conformance
# runner from the Go module proxy, and the browser test's npm packages.
# Idempotent: when every package is already installed it only says so. This is the one place dependencies are listed; the README and
# .ci/run both use it.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  clang libclang-rt-14-dev llvm
  libprotobuf-c-dev protobuf-c-compiler protobuf-compiler libprotobuf-dev libprotoc-dev
  libcurl4-openssl-dev libmicrohttpd-dev libnghttp2-dev libssl-dev
  zlib1g-dev libbrotli-dev libzstd-dev
  libjsmn-dev libcmocka-dev
  openssl ca-certificates curl
  nghttp2-client
  doxygen
  chromium fonts-liberation
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#packages[@]} Debian packages already installed"
else
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  echo "deps: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  echo "deps: done"
fi

# The conformance runner, from the Go module proxy (needs Go >= 1.24).
CONFORMANCE_VERSION=v1.0.5
if command -v go >/dev/null 2>&1; then
  gobin=$(go env GOPATH)/bin
  if [ -x "$gobin/connectconformance" ] && "$gobin/connectconformance" --version 2>/dev/null | grep -q "$CONFORMANCE_VERSION"; then
    echo "deps: connectconformance $CONFORMANCE_VERSION already installed"
  else
    echo "deps: installing connectconformance $CONFORMANCE_VERSION"
    go install "connectrpc.com/conformance/cmd/connectconformance@$CONFORMANCE_VERSION"
  fi
else
  echo "deps: go not found: the conformance suite cannot run (install Go >= 1.24)"
fi

# Debian's chromium, for the browser test; it must start. (Its launcher's
# /etc/chromium.d/dev-shm check prints a shell warning on some machines.)
chromium --version 2>/dev/null || { echo "deps: chromium does not start"; chromium --version; exit 1; }

# The browser test's npm packages (examples/browser/package-lock.json, with
# npm ci) into build/browser, from the npm registry; needs Node.js >= 20.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  "$(dirname "$0")/../examples/browser/run_test.sh" --install
else
  echo "deps: node/npm not found: the browser test cannot run (install Node.js >= 20)"
fi
