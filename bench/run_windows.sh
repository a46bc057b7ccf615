#!/usr/bin/env bash
# Window aggregation throughput, one core: liqmon's engine (all windows, all scope levels)
# against quix-streams and bytewax computing sliding USD sums over the same events.
#
#   bash bench/run_windows.sh            # writes bench/results/windows.{json,md}
#
# Inputs (made once by bench/windows.py gen, kept in $PEERS/data):
#   replay  2,000,000 events, 1,000 instruments, 500 events/s of event time (4,000 s:
#           every window, 1 h included, fills and expires)
#   live    2,000,000 events, 1,000 instruments, event time advancing at 1,000,000 events/s
#   few     the replay mix over 24 instruments (the peers' best case: few keys)
#
# Environment (all optional):
#   N=2000000          events per input (the peers take the first PEER_LIMIT of them)
#   ROUNDS=2           interleaved rounds (liqmon, quix-streams sliding and hopping 60 s
#                      every 1 s, bytewax sliding 60 s every 1 s, liqmon, ...)
#   REPEATS=2          liqmon runs per round (each reported)
#   PEER_LIMIT=5000    events the peers get per input (they are ~1000× slower)
#   PEER_PYTHON=...    interpreter for the peers' venv (bytewax 0.21.1 has wheels for
#                      CPython 3.8–3.12; default: python3 if in range, else python3.12 /
#                      python3.11 on PATH, else the newest pyenv 3.9–3.12 build)
#
# The peers never enter liqmon's .venv: they live in bench/.peers-windows (git-ignored).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
N="${N:-2000000}"
ROUNDS="${ROUNDS:-2}"
REPEATS="${REPEATS:-2}"
PEER_LIMIT="${PEER_LIMIT:-5000}"
PEERS="bench/.peers-windows"
DATA="$PEERS/data"
OUT="bench/results"
RUNS="$OUT/windows-runs"
mkdir -p "$OUT" "$RUNS"
rm -f "$RUNS"/*.json
COMMANDS="$OUT/windows-commands.txt"
: >"$COMMANDS"
PIN=(taskset -c 0)

in_range() { "$1" -c 'import sys; sys.exit(not (3, 9) <= sys.version_info[:2] <= (3, 12))' 2>/dev/null; }

find_peer_python() {
    if [[ -n "${PEER_PYTHON:-}" ]]; then echo "$PEER_PYTHON"; return; fi
    local cand
    for cand in python3 python3.12 python3.11; do
        if command -v "$cand" >/dev/null && in_range "$(command -v "$cand")"; then
            command -v "$cand"; return
        fi
    done
    local root="${PYENV_ROOT:-$HOME/.pyenv}"
    for cand in $(ls -d "$root"/versions/3.1[0-2]* "$root"/versions/3.9* 2>/dev/null | sort -V -r); do
        if [[ -x "$cand/bin/python3" ]] && in_range "$cand/bin/python3"; then
            echo "$cand/bin/python3"; return
        fi
    done
    echo "no Python 3.9-3.12 found for bytewax 0.21.1; set PEER_PYTHON" >&2
    exit 1
}

# Record a command in the report, then run it.
run() {
    echo "$*" >>"$COMMANDS"
    "$@"
}

PEER_PY="$(find_peer_python)"
if [[ -x "$PEERS/bin/python" ]] && ! in_range "$PEERS/bin/python"; then
    rm -rf "$PEERS/bin" "$PEERS/lib" "$PEERS/include" "$PEERS/pyvenv.cfg"
fi
run "$PEER_PY" -m venv "$PEERS"
run "$PEERS/bin/python" -m pip install -q --disable-pip-version-check --require-hashes \
    -r requirements/bench-windows.lock  # quixstreams 3.28.1, bytewax 0.21.1, locked (scripts/lock)

mkdir -p "$DATA"
gen() {
    local name="$1"; shift
    if [[ ! -s "$DATA/$name-$N.jsonl" ]]; then
        run .venv/bin/python bench/windows.py gen "$DATA/$name-$N.jsonl" --n "$N" "$@"
    fi
}
gen replay --symbols 1000 --rate 500
gen live --symbols 1000 --rate 1000000
gen few --symbols 24 --rate 500

for round in $(seq "$ROUNDS"); do
    for input in replay live few; do
        for mode in aggregation engine; do
            run "${PIN[@]}" .venv/bin/python bench/windows.py measure "$DATA/$input-$N.jsonl" \
                --mode "$mode" --repeats "$REPEATS" --label "$input" \
                --out "$RUNS/liqmon-$input-$mode-$round.json"
        done
        run "${PIN[@]}" "$PEERS/bin/python" bench/peer_quix.py "$DATA/$input-$N.jsonl" \
            --limit "$PEER_LIMIT" --window-s 60 --kind sliding --label "$input" \
            --out "$RUNS/quix-$input-$round.json"
        run "${PIN[@]}" "$PEERS/bin/python" bench/peer_quix.py "$DATA/$input-$N.jsonl" \
            --limit "$PEER_LIMIT" --window-s 60 --kind hopping --label "$input" \
            --out "$RUNS/quix-hopping-$input-$round.json"
        run "${PIN[@]}" "$PEERS/bin/python" bench/peer_bytewax.py "$DATA/$input-$N.jsonl" \
            --limit "$PEER_LIMIT" --window-s 60 --step-s 1 --label "$input" \
            --out "$RUNS/bytewax-$input-$round.json"
    done
done

.venv/bin/python bench/windows.py report "$RUNS"/*.json --commands "$COMMANDS" \
    --json "$OUT/windows.json" --md "$OUT/windows.md"
