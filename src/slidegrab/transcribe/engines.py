"""Whisper engines behind one interface, and faster-whisper, the default one.

An engine takes the audio and the chunks (slide intervals packed into 30 s, each chunk with its own prompt)
and returns a lazy iterator of segments and a ``TranscriptInfo``. Each chunk is decoded on its own, with its
own prompt and no conditioning on text from other chunks; each word lands on the slide shown when it is
spoken, and a segment that runs over a slide change inside its chunk is cut there.
``load_engine`` keeps one loaded model per (engine, model, device, compute type) for the whole process.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import itertools
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from slidegrab.cores import CpuShare
from slidegrab.errors import MediaError, UsageError
from slidegrab.transcribe import chunks as chunking
from slidegrab.transcribe.model import Chunk, Segment, TranscriptInfo, TranscriptOptions, Word
from slidegrab.transcribe.models import ModelError, faster_whisper_model

ENGINES = {
    "faster-whisper": "slidegrab.transcribe.engines:FasterWhisperEngine",
    "openai-whisper": "slidegrab.transcribe.openai_engine:OpenAIWhisperEngine",
}
SAMPLE_RATE = 16000
LANGUAGE_SPEECH_S = 30.0  # language detection listens to this much speech around the middle of the talk
LOADS: Counter = Counter()  # (engine, model, model_dir, device, compute_type) → times loaded in this process
_CACHE: dict[tuple[tuple, CpuShare], Engine] = {}
_CACHE_LOCK = threading.Lock()


class Engine(Protocol):
    name: str

    def transcribe(
        self, audio: Path, chunks: list[Chunk], options: TranscriptOptions
    ) -> tuple[Iterator[Segment], TranscriptInfo]: ...


def load_engine(options: TranscriptOptions, cpu: CpuShare | None = None) -> Engine:
    """The engine and model ``options`` ask for, loaded once per process (thread-safe), with ``cpu``'s threads
    per talk and talks at once (default: one talk with every core)."""
    if options.engine not in ENGINES:
        raise UsageError(f"unknown engine {options.engine!r}", hint=f"one of {', '.join(ENGINES)}")
    device = resolve_device(options.device, options.engine)
    cpu = cpu or CpuShare.for_jobs(1)
    key = (options.engine, options.model, options.model_dir, device, options.compute_type)
    with _CACHE_LOCK:  # a second talk asking for the same model waits for the first load
        if (key, cpu) not in _CACHE:
            module, _, name = ENGINES[options.engine].partition(":")
            cls = getattr(importlib.import_module(module), name)
            _CACHE[key, cpu] = cls(options.model, device, options.compute_type, model_dir=options.model_dir, cpu=cpu)
            LOADS[key] += 1
        return _CACHE[key, cpu]


def resolve_device(device: str, engine: str = "faster-whisper") -> str:
    """``auto`` → ``cuda`` when the engine's own runtime sees a CUDA device (CTranslate2 for faster-whisper,
    torch for openai-whisper: a CPU build of torch on a GPU machine means cpu), else ``cpu``."""
    if device not in ("auto", "cpu", "cuda"):
        raise UsageError(f"unknown device {device!r}", hint="auto, cpu or cuda")
    if device != "auto":
        return device
    try:
        if engine == "openai-whisper":
            import torch

            return "cuda" if torch.cuda.is_available() else "cpu"
        import ctranslate2

        return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    except Exception:  # a broken CUDA install (or no torch) must not stop CPU transcription
        return "cpu"


class ChunkedWhisper:
    """What both engines share: the audio decoded once, speech found by VAD, chunk edges moved into
    silences, the language settled once, every chunk decoded alone with its own prompt, and the segments
    placed back in talk time on their chunk's slide. Subclasses load a model and say how to decode."""

    name: str
    model_name: str
    device: str
    compute_type: str

    def transcribe(
        self, audio: Path, chunks: list[Chunk], options: TranscriptOptions
    ) -> tuple[Iterator[Segment], TranscriptInfo]:
        """Lazy segments, each on its chunk's slide, and the info (language, duration, speech ranges)."""
        samples = decode_audio(audio)
        duration = len(samples) / SAMPLE_RATE
        speech = speech_ranges(samples) if options.vad else [(0.0, duration)]
        chunks = chunking.snap_to_silence(chunking.cover(chunks, duration), speech)
        language, probability = self._language(samples, speech, options.language)
        info = TranscriptInfo(
            self.name, self.model_name, self.device, self.compute_type, language, probability, duration, len(chunks)
        )
        info.speech = speech if options.vad else None  # for the quality figures
        windows = [(c, w, chunking.overlap(w, speech)) for c in chunks if (w := chunking.speech_window(c, speech))]
        return placed_segments(self._decoder()(samples, windows, language, options), speech), info

    def _decoder(self) -> Any:
        return self._sequential

    def _sequential(self, samples, windows, language, options) -> Iterator[tuple[Chunk, float, Any]]:
        """Each chunk's speech decoded alone with its own prompt (times relative to the window start)."""
        for chunk, (start, end), speech in windows:
            found = self._decode(
                samples[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)], chunk.prompt, language, options
            )
            if chunk.prompt:
                found, start = self._fuller(samples, (start, end), speech, found, start, language, options)
            for segment in found:
                yield chunk, start, segment

    def _fuller(self, samples, window, speech, found, offset, language, options) -> tuple[list[Any], float]:
        """``found`` (at ``offset``), or the window decoded again alone and unprompted when ``found`` spans under
        half of its speech and that does better: a prompt, or a batch, can lead a small model to stop after a
        word or two."""
        if spoken_seconds(found) >= RETRY_BELOW * speech:
            return found, offset
        start, end = window
        again = self._decode(samples[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)], "", language, options)
        return (again, start) if spoken_seconds(again) > spoken_seconds(found) else (found, offset)

    def _language(self, samples: Any, speech: list[tuple[float, float]], wanted: str | None) -> tuple[str, float]:
        raise NotImplementedError

    def _decode(self, piece: Any, prompt: str, language: str, options: TranscriptOptions) -> list[Any]:
        raise NotImplementedError


