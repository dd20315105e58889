#!/usr/bin/env bash
# What a collect costs the gateway it runs on (issue #22): requests per second through the real
# microgateway-core (tests/emg) in front of a loopback target, measured over the same window
# with no collect running, with a 1 GB collect running, and with `collect --low-priority`.
# Not a test: it needs the corpus of bench/run.sh and a quiet machine; compare one run's ratios.
#
#   bench/load.sh [WORKDIR] [SECONDS]   WORKDIR as bench/run.sh (default /tmp/emg-bench), SECONDS per window (default 8)
set -euo pipefail
work=${1:-/tmp/emg-bench}
secs=${2:-8}
here=$(cd "$(dirname "$0")/.." && pwd)
bin=$here/target/release/edgemicro-diag
corpus=$work/corpus-1G
[ -d "$corpus/logs" ] || { echo "load: run bench/run.sh 1G first (no $corpus)" >&2; exit 2; }
[ -d "$here/tests/emg/node_modules/microgateway-core" ] || { echo "load: (cd tests/emg && npm ci) first" >&2; exit 2; }
cargo build --release --locked --manifest-path "$here/Cargo.toml" >&2

run=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$run"; }
trap cleanup EXIT

tport=$((20000 + RANDOM % 10000)); gport=$((tport + 1))
node -e "require('http').createServer((q, s) => s.end('ok')).listen($tport, '127.0.0.1')" &
pids+=($!)
mkdir -p "$run/emg-logs"
(cd "$here/tests/emg" && exec node gateway.js "{\"port\":$gport,\"logDir\":\"$run/emg-logs\",\"level\":\"error\",\"proxies\":[{\"base\":\"/t\",\"url\":\"http://127.0.0.1:$tport\"}]}") > "$run/gw.out" &
pids+=($!)
for _ in $(seq 100); do grep -q listening "$run/gw.out" 2>/dev/null && break; sleep 0.1; done

# A bounded client: 16 keep-alive connections for SECONDS, prints responses per second.
cat > "$run/load.js" <<'EOF'
const http = require('http');
const [port, secs] = process.argv.slice(2).map(Number);
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
const end = Date.now() + secs * 1000;
let ok = 0, failed = 0, open = 0;
function one() {
  if (Date.now() >= end) { if (--open === 0) console.log((ok / secs).toFixed(0), failed); return; }
  http.get({ port, host: '127.0.0.1', path: '/t/x', agent }, (res) => {
    res.resume(); res.on('end', () => { res.statusCode === 200 ? ok++ : failed++; one(); });
  }).on('error', () => { failed++; one(); });
}
for (let i = 0; i < 16; i++) { open++; one(); }
EOF

window() { # $1 = label, $2 = none | normal | low
  local label=$1 mode=$2 flags=()
  rm -f "$run/b.zip" "$run/b.zip.sha256"
  local cpid=""
  [ "$mode" = low ] && flags=(--low-priority)
  if [ "$mode" != none ]; then
    /usr/bin/time -f "%e %U %S" -o "$run/time" "$bin" collect -y -q -c "$corpus/config" --log-dir "$corpus/logs" -o "$run/b.zip" "${flags[@]}" > /dev/null &
    cpid=$!
  fi
  read -r rps failed < <(node "$run/load.js" "$gport" "$secs")
  [ -z "$cpid" ] || wait "$cpid"
  local took="-"
  [ -z "$cpid" ] || took=$(awk '{printf "%.2f s wall, %.2f s CPU", $1, $2 + $3}' "$run/time")
  echo "| $label | $rps | $failed | $took |"
}

cat "$corpus"/logs/* > /dev/null  # the page cache, as for bench/run.sh
echo "## Requests per second through microgateway-core while a collect runs ($(date -u +%Y-%m-%d), $(nproc) cores, ${secs} s windows)"
echo
echo "| while | requests/s | failed | the collect |"
echo "|---|---|---|---|"
window "nothing else" none
window "collect" normal
window "collect --low-priority" low
window "nothing else (again)" none
