#!/usr/bin/env bash
# Builds the Dockerfile's `cpu` image with podman (no Docker engine, no registry) and runs it as its uid 1000
# user: `slidegrab demo` writing to a mounted /archive, then `slidegrab discover` through the replica, which
# must start Chromium WITH its sandbox. Prints the image size and timings. Needs root, podman (plus runc on
# hosts with hybrid cgroups v1/v2, which crun refuses) and, only when python:3.11-slim-bookworm is absent,
# debootstrap. Minutes of CPU: run it by hand, never in CI.
# The containers run under docker/chromium-seccomp.json, the profile README's `docker run` lines give: Docker's
# default plus the namespaces Chromium's sandbox needs. SECCOMP_PROFILE=file runs them under another one, e.g.
# Docker's own default to see what a plain `docker run` does (no unprivileged namespaces: Chromium then fails);
# SECCOMP_PROFILE= (empty) under podman's default, which allows the namespaces.
set -euo pipefail
seccomp=${SECCOMP_PROFILE-}
if [ -n "$seccomp" ]; then seccomp=$(realpath -e -- "$seccomp"); fi  # relative to the caller's folder
cd "$(dirname "$0")/.."
[ -n "${SECCOMP_PROFILE+set}" ] || seccomp=$PWD/docker/chromium-seccomp.json

