#!/usr/bin/env bash
# Ward's benchmarks: every figure is a ratio to a baseline measured in the same run.
#   scripts/bench.sh             release build, SQLite, 100k identities; writes docs/benchmarks.md
#   scripts/bench.sh --postgres  the same on PostgreSQL (WARD_BENCH_POSTGRES_URL, default test db);
#                                writes docs/benchmarks-postgres.md
#   scripts/bench.sh --smoke     debug build, a few seconds, no budgets, writes nothing (CI)
# Loopback only; every process it starts is stopped when it ends.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}

mode=full dialect=sqlite
for arg in "$@"; do
  case $arg in
    --smoke) mode=smoke ;;
    --postgres) dialect=postgres ;;
    *) echo "unknown argument $arg" >&2; exit 2 ;;
  esac
done
note() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

if ! command -v wrk >/dev/null; then
  note "installing wrk (Debian)"
  if [ "$(id -u)" = 0 ]; then apt-get install -y -qq wrk >/dev/null; else sudo apt-get install -y -qq wrk >/dev/null; fi
fi

if [ $mode = full ]; then
  identities=100000 seconds=10 flood_seconds=30 profile_flag=--release bin_dir=$CARGO_TARGET_DIR/release
  note "building the size-optimised site and release binaries (which embed the site)"
  scripts/build-site.sh --release
  cargo build --release -p server -p bench
else
  identities=200 seconds=1 flood_seconds=2 profile_flag= bin_dir=$CARGO_TARGET_DIR/debug
  cargo build -p server -p bench
  [ -f target/site/pkg/ward.js ] || scripts/build-site.sh
fi
ward=$bin_dir/ward bench=$bin_dir/ward-bench
workers=$(nproc)

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
  if [ -n "${schema:-}" ]; then psql "$base" -qc "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

