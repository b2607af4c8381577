#!/usr/bin/env bash
# The main job: build and run the core demo (client and server calls talking
# through memory). Later issues switch this to the Eliza example over HTTP.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build/demo -G Ninja -DCONNECTC_TESTS=OFF >/dev/null
cmake --build build/demo --target core_demo
./build/demo/examples/core_demo
