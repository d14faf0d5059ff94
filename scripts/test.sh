#!/usr/bin/env bash
# The whole test suite on a fresh Debian/Ubuntu machine: system packages, Python packages, lint, pytest.
# This is the README's test command, and what .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-system-deps.sh
python3 -m pip install --quiet --disable-pip-version-check -e '.[test]'
python3 -m ruff check src tests scripts
python3 -m pytest "$@"