case $dialect in
  sqlite) dsn="sqlite://$work/bench.sqlite?mode=rwc" ;;
  postgres)
    base=${WARD_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
    schema="bench_$$"
    psql "$base" -qc "DROP SCHEMA IF EXISTS $schema CASCADE" -c "CREATE SCHEMA $schema" >/dev/null
    dsn="$base?options=-c%20search_path%3D$schema"
    ;;
esac

note "seeding $identities identities with sessions ($dialect)"
"$bench" seed --dsn "$dsn" --identities "$identities" --out "$work/tokens.txt"

public=http://127.0.0.1:24433 ui=http://127.0.0.1:24455 baseline=http://127.0.0.1:24480
DSN=$dsn SERVE_PUBLIC_PORT=24433 SERVE_ADMIN_PORT=24434 SERVE_UI_PORT=24455 \
  SECRETS_DEFAULT=benchmark-secret-0123456789 LEPTOS_SITE_ROOT=$root/target/site LOG_LEVEL=warn \
  "$ward" serve --dev >"$work/ward.log" 2>&1 &
ward_pid=$!; pids+=("$ward_pid")
"$bench" baseline --port 24480 & pids+=($!)
for _ in $(seq 100); do curl -sf "$public/health/ready" >/dev/null && curl -sf "$baseline/" >/dev/null && break; sleep 0.1; done

rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

# wrk: "req/s p50_ms p99_ms"
run_wrk() {
  wrk -t2 -c64 -d"${seconds}s" --latency "$@" 2>/dev/null | awk '
    function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
    /Requests\/sec/ { rps = $2 }
    $1 == "50%" { p50 = ms($2) }
    $1 == "99%" { p99 = ms($2) }
    END { printf "%.0f %.2f %.2f\n", rps, p50, p99 }'
}

note "P7: memory after start and one sign-in"
"$bench" flows --public "$public" --kind login --concurrency 1 --seconds 1 >/dev/null
p7_mb=$(awk -v kb="$(rss_kb "$ward_pid")" 'BEGIN { printf "%.1f", kb/1024 }')

# The signed-in users active right now: a tenth of the seeded sessions (10,000 of 100,000),
# which fits the default session cache (16 MB). P1c asks for all of them, so most lookups miss
# the cache and read the database.
active=$((identities / 10))
head -n "$active" "$work/tokens.txt" > "$work/active.txt"
note "P1: whoami with cookies; P1b: with X-Session-Token; P1c: cache misses; against the bare handler"
read -r base_rps base_p50 base_p99 < <(run_wrk "$baseline/")
seconds=1 run_wrk -s scripts/bench/session.lua "$public/sessions/whoami" -- "$work/active.txt" header >/dev/null
read -r p1_rps p1_p50 p1_p99 < <(run_wrk -s scripts/bench/session.lua "$public/sessions/whoami" -- "$work/active.txt" cookie)
read -r p1b_rps p1b_p50 p1b_p99 < <(run_wrk -s scripts/bench/session.lua "$public/sessions/whoami" -- "$work/active.txt" header)
read -r p1c_rps p1c_p50 p1c_p99 < <(run_wrk -s scripts/bench/session.lua "$public/sessions/whoami" -- "$work/tokens.txt" cookie)

note "P8: the login page (server-rendered)"
jar=$work/cookies.txt
flow_url=$(curl -s -c "$jar" -o /dev/null -w '%{redirect_url}' -H 'Accept: text/html' "$public/self-service/login/browser")
csrf=$(awk '/csrf_token_/ {print $6 "=" $7}' "$jar")
read -r p8_rps p8_p50 p8_p99 < <(run_wrk -H "Cookie: $csrf" "$flow_url")
html_bytes=$(curl -s -H "Cookie: $csrf" "$flow_url" | wc -c)
css_bytes=$(wc -c < target/site/pkg/ward.css)
wasm_gzip_kb=$(gzip -9c target/site/pkg/ward.wasm | wc -c | awk '{printf "%.0f", $1/1024}')

note "P10: client_credentials and refresh grants/s, Ward and panva's oidc-provider in the same run"
if ! command -v node >/dev/null; then
  echo "P10 needs Node.js (and end2end's npm packages): install nodejs, then run scripts/setup.sh --test" >&2
  exit 1
fi
[ -d end2end/node_modules/oidc-provider ] || (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund >/dev/null)
peer=http://127.0.0.1:24490 admin=http://127.0.0.1:24434
client_secret=bench-secret-0123456789abcdef0123456789
basic="Basic $(printf 'bench:%s' "$client_secret" | base64 -w0)"
chains=$((workers * 4))
curl -sf "$admin/admin/clients" -H 'content-type: application/json' -o /dev/null -d "{\"client_id\":\"bench\",\"client_secret\":\"$client_secret\",\"grant_types\":[\"client_credentials\",\"refresh_token\"],\"scope\":\"offline_access read\"}"
"$bench" oauth2-seed --dsn "$dsn" --client bench --count "$chains" --out "$work/ward-refresh.txt"
node scripts/bench/oidc-peer.mjs 24490 "$chains" "$work/peer-refresh.txt" >"$work/peer.log" 2>&1 &
peer_pid=$!; pids+=("$peer_pid")
for _ in $(seq 100); do [ -s "$work/peer-refresh.txt" ] && curl -sf "$peer/.well-known/openid-configuration" >/dev/null && break; sleep 0.1; done
for url in "$public/oauth2/token" "$peer/token"; do
  status=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: $basic" "$url" -d grant_type=client_credentials -d scope=read)
  [ "$status" = 200 ] || { echo "client_credentials at $url answered $status" >&2; exit 1; }
done
# Refresh first: the peer's in-memory store keeps only its most recently used entries, and a
# client_credentials flood would push the seeded refresh tokens out.
read -r p10_rt p10_rt_failed < <("$bench" refresh --token-url "$public/oauth2/token" --client bench --secret "$client_secret" --tokens "$work/ward-refresh.txt" --concurrency "$chains" --seconds "$seconds")
read -r peer_rt peer_rt_failed < <("$bench" refresh --token-url "$peer/token" --client bench --secret "$client_secret" --tokens "$work/peer-refresh.txt" --concurrency "$chains" --seconds "$seconds")
read -r p10_cc _ p10_cc_p99 < <(run_wrk -s scripts/bench/token.lua "$public/oauth2/token" -- "$basic" "grant_type=client_credentials&scope=read")
read -r peer_cc _ peer_cc_p99 < <(run_wrk -s scripts/bench/token.lua "$peer/token" -- "$basic" "grant_type=client_credentials&scope=read")
cp "$work/peer.log" /tmp/ward-bench-peer.log 2>/dev/null || true
kill "$peer_pid" 2>/dev/null || true; wait "$peer_pid" 2>/dev/null || true
read -r p10_authorize p10_exchange < <("$bench" oauth2-statements)
p10_statements=$((p10_authorize + p10_exchange))

note "P11: sign-in codes' way to an SMTP server with mail already queued; courier mails/s against lettre alone"
queued=$([ $mode = full ] && echo 1000 || echo 50) codes=$([ $mode = full ] && echo 50 || echo 5)
case $dialect in
  sqlite) courier_dsn="sqlite://$work/courier.sqlite?mode=rwc" ;;
  postgres)
    courier_schema="bench_courier_$$"
    psql "$base" -qc "CREATE SCHEMA $courier_schema" >/dev/null
    courier_dsn="$base?options=-c%20search_path%3D$courier_schema"
    ;;