class FasterWhisperEngine(ChunkedWhisper):
    """faster-whisper (CTranslate2): int8 on CPU, float16 on GPU; the chunks decoded in batches on either (on
    the CPU too: a slide's chunk is often a few seconds padded to Whisper's 30 s window, and batching such
    windows took the catalogue from 59 to 25 CPU-s at a lower WER, 0.21 vs 0.27; scripts/BENCHMARKS.md).
    On the CPU, each decode has the talk's share of threads, and as many talks as the share allows decode at once
    (CTranslate2's workers), each through its own view of the one loaded model (``_ModelView``)."""

    name = "faster-whisper"
    batch_size = 8

    def __init__(
        self,
        model_path_or_name: str | None,
        device: str = "auto",
        compute_type: str = "default",
        *,
        model_dir: str | None = None,
        batched: bool = True,
        cpu: CpuShare | None = None,
    ):
        from faster_whisper import WhisperModel

        self.model_name, path = faster_whisper_model(model_path_or_name, model_dir)
        self.device = resolve_device(device)
        self.compute_type = compute_type if compute_type != "default" else _default_compute(self.device)
        cpu = cpu or CpuShare.for_jobs(1)
        # workers: talks decoded at once; on a GPU one, as before (the share is about the CPU's cores)
        threads, workers = min(MAX_THREADS, cpu.threads), cpu.lanes if self.device == "cpu" else 1
        try:
            self.model = WhisperModel(
                str(path), self.device, compute_type=self.compute_type, cpu_threads=threads, num_workers=workers
            )
        except (RuntimeError, ValueError) as error:
            raise ModelError(f"cannot load model {self.model_name} on {self.device}: {error}") from None
        self.batched = batched

    def _decoder(self) -> Any:
        return self._batched if self.batched else self._sequential

    def _language(self, samples: Any, speech: list[tuple[float, float]], wanted: str | None) -> tuple[str, float]:
        """English for an English-only model, else ``wanted``, else detected once from speech in the middle."""
        if not self.model.model.is_multilingual:
            return "en", 1.0
        if wanted:
            return wanted, 1.0
        import numpy as np

        ranges = chunking.around_middle(speech, len(samples) / SAMPLE_RATE, LANGUAGE_SPEECH_S)
        piece = np.concatenate([samples[int(a * SAMPLE_RATE) : int(b * SAMPLE_RATE)] for a, b in ranges])
        if len(piece) < SAMPLE_RATE // 10:  # no audio to listen to (and so nothing to transcribe either)
            return "en", 0.0
        language, probability, _ = self.model.detect_language(piece)
        return language, float(probability)

    def _decode(self, piece: Any, prompt: str, language: str, options: TranscriptOptions) -> list[Any]:
        from faster_whisper.vad import VadOptions

        segments, _ = self.model.transcribe(
            piece,
            language=language,
            beam_size=options.beam_size,
            initial_prompt=prompt or None,
            condition_on_previous_text=False,
            vad_filter=options.vad,
            vad_parameters=VadOptions(**VAD),
            word_timestamps=True,
        )
        return list(segments)

    def _batched(self, samples, windows, language, options) -> Iterator[tuple[Chunk, float, Any]]:
        """All chunks through the batched pipeline, each batch element with its own chunk's prompt; a chunk
        that comes back nearly empty is decoded again alone (``_fuller``)."""
        if not windows:
            return
        clips = [{"start": a, "end": b} for _, (a, b), _ in windows]
        fps = self.model.frames_per_second
        by_seek = {int(int(a * SAMPLE_RATE) / SAMPLE_RATE * fps): n for n, (_, (a, _), _) in enumerate(windows)}
        pipeline = _pipeline_class()(self.model, {int(a * SAMPLE_RATE): c.prompt for c, (a, _), _ in windows})
        segments, _ = pipeline.transcribe(
            samples,
            language=language,
            clip_timestamps=clips,
            batch_size=self.batch_size,
            beam_size=options.beam_size,
            word_timestamps=True,
        )
        grouped = itertools.groupby(segments, key=lambda segment: by_seek[segment.seek])
        pending = next(grouped, None)
        for n, (chunk, window, speech) in enumerate(windows):
            found: list[Any] = []
            if pending is not None and pending[0] == n:
                found, pending = list(pending[1]), next(grouped, None)
            found, offset = self._fuller(samples, window, speech, found, 0.0, language, options)
            for segment in found:
                yield chunk, offset, segment


