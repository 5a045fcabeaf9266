#!/usr/bin/env bash
# Installs what building and testing Ward needs and is missing; fast when everything is there.
#   scripts/setup.sh          build tools (wasm target, wasm-bindgen CLI)
#   scripts/setup.sh --test   also cargo-nextest, Chromium and end2end's npm packages
set -euo pipefail
cd "$(dirname "$0")/.."

note() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  note "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# The CLI must be exactly the version of the wasm-bindgen crate in Cargo.lock.
wanted=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$wanted" ]; then
  note "installing wasm-bindgen-cli $wanted (about 2 minutes, once)"
  # Not --locked: the CLI's own lock file pins a crate version the registry no longer serves.
  cargo install wasm-bindgen-cli --version "$wanted"
fi

if [ "${1:-}" = "--test" ]; then
  missing=""
  command -v chromium >/dev/null || missing="$missing chromium"
  command -v wrk >/dev/null || missing="$missing wrk"
  if [ -n "$missing" ]; then
    note "installing Debian packages:$missing (Playwright's browser, the benchmarks' load generator)"
    if [ "$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
    else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing; fi
  fi
  if [ ! -d end2end/node_modules/@playwright/test ] || [ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]; then
    note "installing end2end's npm packages"
    (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
  fi
fi
