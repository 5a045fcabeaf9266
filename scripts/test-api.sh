#!/usr/bin/env bash
# Ward's API against its own description: schemathesis (from PyPI) reads the OpenAPI document
# each listener serves at /.well-known/openapi.json, generates requests from it (valid ones and
# invalid ones) and fails on any server error and on any status code, content type, header or
# body the description does not allow. Its check that invalid requests are refused is left
# out: Kratos's leniency, which Ward copies on purpose, accepts some (an empty parameter counts
# as absent; a browser without a usable flow id is sent to start a new flow).
#   scripts/test-api.sh [path to the ward binary]    default: the debug build
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-$PWD/target}
ward=${1:-$target/debug/ward}
note() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
fail() { printf '\033[1;31mFAILED: %s\033[0m\n' "$*" >&2; exit 1; }

version=4.32.5
venv=${XDG_CACHE_HOME:-$HOME/.cache}/ward-schemathesis-$version
if [ ! -x "$venv/bin/schemathesis" ]; then
  command -v python3 >/dev/null || fail "python3 is needed to install schemathesis"
  note "installing schemathesis $version from PyPI into $venv (once)"
  python3 -m venv "$venv" || fail "python3 -m venv failed (Debian: apt-get install python3-venv)"
  "$venv/bin/pip" install --quiet "schemathesis==$version"
fi

dir=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
(cd "$dir" && NO_COLOR=1 DSN=memory SERVE_PUBLIC_PORT=0 SERVE_ADMIN_PORT=0 SERVE_UI_PORT=0 \
  LOG_LEVEL=info exec "$ward" serve --dev >"$dir/log" 2>&1) &
pid=$!
addr() { grep -o "$1=[0-9.:]*" "$dir/log" | head -1 | cut -d= -f2; }
for _ in $(seq 100); do
  [ -n "$(addr admin_addr)" ] && break
  sleep 0.1
done
public=$(addr public_addr || true) admin=$(addr admin_addr || true)
[ -n "$admin" ] || { cat "$dir/log" >&2; fail "ward did not start"; }

checks=not_a_server_error,status_code_conformance,content_type_conformance
checks=$checks,response_headers_conformance,response_schema_conformance
status=0
for base in "http://$public" "http://$admin"; do
  note "schemathesis against $base"
  (cd "$dir" && "$venv/bin/schemathesis" run "$base/.well-known/openapi.json" --url "$base" \
    --checks "$checks" --max-examples "${SCHEMATHESIS_EXAMPLES:-40}" --no-color) || status=1
done
if grep -q 'panicked' "$dir/log"; then
  cat "$dir/log" >&2
  fail "ward panicked during the run"
fi
[ "$status" = 0 ] || fail "schemathesis found responses the description does not allow (above)"
note "every response matched the description"
