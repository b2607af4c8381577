#!/usr/bin/env bash
# Builds the connect-go side of the benchmark into <out dir>:
#   bench/go/build.sh <out dir>
# Copies this module to <out dir>/src, generates the Go code of
# examples/eliza/eliza.proto there with protoc-gen-go and
# protoc-gen-connect-go (installed with `go install` at the versions go.mod
# pins), and builds <out dir>/eliza-go-server and <out dir>/eliza-go-client.
# Generated code stays in the build directory; nothing here is committed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=$(mkdir -p "$1" && cd "$1" && pwd)
gobin=$out/bin
mkdir -p "$gobin"
ver() { sed -nE "s|^[[:space:]]*$1 (v[^ ]+).*|\1|p" "$here/go.mod"; }
GOBIN=$gobin go install "google.golang.org/protobuf/cmd/protoc-gen-go@$(ver google.golang.org/protobuf)"
GOBIN=$gobin go install "connectrpc.com/connect/cmd/protoc-gen-connect-go@$(ver connectrpc.com/connect)"
rm -rf "$out/src"
mkdir -p "$out/src"
cp -r "$here/go.mod" "$here/go.sum" "$here/server" "$here/client" "$out/src/"
mod=connectc.bench/go
PATH=$gobin:$PATH protoc -I "$root/examples/eliza" \
  --go_out="$out/src" --go_opt=module=$mod --go_opt=Meliza.proto=$mod/gen/elizav1 \
  --connect-go_out="$out/src" --connect-go_opt=module=$mod --connect-go_opt=Meliza.proto=$mod/gen/elizav1 \
  eliza.proto
(cd "$out/src" && go build -trimpath -o "$out/eliza-go-server" ./server && go build -trimpath -o "$out/eliza-go-client" ./client)
