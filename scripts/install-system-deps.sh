#!/usr/bin/env bash
# Puts slidegrab's system packages in place on Debian/Ubuntu: Chromium and its driver (the browser
# resolver), ffmpeg (merge, media probing), tesseract (slide OCR), espeak-ng (the replica's speech),
# fonts (slide text).
# Used alike by README.md, .ci/run (through scripts/test.sh) and the Dockerfile (both images).
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
DEBIAN_KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

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

# Writes stdin to $1 under a temporary name first, so apt never reads half a file.
write_file() {
    cat > "$1.tmp"
    mv "$1.tmp" "$1"
}

# Ubuntu ships chromium and chromium-driver only as transitional packages that install the snap, and snapd
# does not run in a container (nor in a chroot). Debian bookworm builds them as real packages, which run on
# Ubuntu 24.04 (22.04's harfbuzz is too old for them). So on Ubuntu: Debian's archive, signed by Debian's
# key (Ubuntu's universe packages it), pinned so that it gives Chromium and nothing Ubuntu has itself.
debian_chromium_on_ubuntu() {
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends debian-archive-keyring
    # bookworm-security is where Debian publishes Chromium's updates.
    write_file /etc/apt/sources.list.d/debian-bookworm.list <<EOF
deb [signed-by=$DEBIAN_KEYRING] http://deb.debian.org/debian bookworm main
deb [signed-by=$DEBIAN_KEYRING] http://deb.debian.org/debian-security bookworm-security main
EOF
    # 700, above Ubuntu's 500: Chromium from Debian, even if Ubuntu has a package of the same name (its snap
    # wrappers carry epoch 2, a "newer" version). 100: the two libraries Chromium needs that Ubuntu lacks (it
    # has libjpeg-turbo8 and libdav1d7 instead). -1: nothing else from Debian. A low priority alone is not
    # enough: apt prefers Debian's real libatk1.0-0, libgtk-3-0, libcups2 ... to the Ubuntu packages that
    # provide those names since their 64-bit time_t renaming (libatk1.0-0t64 ...).
    write_file /etc/apt/preferences.d/debian-bookworm-chromium.pref <<EOF
Package: chromium*
Pin: release o=Debian
Pin-Priority: 700

Package: libjpeg62-turbo libdav1d6
Pin: release o=Debian
Pin-Priority: 100

Package: *
Pin: release o=Debian
Pin-Priority: -1
EOF
}

export DEBIAN_FRONTEND=noninteractive
os_id=$(. /etc/os-release && echo "$ID")
os_version=$(. /etc/os-release && echo "${VERSION_ID:-0}")
if [ "$os_id" = ubuntu ]; then
    if dpkg --compare-versions "$os_version" lt 24.04; then
        echo "install-system-deps: Ubuntu $os_version: Debian's Chromium needs Ubuntu 24.04 or later" >&2
        exit 1
    fi
    debian_chromium_on_ubuntu
fi
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
