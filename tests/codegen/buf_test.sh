#!/bin/sh
# buf_test.sh: checks that `buf generate` drives the connectc plugins as
# local plugins, and that it generates exactly the golden files protoc does.
#
#   tests/codegen/buf_test.sh BINDIR
#
# BINDIR holds protoc-gen-connectc and protoc-gen-connectc-c (for a CMake
# build: build/codegen). protoc-gen-c must be on PATH, or named by
# CONNECTC_PROTOC_GEN_C. buf is run through npx (BUF_VERSION, default
# 1.47.2); without npx the test fails.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
bindir=${1:?usage: buf_test.sh BINDIR (the directory holding protoc-gen-connectc)}
bindir=$(cd "$bindir" && pwd)
buf_version=${BUF_VERSION:-1.47.2}

if ! command -v npx >/dev/null 2>&1; then
  echo "FAIL: npx is not installed, cannot run buf (scripts/deps.sh installs Node.js tools)" >&2
  exit 1
fi
for p in protoc-gen-connectc protoc-gen-connectc-c; do
  if [ ! -x "$bindir/$p" ]; then
    echo "FAIL: $bindir/$p does not exist; build it first" >&2
    exit 1
  fi
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
cp -R "$here/proto" "$tmp/proto"
cat >"$tmp/buf.yaml" <<'YAML'
version: v2
modules:
  - path: proto
YAML
cat >"$tmp/buf.gen.yaml" <<'YAML'
version: v2
plugins:
  - local: protoc-gen-connectc
    out: gen
  - local: protoc-gen-connectc-c
    out: gen
YAML

(cd "$tmp" && PATH="$bindir:$PATH" npx --yes "@bufbuild/buf@$buf_version" generate)

status=0
for golden in $(cd "$here/golden" && find . -name '*.connect.[ch]' | sed 's|^\./||' | sort); do
  if ! cmp -s "$here/golden/$golden" "$tmp/gen/$golden"; then
    echo "FAIL: buf generated $golden differently from tests/codegen/golden/$golden" >&2
    diff -u "$here/golden/$golden" "$tmp/gen/$golden" >&2 || true
    status=1
  fi
  pbc=$(echo "$golden" | sed 's/\.connect\.\([ch]\)$/.pb-c.\1/')
  if [ ! -s "$tmp/gen/$pbc" ]; then
    echo "FAIL: buf did not generate $pbc through protoc-gen-connectc-c" >&2
    status=1
  fi
done
if [ "$status" -eq 0 ]; then
  echo "PASSED: buf $buf_version generate matches the golden files"
fi
exit "$status"
