#!/usr/bin/env bash
# The browser test: builds the page (code generated from
# examples/eliza/eliza.proto by protoc-gen-es, type-checked by tsc, bundled
# by esbuild) and runs test.mjs, which loads it in headless Chromium from
# another origin than eliza_server's and asserts what it shows.
#
#   examples/browser/run_test.sh [cmake build dir]     (default build/gcc)
#
# Needs eliza_server built in that directory, node and npm, protoc and
# Debian's chromium (scripts/deps.sh installs them). The npm packages are
# installed with `npm ci` from package-lock.json into <build dir>/browser
# once; later runs reuse them without the network until the lock changes.
# The screenshot lands in <build dir>/browser/out/screenshot.png;
# UPDATE_SCREENSHOT=1 also copies it to examples/browser/screenshot.png.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$root/build/gcc}" && pwd)
server=$build/examples/eliza/eliza_server
work=$build/browser

fail() { echo "browser test: $*" >&2; exit 1; }
[ -x "$server" ] || fail "no eliza_server in $build (build it first)"
for tool in node npm protoc; do
  command -v "$tool" >/dev/null || fail "$tool not found (scripts/deps.sh)"
done

mkdir -p "$work"
cp "$here/package.json" "$here/package-lock.json" "$here/tsconfig.json" "$here/test.mjs" "$work/"
stamp=$work/node_modules/.connectc-lock.sha256
lock_sum=$(sha256sum "$here/package-lock.json" | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$lock_sum" ]; then
  echo "browser test: npm ci in $work"
  (cd "$work" && npm ci --prefer-offline --no-audit --no-fund --loglevel=error)
  echo "$lock_sum" >"$stamp"
else
  echo "browser test: npm packages already installed in $work"
fi

# The page: generated code, type check, bundle.
rm -rf "$work/src" "$work/site"
cp -r "$here/src" "$work/src"
mkdir -p "$work/src/gen" "$work/site" "$work/out"
protoc -I "$root/examples/eliza" --plugin=protoc-gen-es="$work/node_modules/.bin/protoc-gen-es" \
  --es_out="$work/src/gen" --es_opt=target=ts "$root/examples/eliza/eliza.proto"
(cd "$work" && node_modules/.bin/tsc -p .)
"$work/node_modules/.bin/esbuild" "$work/src/main.ts" --bundle --format=esm --target=es2020 \
  --outfile="$work/site/app.js" --log-level=warning
cp "$here/index.html" "$work/site/"

node "$work/test.mjs" --server "$server" --site "$work/site" --out "$work/out"
if [ "${UPDATE_SCREENSHOT:-0}" = 1 ]; then
  cp "$work/out/screenshot.png" "$here/screenshot.png"
  echo "browser test: updated examples/browser/screenshot.png"
fi
