#!/usr/bin/env bash
# The browser test: builds the page (code generated from
# examples/eliza/eliza.proto by protoc-gen-es, type-checked by tsc, bundled
# by esbuild) and runs test.mjs, which loads it in headless Chromium from
# another origin than eliza_server's and asserts what it shows.
#
#   examples/browser/run_test.sh [cmake build dir]     (default build/gcc)
#   examples/browser/run_test.sh --install             (npm packages only)
#
# Needs eliza_server built in that directory, node (>= 20) and npm, protoc
# and Debian's chromium (scripts/deps.sh installs them and runs --install).
# The npm packages are installed with `npm ci` from package-lock.json into
# build/browser (BROWSER_WORK overrides it) once; later runs reuse them
# without the network until the lock changes. The screenshot lands in
# build/browser/out/screenshot.png; UPDATE_SCREENSHOT=1 also copies it to
# examples/browser/screenshot.png.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=${BROWSER_WORK:-$root/build/browser}
install_only=0
if [ "${1:-}" = --install ]; then
  install_only=1
  shift
fi

fail() { echo "browser test: $*" >&2; exit 1; }
for tool in node npm protoc; do
  command -v "$tool" >/dev/null || fail "$tool not found (scripts/deps.sh)"
done
node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)' ||
  fail "node $(node --version) is too old: protoc-gen-es 2.13 needs 20 or newer"

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
[ "$install_only" = 0 ] || exit 0

[ -d "${1:-$root/build/gcc}" ] || fail "no build directory ${1:-$root/build/gcc}"
build=$(cd "${1:-$root/build/gcc}" && pwd)
server=$build/examples/eliza/eliza_server
[ -x "$server" ] || fail "no eliza_server in $build (build it first)"

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