esac
read -r p11_p50 p11_p95 p11_rate p11_lettre < <("$bench" courier --dsn "$courier_dsn" --queued "$queued" --codes "$codes")
[ -n "${courier_schema:-}" ] && psql "$base" -qc "DROP SCHEMA $courier_schema CASCADE" >/dev/null

note "P2: completed API-flow logins/s; P3: registrations/s; against raw argon2id hashes/s"
hashes=$("$bench" hash-rate --threads "$workers" --seconds "$seconds")
read -r p2_rate p2_refused < <("$bench" flows --public "$public" --kind login --concurrency $((workers * 2)) --seconds "$seconds" --identities "$identities")
read -r p3_rate p3_refused < <("$bench" flows --public "$public" --kind registration --concurrency $((workers * 2)) --seconds "$seconds")
peak_mb=$(awk -v kb="$(awk '/VmHWM/ {print $2}' "/proc/$ward_pid/status")" 'BEGIN { printf "%.1f", kb/1024 }')

note "P9: P2 again on a second Ward with the brute-force counters off; the counter's statement alone"
DSN=$dsn SERVE_PUBLIC_PORT=24533 SERVE_ADMIN_PORT=24534 SERVE_UI_PORT=24555 SECURITY_BRUTE_FORCE_ENABLED=false \
  SECRETS_DEFAULT=benchmark-secret-0123456789 LEPTOS_SITE_ROOT=$root/target/site LOG_LEVEL=warn \
  "$ward" serve --dev >"$work/ward-unthrottled.log" 2>&1 &
unthrottled_pid=$!; pids+=("$unthrottled_pid")
for _ in $(seq 100); do curl -sf "http://127.0.0.1:24533/health/ready" >/dev/null && break; sleep 0.1; done
read -r p9_rate _ < <("$bench" flows --public "http://127.0.0.1:24533" --kind login --concurrency $((workers * 2)) --seconds "$seconds" --identities "$identities")
kill "$unthrottled_pid"; wait "$unthrottled_pid" 2>/dev/null || true
read -r throttle_ping throttle_insert throttle_update < <("$bench" throttle --dsn "$dsn" --count $([ $mode = full ] && echo 2000 || echo 50))

