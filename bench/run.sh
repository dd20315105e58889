#!/usr/bin/env bash
# The project's benchmark (issue #9): edgemicro-diag against the peers of ../shared/bench on one
# generated EMG corpus, plus peak memory on a 2 GiB log and a 5 MB single-line log, plus the
# redaction engine alone. Not a test: timings on a shared 2-core machine are noisy; compare the
# ratios of one run.
#
#   bench/run.sh [SIZE] [WORKDIR]     SIZE of the corpus (default 1G), WORKDIR (default /tmp/emg-bench)
#
# Writes WORKDIR/results.md (the table in the README) and prints it.
set -euo pipefail
size=${1:-1G}
work=${2:-/tmp/emg-bench}
here=$(cd "$(dirname "$0")/.." && pwd)
shared=${EDGEMICRO_DIAG_SHARED:-$here/../shared/bench}
[ -x "$shared/run-peers" ] || { echo "bench: no $shared/run-peers (set EDGEMICRO_DIAG_SHARED)" >&2; exit 2; }
command -v zip >/dev/null || { echo "bench: the zip peers need zip (apt-get install zip)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "bench: needs /usr/bin/time (apt-get install time)" >&2; exit 2; }

cargo build --release --locked --manifest-path "$here/Cargo.toml" >&2
bin=$here/target/release/edgemicro-diag
mkdir -p "$work"
corpus=$work/corpus-$size
[ -d "$corpus/logs" ] || python3 "$shared/gen-corpus" --out "$corpus" --size "$size" --seed 1 >&2

out=$work/results.md
{
  echo "## edgemicro-diag against its peers ($(date -u +%Y-%m-%d), $(nproc) cores)"
  echo
  echo "Corpus: \`gen-corpus --size $size --seed 1\` ($(du -sh "$corpus/logs" | cut -f1) of EMG logs, $(wc -l < "$corpus.secrets.txt") planted secrets)."
  echo "Command: \`bench/run.sh $size\`"
  echo
  EDGEMICRO_DIAG=$bin python3 "$shared/run-peers" "$corpus" --runs 3 --slow-runs 1 --out-dir "$work/out"
  echo
  echo "Peak memory whatever the input (limit 64 MiB):"
  echo
  echo "| input | wall s | peak RSS MiB | exit |"
  echo "|---|---|---|---|"
  for case in big longline many many-bounded many-100k; do
    dir=$work/$case
    mkdir -p "$dir/logs"
    if [ "$case" = big ] && [ ! -s "$dir/logs/edgemicro-big-1-api.log" ]; then
      # One 2 GiB log: the corpus's logs concatenated until 2 GiB.
      while [ "$(stat -c %s "$dir/logs/edgemicro-big-1-api.log" 2>/dev/null || echo 0)" -lt $((2 << 30)) ]; do
        cat "$corpus"/logs/* >> "$dir/logs/edgemicro-big-1-api.log"
      done
      truncate -s $((2 << 30)) "$dir/logs/edgemicro-big-1-api.log"
    fi
    if [ "$case" = longline ] && [ ! -s "$dir/logs/edgemicro-long-1-api.log" ]; then
      # One 5 MB line (a header dump gone wrong) between ordinary records.
      { head -c 1000000 "$corpus/logs/$(ls "$corpus/logs" | head -1)"; printf 'x-api-key: '; head -c 5000000 /dev/zero | tr '\0' 'A'; printf '\n'; } > "$dir/logs/edgemicro-long-1-api.log"
    fi
    if [ "$case" = many ] && [ ! -e "$dir/logs/edgemicro-h-19999-api.log" ]; then
      # 20 000 small logs of 8 KB: what each collected file costs in memory and time.
      head -c 8000 "$corpus/logs/$(ls "$corpus/logs" | head -1)" > "$dir/seed.log"
      for i in $(seq 0 19999); do cp "$dir/seed.log" "$dir/logs/edgemicro-h-$i-api.log"; done
    fi
    if [ "$case" = many-100k ] && [ ! -e "$dir/logs/edgemicro-h-99999-api.log" ]; then
      # 100 000 of them: what stays per file (the list of logs found) against the 64 MiB.
      head -c 8000 "$corpus/logs/$(ls "$corpus/logs" | head -1)" > "$dir/seed.log"
      python3 -c 'import shutil,sys; [shutil.copyfile(sys.argv[1], f"{sys.argv[2]}/edgemicro-h-{i}-api.log") for i in range(100000)]' "$dir/seed.log" "$dir/logs"
    fi
    # The same 20 000 logs under a bundle limit they overflow (the reserve is measured as logs go).
    [ "$case" = many-bounded ] && dir=$work/many
    limit=()
    [ "$case" = many-bounded ] && limit=(--max-bundle-bytes 20000000)
    rm -f "$dir/out.zip" "$dir/out.zip.sha256"
    set +e
    /usr/bin/time -f "%e %M" -o "$dir/time" "$bin" collect -y --json "${limit[@]}" -c "$corpus/config" --log-dir "$dir/logs" -o "$dir/out.zip" > /dev/null 2>&1
    rc=$?
    set -e
    read -r wall rss < <(tail -1 "$dir/time")  # after "Command exited with …" when rc is not 0
    echo "| $case ($(du -ch "$dir/logs/" | tail -1 | cut -f1) in $(ls "$dir/logs" | wc -l) files) | $wall | $((rss / 1024)) | $rc |"
  done
  echo
  echo "analyze against \`grep -c ECONNRESET\` over the same logs (issue #18: at most 2 ×; medians of 3):"
  echo
  median() { sort -n | sed -n 2p; }
  g=$(for _ in 1 2 3; do /usr/bin/time -f %e sh -c "grep -c ECONNRESET $corpus/logs/* > $work/grep.out" 2>&1; done | median)
  a=$(for _ in 1 2 3; do /usr/bin/time -f %e "$bin" analyze --json -c "$corpus/config" --log-dir "$corpus/logs" 2>&1 > "$work/analyze.json" | tail -1; done | median)
  echo "| grep -c s | analyze s | ratio |"
  echo "|---|---|---|"
  echo "| $g | $a | $(awk -v a="$a" -v g="$g" 'BEGIN { printf "%.2f", a / g }') |"
  echo
  echo "Redaction engine alone on 64 MiB of the corpus logs (\`cargo bench --bench redact\`, one core):"
  echo
  echo '```'
  EDGEMICRO_DIAG_BENCH_LOGS=$corpus/logs cargo bench --locked --manifest-path "$here/Cargo.toml" --bench redact 2>/dev/null | grep -E "redact|MB/s"
  echo '```'
} | tee "$out"
