# Sourced by scripts/run, scripts/test and bench/run: make .venv hold exactly a lock.
#
#   ensure_venv requirements/dev.lock [requirements/runtime.lock]
#
# The first lock is installed when .venv was not made from any of the locks given
# (.venv/liqmon-lock names the lock file and its sha256); a .venv from an older lock is
# rebuilt from scratch, so no package a lock dropped lingers. pip installs with
# --require-hashes: every package is the locked version and file. liqmon itself goes in
# editable, with the locked setuptools and no build isolation (nothing unlocked fetched).
ensure_venv() {
  local want="$1" lock stamp
  for lock in "$@"; do
    stamp="$lock $(sha256sum "$lock" | cut -d' ' -f1)"
    if [ -x .venv/bin/python ] && [ "$(cat .venv/liqmon-lock 2>/dev/null)" = "$stamp" ]; then
      return 0
    fi
  done
  echo "== installing .venv from $want"
  rm -rf .venv
  python3 -m venv .venv
  .venv/bin/python -m pip install --quiet --require-hashes -r "$want"
  .venv/bin/python -m pip install --quiet --no-deps --no-build-isolation -e .
  echo "$want $(sha256sum "$want" | cut -d' ' -f1)" > .venv/liqmon-lock
}
