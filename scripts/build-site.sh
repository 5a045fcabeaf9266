#!/usr/bin/env bash
# Builds the UI's site into target/site: the wasm hydration bundle (pkg/ward.js, pkg/ward.wasm),
# the theme stylesheet (pkg/ward.css) and the files of public/.
#   scripts/build-site.sh            debug bundle
#   scripts/build-site.sh --release  size-optimised bundle (profile wasm-release, wasm-opt if present)
set -euo pipefail
cd "$(dirname "$0")/.."

profile=dev; profile_dir=debug
if [ "${1:-}" = "--release" ]; then profile=wasm-release; profile_dir=wasm-release; fi
target_dir=${CARGO_TARGET_DIR:-target}
site=target/site

cargo build -p frontend --lib --target wasm32-unknown-unknown --profile "$profile"
rm -rf "$site.tmp" && mkdir -p "$site.tmp/pkg"
wasm-bindgen --target web --no-typescript --out-dir "$site.tmp/pkg" --out-name ward \
  "$target_dir/wasm32-unknown-unknown/$profile_dir/frontend.wasm"
# Leptos's hydration script loads /pkg/<name>.wasm.
mv "$site.tmp/pkg/ward_bg.wasm" "$site.tmp/pkg/ward.wasm"
if [ "$profile" = wasm-release ] && [ -x end2end/node_modules/.bin/wasm-opt ]; then
  end2end/node_modules/.bin/wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
    "$site.tmp/pkg/ward.wasm" -o "$site.tmp/pkg/ward.wasm"
fi
# Tokens first, so component styles and integrators' overrides can use them.
cat style/tokens.css style/main.css > "$site.tmp/pkg/ward.css"
cp -R public/. "$site.tmp/"
rm -rf "$site" && mv "$site.tmp" "$site"
echo "site built in $site ($(du -sh "$site/pkg/ward.wasm" | cut -f1) wasm)" >&2
