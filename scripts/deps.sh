#!/usr/bin/env bash
# Installs everything connectc needs to build and test, from Debian's
# packages. Idempotent: when every package is already installed it only
# says so. This is the one place dependencies are listed; the README and
# .ci/run both use it.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  clang libclang-rt-14-dev llvm
  libprotobuf-c-dev protobuf-c-compiler protobuf-compiler libprotobuf-dev libprotoc-dev
  libcurl4-openssl-dev libmicrohttpd-dev
  zlib1g-dev libbrotli-dev libzstd-dev
  libjsmn-dev libcmocka-dev
  openssl ca-certificates
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

# The conformance runner (Go, from the Go module proxy) is optional here:
# it is installed by the conformance scripts when Go is present.
if command -v go >/dev/null 2>&1; then
  echo "deps: go $(go env GOVERSION) found"
else
  echo "deps: go not found (only needed for the conformance suite)"
fi
