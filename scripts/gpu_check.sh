#!/usr/bin/env bash
# Transcribe the replica's speech with both engines on CUDA (faster-whisper float16, batched; openai-whisper
# fp16) and print the real-time factor and the words of each. Installs nothing from the network.
# Record the figures, with the GPU's name, in scripts/BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || echo "no nvidia-smi"
PYTHONPATH=src${PYTHONPATH:+:$PYTHONPATH} exec python3 scripts/gpu_check.py "$@"