BASE=docker.io/library/python:3.11-slim-bookworm
IMAGE=localhost/slidegrab-check
fail() { echo "container_check: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "container_check: run as root (rootful podman)" >&2; exit 2; }
work=$(mktemp -d /tmp/slidegrab-container.XXXXXX)
trap 'umount "$work/rootfs/proc" 2>/dev/null || true; rm -rf "$work"' EXIT

# podman must not raise limits above the caller's hard limits (a sandbox without CAP_SYS_RESOURCE refuses;
# podman drops its own nproc to 32768), and crun refuses hybrid cgroup v1/v2 hosts where runc does not.
nproc=$(ulimit -Hu)
if [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ]; then nproc=32768; fi
nofile=$(ulimit -Hn)
if [ "$nofile" = unlimited ]; then nofile=1048576; fi
{
    echo '[containers]'
    echo "default_ulimits = [\"nofile=$nofile:$nofile\", \"nproc=$nproc:$nproc\"]"
    if command -v runc >/dev/null; then printf '[engine]\nruntime = "runc"\n'; fi
} > "$work/containers.conf"
export CONTAINERS_CONF="$work/containers.conf"
security=()
if [ -n "$seccomp" ]; then security=(--security-opt "seccomp=$seccomp"); fi
echo "seccomp profile: ${seccomp:-the podman default}"

# The stand-in for the official base: Debian's own python3.11, answering to python/python3/pip, pip free to
# install system-wide, and this host's extra CA certificates (a TLS-inspecting proxy's) so pip can reach PyPI.
stand_in_base() {
    local mirror root="$work/rootfs"
    mirror=$(grep -rhE '^(deb|URIs:) ' /etc/apt/sources.list* 2>/dev/null | grep -oE 'https?://[^ ]+/debian( |/|$)' \
        | head -1 || true)
    mirror=${mirror%[ /]}
    mirror=${mirror:-http://deb.debian.org/debian}
    debootstrap --variant=minbase bookworm "$root" "$mirror" >/dev/null
    # The official image's sources: bookworm, its updates, its security updates.
    printf 'deb %s bookworm%s main\n' "$mirror" "" "$mirror" -updates "$mirror-security" -security \
        > "$root/etc/apt/sources.list"
    mkdir -p "$root/usr/local/share/ca-certificates"
    find /usr/local/share/ca-certificates -maxdepth 1 -name '*.crt' \
        -exec cp -t "$root/usr/local/share/ca-certificates" {} +
    mount -t proc proc "$root/proc"
    chroot "$root" /usr/bin/env DEBIAN_FRONTEND=noninteractive bash -c 'apt-get update -qq \
        && apt-get install -y -qq --no-install-recommends python3.11 python3-pip python3-venv ca-certificates \
           netbase tzdata >/dev/null && update-ca-certificates >/dev/null \
        && apt-get clean && rm -rf /var/lib/apt/lists/*'
    umount "$root/proc"
    ln -sf python3 "$root/usr/bin/python"
    rm -f "$root/usr/lib/python3.11/EXTERNALLY-MANAGED"
    tar -C "$root" -c . | podman import -q --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' - "$BASE"
}
podman image exists "$BASE" || { echo "building a stand-in for $BASE (debootstrap)"; stand_in_base; }

start=$SECONDS
# --format docker: the OCI format has no SHELL, which the Dockerfile sets. --no-cache: podman's layer cache
# ignores what a `RUN --mount=type=bind` sees, so a cached layer would keep an older checkout's slidegrab.
podman build --quiet --no-cache --format docker --pull=never --network=host --target cpu -t "$IMAGE" .
echo "build: $((SECONDS - start)) s"

# A bind-mounted archive keeps its host owner: give it to the image's uid 1000.
archive="$work/archive"
install -d -o 1000 -g 1000 "$archive"
start=$SECONDS
podman run --rm --network=host "${security[@]}" -v "$archive:/archive" "$IMAGE" -q demo -o /archive
echo "demo: $((SECONDS - start)) s"
for talk in "$archive"/*/; do
    for f in talk.json slides.pdf audio.m4a slides-video.mp4 transcript.txt; do
        [ -s "$talk$f" ] || fail "$talk$f missing or empty"
    done
done
[ "$(find "$archive" -not -uid 1000 | wc -l)" -eq 0 ] \
    || fail "files not owned by uid 1000"
echo "archive: $(find "$archive" -mindepth 1 -maxdepth 1 -type d | wc -l) talks, all files owned by uid 1000"

# The demo's talks need no browser, so `discover` starts Chromium. Meanwhile this host records, for every
# Chromium process in that container (its cgroup names the container): uid, user namespace, arguments.
watch_chromium() {
    local cid="" pid uid ns args
    while kill -0 "$1" 2>/dev/null; do
        [ -n "$cid" ] || cid=$(cat "$work/cid" 2>/dev/null) || true
        for pid in $(pgrep -f -- '--user-data-dir=/tmp/slidegrab-chromium-' || true); do
            if [ -z "$cid" ] || ! grep -qs "$cid" "/proc/$pid/cgroup"; then continue; fi
            # A process may end while it is read: keep only what was read whole.
            uid=$(stat -c %u "/proc/$pid" 2>/dev/null) || continue
            ns=$(readlink "/proc/$pid/ns/user") || continue
            args=$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null) || continue
            if [ -n "$args" ]; then echo "$uid $ns $args" >> "$work/chromium.txt"; fi
        done
        sleep 0.2
    done
}
podman run --rm --network=host "${security[@]}" --cidfile "$work/cid" --entrypoint python3 "$IMAGE" \
    -m slidegrab.replica run -- slidegrab discover https://iclr.cc/virtual_2020/poster_Hklr204Fvr.html \
    --proxy '{proxy}' --ca-bundle '{ca}' &
runner=$!
watch_chromium "$runner"
wait "$runner" || fail "slidegrab discover failed: Chromium did not start (its error is above)"
[ -s "$work/chromium.txt" ] || fail "no Chromium process seen"
if grep -q -- --no-sandbox "$work/chromium.txt"; then fail "Chromium ran with --no-sandbox"; fi
if grep -qv '^1000 ' "$work/chromium.txt"; then fail "Chromium ran as a uid other than 1000"; fi
# The sandbox puts renderers into user namespaces of their own: none may share the browser process's.
browser_ns=$(grep -v -- ' --type=' "$work/chromium.txt" | cut -d' ' -f2 | sort -u)
renderer_ns=$(grep -- ' --type=renderer ' "$work/chromium.txt" | cut -d' ' -f2 | sort -u)
[ "$(wc -w <<< "$browser_ns")" -eq 1 ] || fail "expected one browser process, saw: ${browser_ns:-none}"
[ -n "$renderer_ns" ] || fail "no renderer seen"
if grep -qxF -- "$browser_ns" <<< "$renderer_ns"; then fail "a renderer shares the browser's user namespace"; fi
echo "chromium: uid 1000, no --no-sandbox, renderers in $(wc -l <<< "$renderer_ns") user namespace(s)" \
    "other than the browser's ($browser_ns)"
echo "image size: $(podman image inspect --format '{{.Size}}' "$IMAGE") bytes"
