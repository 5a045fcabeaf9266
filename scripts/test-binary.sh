#!/usr/bin/env bash
# The release binary carries its pages' assets: copied alone into an empty directory and
# started there, it serves the wasm bundle, its JavaScript glue and the stylesheet with their
# types, strong ETags and cache headers. Prints the binary's size.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-$PWD/target}
note() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
fail() { printf '\033[1;31mFAILED: %s\033[0m\n' "$*" >&2; exit 1; }

# The site first: the release binary embeds what target/site holds when it is compiled.
scripts/build-site.sh --release
cargo build --release -p server --bin ward

dir=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
cp "$target/release/ward" "$dir/ward"
note "release binary: $(du -h "$dir/ward" | cut -f1) ($(stat -c %s "$dir/ward") bytes)"

# No repository around it, no LEPTOS_SITE_ROOT: everything must come from the binary.
(cd "$dir" && exec env -u LEPTOS_SITE_ROOT NO_COLOR=1 DSN=memory SERVE_PUBLIC_PORT=0 SERVE_ADMIN_PORT=0 \
  SERVE_UI_PORT=0 LOG_LEVEL=info ./ward serve --dev >"$dir/log" 2>&1) &
pid=$!
ui=
for _ in $(seq 100); do
  ui=$(grep -o 'ui_addr=[0-9.:]*' "$dir/log" | head -1 | cut -d= -f2) || true
  [ -n "$ui" ] && break
  sleep 0.1
done
[ -n "$ui" ] || { cat "$dir/log" >&2; fail "ward did not start"; }

page=$(curl -sf "http://$ui/welcome") || fail "GET /welcome"
pkg=$(grep -o '/pkg/[0-9a-f]\{16\}' <<<"$page" | head -1)
[ -n "$pkg" ] || fail "the page links no fingerprinted bundle"

check() { # path, expected content type, expected cache-control
  local headers
  headers=$(curl -sf -D - -o /dev/null "http://$ui$1") || fail "GET $1"
  grep -qi "^content-type: $2" <<<"$headers" || fail "$1: content type is not $2: $headers"
  grep -qi "^cache-control: $3" <<<"$headers" || fail "$1: cache-control is not $3: $headers"
  local etag
  etag=$(grep -i '^etag:' <<<"$headers" | cut -d' ' -f2 | tr -d '\r')
  [ -n "$etag" ] || fail "$1: no ETag"
  local status
  status=$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "http://$ui$1")
  [ "$status" = 304 ] || fail "$1: If-None-Match answered $status, not 304"
}
check "$pkg/ward.js" 'text/javascript' 'public, max-age=31536000, immutable'
check "$pkg/ward.wasm" 'application/wasm' 'public, max-age=31536000, immutable'
check "$pkg/ward.css" 'text/css' 'public, max-age=31536000, immutable'
check /pkg/ward.css 'text/css' 'no-cache'
check /favicon.svg 'image/svg+xml' 'public, max-age=3600'
grep -q 'nothing persists' "$dir/log" || fail "no warning that the in-memory database does not persist"
note "the release binary serves its own site"