MAX_THREADS = 4  # threads per decode at most: CTranslate2's own default when none is given
VAD = {"min_silence_duration_ms": 500, "speech_pad_ms": 200}  # Silero settings: cut pauses of half a second


RETRY_BELOW = 0.5  # a chunk whose segments span less than this share of its speech is redone alone, unprompted


def spoken_seconds(segments: list[Any]) -> float:
    """Seconds the decoded segments span."""
    return sum(s.end - s.start for s in segments)


def speech_ranges(samples: Any) -> list[tuple[float, float]]:
    """Where Silero VAD hears speech, in seconds."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    found = get_speech_timestamps(samples, VadOptions(**VAD), sampling_rate=SAMPLE_RATE)
    return [(r["start"] / SAMPLE_RATE, r["end"] / SAMPLE_RATE) for r in found]


def decode_audio(audio: Path) -> Any:
    from faster_whisper import decode_audio

    try:
        return decode_audio(str(audio), sampling_rate=SAMPLE_RATE)
    except Exception as error:  # PyAV raises its own error classes for unreadable media
        raise MediaError(f"cannot decode {Path(audio).name}: {error}") from None


def _default_compute(device: str) -> str:
    return "float16" if device == "cuda" else "int8"


def placed_segments(
    raw: Iterator[tuple[Chunk, float, Any]], speech: Sequence[tuple[float, float]] = ()
) -> Iterator[Segment]:
    """Engine segments in talk time, kept inside their chunk, each starting no earlier than the last ended, each
    on the slide shown when its words are spoken (``speech``: where VAD heard speech)."""
    last = 0.0
    for chunk, offset, seg in raw:
        low = max(chunk.start, last)
        start, end = _clamp(offset + seg.start, low, chunk.end), _clamp(offset + seg.end, low, chunk.end)
        words, floor = [], start
        for w in seg.words or ():
            begin = _clamp(offset + w.start, floor, chunk.end)
            floor = _clamp(offset + w.end, begin, chunk.end)
            words.append(Word(begin, floor, w.word, float(w.probability)))
        last = max(end, floor)
        near = [(a, b) for a, b in speech if a < chunk.end and b > chunk.start] if chunk.parts else []
        yield from by_slide(chunk, Segment(
            start,
            last,
            seg.text,
            chunk.slide_at(heard_middle(start, last, near)),
            tuple(words),
            float(seg.avg_logprob),
            float(seg.no_speech_prob),
            float(seg.compression_ratio),
        ), near)  # fmt: skip


def by_slide(chunk: Chunk, segment: Segment, speech: Sequence[tuple[float, float]] = ()) -> list[Segment]:
    """``segment`` cut where the slide changes between its words (a chunk may hold several slides); a word is
    on the slide shown at the middle of what is heard of it."""
    if not chunk.parts or not segment.words:
        return [segment]
    runs = [(slide, tuple(words)) for slide, words in itertools.groupby(
            segment.words, key=lambda w: chunk.slide_at(heard_middle(w.start, w.end, speech)))]  # fmt: skip
    if len(runs) == 1:
        return [dataclasses.replace(segment, slide=runs[0][0])]
    return [
        dataclasses.replace(
            segment,
            start=segment.start if k == 0 else words[0].start,
            end=segment.end if k == len(runs) - 1 else words[-1].end,
            text="".join(w.word for w in words),
            slide=slide,
            words=words,
        )
        for k, (slide, words) in enumerate(runs)
    ]


def heard_middle(start: float, end: float, speech: Sequence[tuple[float, float]]) -> float:
    """The middle of the part of ``[start, end]`` inside speech, else of all of it: Whisper often starts a word
    in the pause before it (tiny.en put "We" at 3.2-4.2 s, its speech starting at 3.7, the slide at 3.9)."""
    inside = [(max(a, start), min(b, end)) for a, b in speech if a < end and b > start]
    return (inside[0][0] + inside[-1][1]) / 2 if inside else (start + end) / 2


def _clamp(t: float, low: float, high: float) -> float:
    return round(min(max(float(t), low), high), 3)


@functools.cache
def _pipeline_class() -> type:
    """``PromptedPipeline``, defined on first use so that importing this module does not import faster-whisper."""
    from faster_whisper import BatchedInferencePipeline

    class PromptedPipeline(BatchedInferencePipeline):
        """faster-whisper's batched pipeline, each batch element decoded with its own chunk's prompt.

        Upstream builds one prompt and hands CTranslate2 a copy per element, though CTranslate2's ``generate``
        takes a prompt per element. This pipeline lets upstream do everything else and, for the duration of
        its call, puts a stand-in for the CTranslate2 model in its own view of the shared model, whose
        ``generate`` uses our prompts.
        """

        def __init__(self, model: Any, prompts: dict[int, str]):
            super().__init__(_ModelView(model))
            self.prompts = prompts  # chunk start in samples → prompt text
            self.batch: list[str] = []

        def forward(self, features, tokenizer, chunks_metadata, options):
            self.batch = [self.prompts.get(round(m["offset"] * SAMPLE_RATE), "") for m in chunks_metadata]
            return super().forward(features, tokenizer, chunks_metadata, options)

        def generate_segment_batched(self, features, tokenizer, options):
            prompts = _batch_prompts(self.model, tokenizer, self.batch, options.without_timestamps)
            real = self.model.model
            self.model.model = _PromptedGenerate(real, prompts)
            try:
                return super().generate_segment_batched(features, tokenizer, options)
            finally:
                self.model.model = real

    return PromptedPipeline


class _ModelView:
    """The shared ``WhisperModel`` as one pipeline sees it: everything is the shared model's but the CTranslate2
    handle (``model``), so a stand-in put there is seen by that pipeline alone while other talks decode."""

    def __init__(self, shared: Any):
        self._shared, self.model = shared, shared.model

    def __getattr__(self, name: str) -> Any:
        return getattr(self._shared, name)


class _PromptedGenerate:
    """Delegates everything to a CTranslate2 Whisper model, except that ``generate`` uses fixed prompts."""

    def __init__(self, inner: Any, prompts: list[list[int]]):
        self._inner, self._prompts = inner, prompts

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def generate(self, features: Any, _shared_prompts: Any, **kwargs: Any) -> Any:
        return self._inner.generate(features, self._prompts, **kwargs)


def _batch_prompts(model: Any, tokenizer: Any, texts: list[str], without_timestamps: bool) -> list[list[int]]:
    """One token prompt per element, left-padded with spaces: CTranslate2 wants <|startoftranscript|> at the
    same position in every prompt of a batch."""
    previous = [tokenizer.encode(" " + t.strip()) if t.strip() else [] for t in texts]
    longest = max(map(len, previous), default=0)
    space = tokenizer.encode(" ")
    return [
        model.get_prompt(tokenizer, space * (longest - len(p)) + p, without_timestamps=without_timestamps)
        for p in previous
    ]
