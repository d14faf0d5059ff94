#!/usr/bin/env bash
# Runs scripts/slurm-fetch.sbatch for real on a running SLURM (e.g. scripts/slurm_single_node.sh start) against
# the offline replica, and checks what a sharded fetch promises. Never run in CI: it needs SLURM daemons, the
# node must see this machine's replica (a single-node cluster), and it takes minutes.
#
#   bash scripts/slurm_check.sh [WORKDIR]                          # default /tmp/slurm-check (emptied first)
#   FETCH_ARGS=--no-transcribe bash scripts/slurm_check.sh         # quicker: no OCR or Whisper, titles indexed
#
# For each array in ARRAYS (default "0-2 1-3": 1-3 checks that SLURM_ARRAY_TASK_MIN is subtracted) it submits
# the sbatch script without a container (SLIDEGRAB_IMAGE=none, slidegrab from PATH) over six talks, waits
# for every task, merges the shard indexes, and checks: every talk folder exactly once; task k+MIN's log and
# library-shard-k-of-3.db hold exactly the talks shard_of puts in shard k; the merged index holds all six;
# `slidegrab search` finds a term written on a slide (a title word with --no-transcribe); and searches answer
# as they do in one plain `slidegrab fetch` of the same list outside SLURM (WORKDIR/single).
set -euo pipefail

WORK="${1:-/tmp/slurm-check}"
FETCH_ARGS="${FETCH_ARGS:-}"
SBATCH="$(cd "$(dirname "$0")" && pwd)/slurm-fetch.sbatch"
# two per shard of 3: plain talks, an XML-only deck and a Vimeo talk, these two given by conference page
IDS="38990101 38912014 38925902 38932408 38925901 38956513"

rm -rf "$WORK" && mkdir -p "$WORK"
python3 -m slidegrab.replica --cache-dir "${REPLICA_CACHE:-$HOME/.cache/slidegrab/replica}" >"$WORK/replica.out" 2>&1 &
REPLICA=$!
trap 'kill "$REPLICA" 2>/dev/null || true' EXIT
for _ in $(seq 120); do # it makes its media first
    if grep -q "^CA:" "$WORK/replica.out"; then break; fi
    sleep 1
done
PROXY="$(awk '$1 == "proxy:" {print $2}' "$WORK/replica.out")"
CA="$(awk '$1 == "CA:" {print $2}' "$WORK/replica.out")"
echo "replica: proxy $PROXY, CA $CA"
python3 -c 'import sys; from slidegrab.replica.fixtures import by_id, talk_url
print("\n".join(talk_url(by_id(i)) for i in sys.argv[1:]))' $IDS >"$WORK/urls.txt"

# the same talks in one plain fetch, outside SLURM, to compare searches with (FETCH_ARGS split on purpose)
slidegrab -q fetch "$WORK/urls.txt" -o "$WORK/single" --proxy "$PROXY" --ca-bundle "$CA" $FETCH_ARGS

check() { # ARCHIVE MIN: the checks above, in Python; exits non-zero at the first that fails
    python3 - "$1" "$2" "$WORK/single" "$FETCH_ARGS" $IDS <<'EOF'
import json, re, sqlite3, subprocess, sys
from pathlib import Path
from slidegrab.shard import shard_of

archive, low, single, args = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
ids = set(sys.argv[5:])


def talks(db):
    return {row[0] for row in sqlite3.connect(db).execute("SELECT id FROM talks")}


def search(where, query, *options):  # the hits, less the paths that differ between archives
    out = subprocess.run(["slidegrab", "search", query, "-o", str(where), "--json", *options],
                         capture_output=True, text=True, check=True).stdout
    return [{k: v for k, v in hit.items() if k not in ("folder", "mp4", "seek")} for hit in json.loads(out)]


folders = [d.name[:8] for d in archive.iterdir() if d.is_dir() and re.match(r"\d{8}-", d.name)]
assert sorted(folders) == sorted(ids), f"talk folders {sorted(folders)}, expected each of {sorted(ids)} once"
for k in range(3):
    want = {i for i in ids if shard_of(f"https://slideslive.com/{i}", 3) == k}  # by id, as pages are placed
    (log,) = archive.glob(f"slidegrab-*_{k + low}.log")
    text = log.read_text()
    assert f"array task {k + low} of {low}-{low + 2}" in text, f"{log.name}: no task line"
    in_log = ids & set(re.findall(r"\b\d{8}\b", text))
    in_db = talks(archive / f"library-shard-{k}-of-3.db")
    assert in_log == in_db == want, f"shard {k}: log {in_log}, index {in_db}, shard_of {want}"
    print(f"task {k + low} -> shard {k}/3: {sorted(want)} (log, shard index and shard_of agree)")
assert talks(archive / "library.db") == ids, "the merged index lacks talks"
slide = "--no-transcribe" not in args  # without OCR only titles are indexed
query, kind = ('"annotation budget"', "slide") if slide else ("mixed formats", "title")
hits = search(archive, query, "--kind", kind)
assert hits and hits[0]["talk_id"] == "38932408", f"search {query}: {hits}"
print(f"merged index: {len(ids)} talks; search {query} -> 38932408, {kind} {hits[0]['slide']}")
for query in ("attention", "sparse*", "noise OR smooth*", '"annotation budget"', "learning"):
    assert search(archive, query) == search(single, query), f"search {query}: merged and single runs differ"
print("searches answer as in a single-machine run")
EOF
}

for ARRAY in ${ARRAYS:-0-2 1-3}; do
    ARCHIVE="$WORK/array-$ARRAY"
    mkdir -p "$ARCHIVE" && cp "$WORK/urls.txt" "$ARCHIVE/"
    echo "== sbatch --array=$ARRAY into $ARCHIVE"
    # --wait: until every task ends; 1 CPU and 2G each fit a small node (the script asks for 4 and 8G)
    if ! sbatch --wait --array="$ARRAY" --cpus-per-task=1 --mem=2G --time=60 \
        --output="$ARCHIVE/slidegrab-%A_%a.log" \
        --export="ALL,ARCHIVE=$ARCHIVE,SLIDEGRAB_IMAGE=none,SLIDEGRAB_ARGS=--proxy $PROXY --ca-bundle $CA $FETCH_ARGS" \
        "$SBATCH"; then
        tail -n 40 "$ARCHIVE"/slidegrab-*.log >&2
        exit 1
    fi
    slidegrab -q index --merge -o "$ARCHIVE"
    check "$ARCHIVE" "${ARRAY%%-*}"
done
echo "slurm check: passed"
