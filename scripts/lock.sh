#!/usr/bin/env bash
# Writes requirements/lock.txt: the exact versions of everything the test and dev
# environment installs (the package's dependencies plus its dev and ml extras).
# `make test` and `make run` install with it as pip constraints, so every fresh
# clone gets these versions until someone runs this again (`make lock`) and
# commits the result. pyproject.toml keeps ranges for people who pip install it.
#
# How: a fresh virtual environment in a temporary folder; torch pinned first
# (TORCH, default torch==2.13.0: the CPU wheel; an unpinned torch resolves to a
# multi-GB CUDA build); then `pip install -e ".[dev,ml]"`, which takes the newest
# releases the ranges allow; then `pip freeze --exclude-editable`. A local version
# label is dropped (torch==2.13.0+cpu -> torch==2.13.0) so the pin matches the CPU
# and the CUDA builds alike: which build you get is chosen by the index, not here.
#
#   scripts/lock.sh                 write requirements/lock.txt
#   scripts/lock.sh --diff VENV     print how VENV's packages differ from the lock
set -euo pipefail
cd "$(dirname "$0")/.."

LOCK=requirements/lock.txt
PYTHON="${PYTHON:-python3}"
TORCH="${TORCH:-torch==2.13.0}"

frozen() { # the packages of the venv whose pip is $1, normalised, in pip's order
    "$1" freeze --exclude-editable --disable-pip-version-check |
        grep -v -e '^#' -e '^-e ' |
        sed -E 's/^([A-Za-z0-9._-]+)==([^+ ]+)\+[^ ]*$/\1==\2/'
}

if [ "${1:-}" = "--diff" ]; then
    venv="${2:?usage: scripts/lock.sh --diff VENV}"
    # '<' lines: the lock; '>' lines: the venv. Exit 0 either way: this reports drift.
    diff <(grep -v -e '^#' -e '^$' "$LOCK" | LC_ALL=C sort -f) <(frozen "$venv/bin/pip" | LC_ALL=C sort -f) || true
    exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "lock: a fresh venv in $work (torch: $TORCH); this takes a few minutes" >&2
"$PYTHON" -m venv "$work/venv"
pip="$work/venv/bin/pip"
"$pip" install --quiet --disable-pip-version-check "$TORCH"
"$pip" install --quiet --disable-pip-version-check -e ".[dev,ml]"
python_version="$("$work/venv/bin/python" -c 'import platform; print(platform.python_version(), platform.system(), platform.machine())')"

mkdir -p "$(dirname "$LOCK")"
{
    echo "# The test and dev environment of Session Lab, pinned: every package that"
    echo "# 'pip install $TORCH' then 'pip install -e \".[dev,ml]\"' installed, with its version."
    echo "# Made by 'make lock' (scripts/lock.sh) in a fresh venv on Python $python_version."
    echo "# 'make test' and 'make run' install with it as constraints (pip -c). Do not edit by"
    echo "# hand: change the ranges in pyproject.toml, run 'make lock' and commit this file."
    echo "# torch's local label (+cpu) is dropped, so the CPU and CUDA builds both match."
    frozen "$pip"
} >"$LOCK.tmp"
mv "$LOCK.tmp" "$LOCK"
echo "lock: wrote $LOCK ($(grep -vc '^#' "$LOCK") packages)" >&2