note "P4: login flood at twice P2's rate for ${flood_seconds} s, whoami probed meanwhile"
sleep 1
idle_kb=$(rss_kb "$ward_pid")
echo 5 > "/proc/$ward_pid/clear_refs" # restart the peak (VmHWM) from now
flood_rate=$(awk -v r="$p2_rate" 'BEGIN { printf "%.1f", (r > 0 ? r : 1) * 2 }')
read -r p4_ok p4_refused p4_bare p4_failed p4_inflight p4_p50 p4_p99 < <("$bench" flood --public "$public" --rate "$flood_rate" --seconds "$flood_seconds" --identities "$identities" --tokens "$work/active.txt")
flood_peak_kb=$(awk '/VmHWM/ {print $2}' "/proc/$ward_pid/status")
argon_kb=$((19 * 1024))
p4_limit_kb=$(awk -v idle="$idle_kb" -v w="$workers" -v m="$argon_kb" 'BEGIN { printf "%.0f", idle + w * m * 1.2 }')
mb() { awk -v kb="$1" 'BEGIN { printf "%.1f", kb/1024 }'; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a/b; else print "n/a" }'; }
check() { [ $mode = smoke ] && { echo "—"; return; }; awk "BEGIN { exit !($1) }" && echo "met" || echo "**missed**"; }

