#!/usr/bin/env bash
# Puts slidegrab's system packages in place on Debian/Ubuntu: Chromium and its driver (the browser
# resolver), ffmpeg (merge, media probing), tesseract (slide OCR), espeak-ng (the replica's speech),
# fonts (slide text).
# Used alike by README.md, .ci/run (through scripts/test.sh) and the Dockerfile.
# --clean: remove apt's package lists and cache afterwards (for container images).
set -euo pipefail

clean=false
for arg in "$@"; do
    case "$arg" in
        --clean) clean=true ;;
        *) echo "install-system-deps: unknown option $arg (known: --clean)" >&2; exit 2 ;;
    esac
done

PACKAGES=(chromium chromium-driver ffmpeg tesseract-ocr espeak-ng fonts-dejavu-core ca-certificates)

if [ "$(id -u)" -ne 0 ]; then
    exec sudo --preserve-env=DEBIAN_FRONTEND "$0" "$@"
fi

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
    echo "system packages already installed: ${PACKAGES[*]}"
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
for tool in chromium chromedriver ffmpeg ffprobe tesseract espeak-ng; do
    command -v "$tool" >/dev/null || { echo "install-system-deps: $tool missing after install" >&2; exit 1; }
done
if "$clean"; then
    apt-get clean
    rm -rf /var/lib/apt/lists/*
fi
echo "installed: ${missing[*]}"
