#!/usr/bin/env bash
# Every test Ward has: lints, unit and integration tests on SQLite and PostgreSQL, and the
# Playwright tests in Debian's Chromium. Installs what is missing first (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}

note() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
fail() { printf '\033[1;31mFAILED: %s\033[0m\n' "$*" >&2; exit 1; }

scripts/setup.sh --test

# PostgreSQL is not optional: the store must pass its contract on both dialects.
pg_server=${WARD_TEST_POSTGRES_SERVER:-postgres://postgres@127.0.0.1:5432}
if command -v psql >/dev/null; then
  if ! psql "$pg_server/test" -qAtc 'SELECT 1' >/dev/null 2>&1; then
    fail "no PostgreSQL answers at $pg_server (set WARD_TEST_POSTGRES_SERVER); the PostgreSQL tests cannot run"
  fi
  # A fresh database per run; each test makes its own schema inside it.
  psql "$pg_server/test" -qc 'DROP DATABASE IF EXISTS ward_test WITH (FORCE)' -c 'CREATE DATABASE ward_test' >/dev/null
  export WARD_TEST_POSTGRES_URL="$pg_server/ward_test"
else
  note "psql not found: using $pg_server/test directly"
  export WARD_TEST_POSTGRES_URL="$pg_server/test"
fi

note "formatting and lints"
cargo fmt --all -- --check || fail "cargo fmt: run 'cargo fmt --all'"
cargo clippy -p server -p app -p bench --all-targets -- -D warnings
cargo clippy -p frontend --target wasm32-unknown-unknown -- -D warnings

note "unit and integration tests (SQLite and PostgreSQL at $WARD_TEST_POSTGRES_URL)"
cargo test -p server -p app

note "Playwright"
scripts/build-site.sh
cargo build -p server --bin ward
(cd end2end && WARD_BIN="$CARGO_TARGET_DIR/debug/ward" npx playwright test)

note "the API against its own OpenAPI description (schemathesis)"
scripts/test-api.sh "$CARGO_TARGET_DIR/debug/ward"

note "the release binary, alone in an empty directory, serves its site"
scripts/test-binary.sh

note "benchmark smoke run (seconds, no budgets: keeps the harness from rotting)"
scripts/bench.sh --smoke >/dev/null
note "all tests passed"