p1_ratio=$(ratio "$p1_rps" "$base_rps"); p1b_ratio=$(ratio "$p1b_rps" "$p1_rps")
p2_ratio=$(ratio "$p2_rate" "$hashes"); p3_ratio=$(ratio "$p3_rate" "$hashes"); p8_ratio=$(ratio "$p8_rps" "$base_rps")
table=$(cat <<EOF
| id | measure | result | baseline (same run) | ratio | budget | verdict |
|---|---|---|---|---|---|---|
| P1 | whoami, cookie, 64 connections, ${active} active sessions | ${p1_rps} req/s, p50 ${p1_p50} ms, p99 ${p1_p99} ms, 0 queries (cached) | bare axum ${base_rps} req/s (p99 ${base_p99} ms) | ${p1_ratio} | ratio ≥ 0.6, p99 ≤ 5 ms, ≤ 1 query | $(check "$p1_ratio >= 0.6 && $p1_p99 <= 5") |
| P1b | whoami, X-Session-Token | ${p1b_rps} req/s, p50 ${p1b_p50} ms, p99 ${p1b_p99} ms | P1 | ${p1b_ratio} | within 10 % | $(check "$p1b_ratio >= 0.9 && $p1b_ratio <= 1.1") |
| P1c | whoami, cookie, all ${identities} sessions (mostly cache misses) | ${p1c_rps} req/s, p50 ${p1c_p50} ms, p99 ${p1c_p99} ms, 1 query per miss | bare axum | $(ratio "$p1c_rps" "$base_rps") | none (informative) | — |
| P2 | completed API logins/s | ${p2_rate}/s (${p2_refused} refused) | raw argon2id ${hashes}/s on ${workers} threads | ${p2_ratio} | ≥ 0.9 | $(check "$p2_ratio >= 0.9") |
| P3 | completed registrations/s | ${p3_rate}/s (${p3_refused} refused) | raw argon2id ${hashes}/s | ${p3_ratio} | ≥ 0.8 | $(check "$p3_ratio >= 0.8") |
| P4 | login flood at ${flood_rate}/s (2 × P2) for ${flood_seconds} s | ${p4_ok} completed, ${p4_refused} refused with Retry-After, ${p4_bare} without, ${p4_failed} failed, ≤ ${p4_inflight} in flight; peak RSS $(mb "$flood_peak_kb") MB (idle $(mb "$idle_kb") MB); whoami p50 ${p4_p50} ms, p99 ${p4_p99} ms | limit idle + ${workers} × 19 MiB × 1.2 = $(mb "$p4_limit_kb") MB | — | peak ≤ limit, refusals carry Retry-After, whoami p99 ≤ 10 ms | $(check "$flood_peak_kb <= $p4_limit_kb && $p4_bare == 0 && $p4_failed == 0 && $p4_p99 <= 10") |
| P9 | completed API logins/s with the brute-force counters (P2) | ${p2_rate}/s; the count a failed sign-in adds: 1 statement, ${throttle_insert} µs (new counters), ${throttle_update} µs (existing) | counters off ${p9_rate}/s; \`SELECT 1\` ${throttle_ping} µs | $(ratio "$p2_rate" "$p9_rate") | ≥ 0.95 | $(check "$(ratio "$p2_rate" "$p9_rate") >= 0.95") |
| P10 | OAuth2 client_credentials grants/s, 64 connections | ${p10_cc}/s, p99 ${p10_cc_p99} ms | oidc-provider ${peer_cc}/s (p99 ${peer_cc_p99} ms) | $(ratio "$p10_cc" "$peer_cc") | ≥ 3 | $(check "$(ratio "$p10_cc" "$peer_cc") >= 3") |
| P10b | OAuth2 refresh grants/s (rotating; ${chains} clients each chaining its tokens) | ${p10_rt}/s (${p10_rt_failed} chains broken) | oidc-provider ${peer_rt}/s (${peer_rt_failed} broken) | $(ratio "$p10_rt" "$peer_rt") | ≥ 3 | $(check "$(ratio "$p10_rt" "$peer_rt") >= 3 && $p10_rt_failed == 0") |
| P10c | SQL statements of one code + PKCE flow, signed in (authorization request + code exchange, first token after start; sqlx's query log, which leaves out the BEGIN and COMMIT of its 2 transactions) | ${p10_statements} (${p10_authorize} + ${p10_exchange}) | — | — | ≤ 10 | $(check "$p10_statements <= 10") |
| P11 | a sign-in code from request to the SMTP server accepting it, ${codes} codes asked for 20 ms apart with ${queued} older mails queued | p50 ${p11_p50} ms, p95 ${p11_p95} ms | — | — | p95 ≤ 1000 ms | $(check "$p11_p95 <= 1000") |
| P11b | courier mails/s to a capturing SMTP server (those ${queued} and the codes) | ${p11_rate}/s | lettre alone, 10 at a time, pooled: ${p11_lettre}/s | $(ratio "$p11_rate" "$p11_lettre") | ≥ 200/s | $(check "$p11_rate >= 200") |
| P7 | RSS after start + one login | ${p7_mb} MB (peak over the run ${peak_mb} MB) | — | — | ≤ 30 MB | $(check "$p7_mb <= 30") |
| P8 | /login?flow= page | ${p8_rps} req/s, p99 ${p8_p99} ms; HTML ${html_bytes} B + CSS ${css_bytes} B; wasm ${wasm_gzip_kb} KB gzip | bare axum ${base_rps} req/s | ${p8_ratio} | ratio ≥ 0.3; ≤ 30 KB; ≤ 250 KB | $(check "$p8_ratio >= 0.3 && $html_bytes + $css_bytes <= 30720 && $wasm_gzip_kb <= 250") |
EOF
)
echo "$table"

report=docs/benchmarks.md
[ $dialect = postgres ] && report=docs/benchmarks-postgres.md
if [ $mode = full ]; then
  {
    echo "# Benchmarks"
    echo
    echo "Measured $(date -u +%Y-%m-%d) with \`make bench$( [ $dialect = postgres ] && echo ' ARGS=--postgres')\` ($dialect, $identities seeded identities with sessions, ${seconds} s per scenario)"
    echo "on $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr); load from wrk $(wrk -v 2>&1 | head -1 | awk '{print $2}') (2 threads, 64 connections)"
    echo "and \`ward-bench flows\` ($((workers * 2)) concurrent clients) on the same machine, loopback only."
    echo
    echo "$table"
    echo
    echo "How the budgets are met, and the profiles behind any miss: [performance.md](performance.md)."
  } > "$report"
  note "written to $report"
fi
