#!/usr/bin/env bash
# Parser throughput, one core: every liqmon venue liquidation parser, and cryptofeed's
# Binance futures liquidation handler on the same Binance USDⓈ-M frames, in one run.
#
#   bash bench/run_parsers.sh            # writes bench/results/parsers.{json,md}
#
# Environment (all optional):
#   REPEATS=5 MIN_TIME=0.2   runs per measurement process (median reported), seconds per run
#   ROUNDS=3                 interleaved rounds of the Binance comparison (liqmon, control,
#                            cryptofeed, liqmon, ...): this VM's speed drifts by tens of per
#                            cent between seconds, so both sides sample the same spells
#   PEER_PYTHON=...          interpreter for bench/.peers (cryptofeed 3.0.1 needs Python ≥ 3.13;
#                            default: python3 if ≥ 3.13, else python3.13/python3.14 on PATH,
#                            else the newest pyenv 3.13+/3.14+ build)
#   CONTROL=1                also time liqmon's Binance parser on that same ≥ 3.13 interpreter
#                            (bench/.peers/liqmon-py313, liqmon's runtime imports only, pinned
#                            to the versions in .venv; liqmon itself via PYTHONPATH) so the
#                            ratio can be read without the 3.11 vs 3.13 interpreter difference
#
# cryptofeed never enters liqmon's .venv: it lives in bench/.peers (git-ignored).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
REPEATS="${REPEATS:-5}"
MIN_TIME="${MIN_TIME:-0.2}"
ROUNDS="${ROUNDS:-3}"
CONTROL="${CONTROL:-1}"
PEERS="bench/.peers"
CONTROL_VENV="$PEERS/liqmon-py313"
OUT="bench/results"
mkdir -p "$OUT"
COMMANDS="$OUT/commands.txt"
: >"$COMMANDS"

is_313() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 13))' 2>/dev/null; }

find_peer_python() {
    if [[ -n "${PEER_PYTHON:-}" ]]; then echo "$PEER_PYTHON"; return; fi
    local cand
    for cand in python3 python3.14 python3.13; do
        if command -v "$cand" >/dev/null && is_313 "$(command -v "$cand")"; then
            command -v "$cand"; return
        fi
    done
    local root="${PYENV_ROOT:-$HOME/.pyenv}"
    for cand in $(ls -d "$root"/versions/3.1[3-9]* 2>/dev/null | sort -V -r); do
        if [[ -x "$cand/bin/python3" ]] && is_313 "$cand/bin/python3"; then
            echo "$cand/bin/python3"; return
        fi
    done
    echo "no Python >= 3.13 found for cryptofeed 3.0.1; set PEER_PYTHON" >&2
    exit 1
}

# Record a command in the report, then run it.
run() {
    echo "$*" >>"$COMMANDS"
    "$@"
}

PEER_PY="$(find_peer_python)"
# A venv made by an older interpreter cannot take cryptofeed 3: rebuild it.
if [[ -x "$PEERS/bin/python" ]] && ! is_313 "$PEERS/bin/python"; then
    rm -rf "$PEERS"
fi
run "$PEER_PY" -m venv "$PEERS"
run "$PEERS/bin/python" -m pip install -q --disable-pip-version-check --require-hashes \
    -r requirements/bench-cryptofeed.lock  # cryptofeed 3.0.1, locked (scripts/lock)

if [[ "$CONTROL" == 1 ]]; then
    mapfile -t PINS < <(.venv/bin/python - <<'EOF'
from importlib.metadata import version
for name in ("msgspec", "numpy", "prometheus-client", "typing-extensions", "websockets", "zstandard"):
    print("%s==%s" % (name, version(name)))
EOF
)
    run "$PEER_PY" -m venv "$CONTROL_VENV"
    run "$CONTROL_VENV/bin/python" -m pip install -q --disable-pip-version-check "${PINS[@]}"
fi

PIN=()
if command -v taskset >/dev/null && taskset -c 0 true 2>/dev/null; then
    PIN=(taskset -c 0)
else
    echo "taskset unavailable: running unpinned" >&2
fi

MEASURE=(bench/parsers.py measure --repeats "$REPEATS" --min-time "$MIN_TIME")
PEER=(bench/peer_cryptofeed.py --repeats "$REPEATS" --min-time "$MIN_TIME")
rm -f "$OUT"/liqmon-*.json "$OUT"/control-*.json "$OUT"/cryptofeed-*.json
LIQMON_FILES=() CONTROL_FILES=() PEER_FILES=()
for round in $(seq 1 "$ROUNDS"); do
    if [[ "$round" == 1 ]]; then
        run "${PIN[@]}" .venv/bin/python "${MEASURE[@]}" --out "$OUT/liqmon-$round.json"
    else
        run "${PIN[@]}" .venv/bin/python "${MEASURE[@]}" --binance-only \
            --out "$OUT/liqmon-$round.json"
    fi
    LIQMON_FILES+=("$OUT/liqmon-$round.json")
    if [[ "$CONTROL" == 1 ]]; then
        run env PYTHONPATH="$ROOT" "${PIN[@]}" "$CONTROL_VENV/bin/python" "${MEASURE[@]}" \
            --binance-only --out "$OUT/control-$round.json"
        CONTROL_FILES+=("$OUT/control-$round.json")
    fi
    run "${PIN[@]}" "$PEERS/bin/python" "${PEER[@]}" --out "$OUT/cryptofeed-$round.json"
    PEER_FILES+=("$OUT/cryptofeed-$round.json")
done

echo ".venv/bin/python bench/parsers.py report --liqmon ... --peer ... [--control ...]" \
    >>"$COMMANDS"
CONTROL_ARGS=()
if [[ "$CONTROL" == 1 ]]; then CONTROL_ARGS=(--control "${CONTROL_FILES[@]}"); fi
.venv/bin/python bench/parsers.py report --liqmon "${LIQMON_FILES[@]}" \
    --peer "${PEER_FILES[@]}" "${CONTROL_ARGS[@]}" --commands "$COMMANDS" \
    --json "$OUT/parsers.json" --md "$OUT/parsers.md"
