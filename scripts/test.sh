#!/usr/bin/env bash
# The README's test command: install the project with its test extra into .venv
# (creating it on first use) and run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# constraints.txt pins the CPU torch build that lies on disk (see README).
.venv/bin/python -m pip install -q -c constraints.txt -e '.[test]'
exec .venv/bin/python -m pytest "$@"
