#!/usr/bin/env bash
# nodes7 interop suite: installs nodes7 (pinned) into target/node with the machine's npm when
# it is missing or another version, reuses it otherwise, then runs this folder's node:test
# files against $S7RTD (default target/debug/s7rtd). Needs node >= 20 and npm; network access
# to the npm registry on the first run.
set -euo pipefail

cd "$(dirname "$0")/../../.."
NODES7_VERSION=0.3.18
NODE_DIR=target/node

for tool in node npm; do
    command -v "$tool" >/dev/null || { echo "nodes7 suite: '$tool' not found (install Node.js 20 and npm)" >&2; exit 1; }
done

installed=$(node -p "require('./$NODE_DIR/node_modules/nodes7/package.json').version" 2>/dev/null || true)
if [[ $installed == "$NODES7_VERSION" ]]; then
    echo "reusing $NODE_DIR (nodes7 $installed)"
else
    echo "installing nodes7@$NODES7_VERSION into $NODE_DIR"
    mkdir -p "$NODE_DIR"
    [[ -f $NODE_DIR/package.json ]] ||
        printf '{\n  "name": "s7rt-interop-node",\n  "private": true\n}\n' >"$NODE_DIR/package.json"
    (cd "$NODE_DIR" && npm install --no-audit --no-fund --save-exact "nodes7@$NODES7_VERSION")
fi

exec node --test tests/interop/nodes7/
