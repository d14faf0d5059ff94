"""What Whisper says when nobody speaks, and how good a talk's transcript looks as a whole.

``drop_hallucinations`` removes the well-known silence phrases ("Thanks for watching!", subtitle credits,
a lone "you") when the decoder itself was unsure (high no-speech probability or low log probability), and
collapses a line repeated back to back. ``talk_quality`` sums a transcript up in a few figures and a
``suspect`` flag, so that bad talks can be found in talk.json and transcribed again with a bigger model.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from slidegrab.transcribe.model import Segment

# normalised text (lower case, letters, digits and single spaces) of lines Whisper invents on silence
SILENCE_PHRASES = re.compile(
    r"(thank you|thanks|thank you very much|thank you so much)( for (watching|listening|your attention))?"
    r"|(please )?(like and )?subscribe( to (my|our|the) channel)?|you|bye|bye bye|so|okay|oh"
    r"|(subtitles|captions|transcription|transcript)( by| from| provided by| created by)? .*"
    r"|.*amara org.*|((i|we) ll |(i|we) will )?see you (all )?(in the )?next (time|video|one)|music|applause|silence"
)
UNSURE_NO_SPEECH = 0.3  # a silence phrase is dropped when no_speech_prob is at least this …
UNSURE_LOGPROB = -0.7  # … or avg_logprob at most this
NO_SPEECH = 0.6  # a segment counts as "no speech" above this (Whisper's own no_speech_threshold)
SUSPECT = {"avg_logprob": -1.0, "no_speech_ratio": 0.3, "compression_ratio": 2.4, "speech_covered": 0.5}


def normalise(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def is_hallucination(segment: Segment) -> bool:
    """A silence phrase, or no words at all (only "♪", "...", brackets), said while the decoder was unsure."""
    text = normalise(segment.text)
    unsure = segment.no_speech_prob >= UNSURE_NO_SPEECH or segment.avg_logprob <= UNSURE_LOGPROB
    return not text or (unsure and bool(SILENCE_PHRASES.fullmatch(text)))


def drop_hallucinations(segments: Iterable[Segment], dropped: list[Segment] | None = None) -> Iterator[Segment]:
    """The segments without silence hallucinations and without a line repeating the one before it (lazy;
    what is left out goes to ``dropped`` when given)."""
    previous = None
    for segment in segments:
        text = normalise(segment.text)
        if is_hallucination(segment) or (text and text == previous):
            if dropped is not None:
                dropped.append(segment)
            continue
        previous = text
        yield segment


def talk_quality(
    segments: Sequence[Segment], duration: float, speech: Sequence[tuple[float, float]] | None = None
) -> dict[str, Any]:
    """Duration-weighted mean log probability and compression ratio, the share of segment time the decoder
    thought silent, how much of the audio the segments cover, how much of the detected speech they cover,
    and ``suspect`` with the ``reasons`` (figures past the ``SUSPECT`` thresholds)."""
    weights = [max(s.end - s.start, 0.01) for s in segments]
    total = sum(weights) or 1.0

    def mean(values: Iterable[float]) -> float:
        return round(sum(w * v for w, v in zip(weights, values, strict=True)) / total, 3)

    covered = _union((s.start, s.end) for s in segments)
    figures: dict[str, Any] = {
        "avg_logprob": mean(s.avg_logprob for s in segments),
        "no_speech_ratio": mean(float(s.no_speech_prob > NO_SPEECH) for s in segments),
        "compression_ratio": mean(s.compression_ratio for s in segments),
        "coverage": round(sum(b - a for a, b in covered) / duration, 3) if duration > 0 else 0.0,
    }
    if speech is not None:
        heard = sum(b - a for a, b in _union(speech))
        figures["speech_ratio"] = round(heard / duration, 3) if duration > 0 else 0.0
        figures["speech_covered"] = round(_overlap(covered, _union(speech)) / heard, 3) if heard > 0 else 1.0
    figures["reasons"] = _reasons(figures, bool(segments), speech)
    figures["suspect"] = bool(figures["reasons"])
    return figures


def _reasons(figures: dict[str, Any], any_text: bool, speech: Sequence | None) -> list[str]:
    heard = figures.get("speech_ratio", 1.0 if speech is None else 0.0) > 0
    if not any_text:
        return ["speech but no transcript"] if heard else []
    reasons = []
    if figures["avg_logprob"] < SUSPECT["avg_logprob"]:
        reasons.append(f"low avg_logprob {figures['avg_logprob']}")
    if figures["no_speech_ratio"] > SUSPECT["no_speech_ratio"]:
        reasons.append(f"no-speech ratio {figures['no_speech_ratio']}")
    if figures["compression_ratio"] > SUSPECT["compression_ratio"]:
        reasons.append(f"repetitive text (compression ratio {figures['compression_ratio']})")
    if figures.get("speech_covered", 1.0) < SUSPECT["speech_covered"]:
        reasons.append(f"only {figures['speech_covered']:.0%} of the speech transcribed")
    return reasons


def _union(ranges: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for a, b in sorted(ranges):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        elif b > a:
            out.append((a, b))
    return out


def _overlap(xs: list[tuple[float, float]], ys: list[tuple[float, float]]) -> float:
    return sum(max(0.0, min(b, d) - max(a, c)) for a, b in xs for c, d in ys)
