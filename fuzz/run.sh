#!/usr/bin/env bash
# Runs every fuzz target for SECS seconds (default 60) and prints, per target, how many
# inputs it ran without a crash. Needs the nightly toolchain and cargo-fuzz
# (`cargo install cargo-fuzz --locked`). New corpus entries go to a scratch folder, so the
# committed seeds in corpus/<target>/ stay the small hand-written set; a crash stops the run
# and leaves its input in artifacts/<target>/.
#
#   fuzz/run.sh 300            # every target, 5 minutes each
#   fuzz/run.sh 60 feed_rss    # one target
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-60}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
cargo +nightly fuzz build -O
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
total=0
for t in "${targets[@]}"; do
    mkdir -p "$scratch/$t"
    log="$scratch/$t.log"
    if ! cargo +nightly fuzz run -O "$t" "$scratch/$t" "corpus/$t" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 >"$log" 2>&1; then
        tail -n 40 "$log"
        echo "fuzz: $t FAILED (input in fuzz/artifacts/$t/)" >&2
        exit 1
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | tr -dc 0-9)
    printf 'fuzz: %-16s %10s runs in %ss without a crash (coverage %s edges, corpus %s)\n' \
        "$t" "${runs:-?}" "$secs" "${cov:-?}" "$(ls "$scratch/$t" | wc -l)"
    total=$((total + ${runs:-0}))
done
echo "fuzz: $total runs in all"
