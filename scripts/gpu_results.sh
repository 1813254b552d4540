#!/usr/bin/env bash
# Files what a GPU check returned (the device tool's files_at folder, or any OUTDIR of
# gpu_check.sh) as benchmarks/results/<date>-<device>/ (docs/gpu.md): summary.md, summary.json
# and the logs, a log over 200 KB cut to its head and tail. An existing results folder is never
# overwritten: a second check on the same day and device gets the suffix -2, -3, ...
#
#   scripts/gpu_results.sh DIR
set -euo pipefail
src=${1:?usage: scripts/gpu_results.sh DIR (the folder holding summary.json)}
cd "$(dirname "$0")/.."
MAX_LOG=$((200 * 1024))

# summary.json is in DIR or one folder down (where the device tool put the files).
summary=$(find "$src" -maxdepth 2 -name summary.json | head -1)
[[ -n "$summary" ]] || { echo "gpu_results: no summary.json in $src" >&2; exit 1; }
src=$(dirname "$summary")

# <date>-<device>: the run's start date and the device name, lower case, dashes for the rest.
name=$(python3 - "$summary" <<'EOF'
import json, re, sys
s = json.load(open(sys.argv[1]))
device = re.sub(r"[^a-z0-9]+", "-", str(s.get("device") or "unknown").lower()).strip("-")
print(str(s.get("started", "unknown-date"))[:10] + "-" + device)
EOF
)
dest=benchmarks/results/$name
n=2
while [[ -e "$dest" ]]; do dest=benchmarks/results/$name-$n; n=$((n + 1)); done
mkdir -p "$dest"

cp "$src/summary.json" "$dest/"
[[ -f "$src/summary.md" ]] && cp "$src/summary.md" "$dest/"
for log in "$src"/*.log; do
  [[ -f "$log" ]] || continue
  size=$(stat -c %s "$log")
  if ((size > MAX_LOG)); then
    {
      head -c $((MAX_LOG / 4)) "$log"
      printf '\n[... %d bytes cut by gpu_results.sh ...]\n' $((size - MAX_LOG + 1024))
      tail -c $((MAX_LOG * 3 / 4 - 1024)) "$log"
    } >"$dest/$(basename "$log")"
  else
    cp "$log" "$dest/"
  fi
done
echo "gpu_results: $dest: $(cd "$dest" && ls | paste -sd' ')"
echo "commit it: git add $dest"
