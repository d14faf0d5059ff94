"""Transcript files: segments → ``transcript.txt``, ``.srt``, ``.vtt`` and ``.json`` in the talk folder.

``transcript.txt`` has one line per segment, ``[hh:mm:ss] text`` and nothing else, so that ``grep -rn`` over
an archive tells the talk (the folder), the time and the words. SRT and WebVTT are the usual numbered /
headed cue lists with millisecond times; WebVTT text is entity-escaped (``&``, ``<``, ``>``). SRT has no
escapes (players show ``&lt;`` literally), so its text only loses what would break a cue: line breaks and
``-->``. ``transcript.json`` keeps everything: the engine, model and language, and per segment its times, text,
slide, words and the decoder's confidence figures.

Every writer sees the same cleaned segments: text stripped and on one line, empty ones dropped, times never
negative and never ending before they start.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace
from typing import Any

from slidegrab.archive import TalkFolder
from slidegrab.transcribe.model import Segment, TranscriptInfo, Word

TXT, SRT, VTT, JSON = "transcript.txt", "transcript.srt", "transcript.vtt", "transcript.json"
_SPACE = re.compile(r"\s+")


def write_transcripts(folder: TalkFolder, segments: list[Segment], info: TranscriptInfo) -> list[str]:
    """Write the four transcript files atomically; return their names, relative to the talk folder."""
    kept = cleaned(segments)
    texts = {
        TXT: format_txt(kept),
        SRT: format_srt(kept),
        VTT: format_vtt(kept),
        JSON: json.dumps(transcript_json(kept, info), ensure_ascii=False, indent=1) + "\n",
    }
    for name, text in texts.items():
        with folder.writing(name) as tmp:
            tmp.write_text(text, encoding="utf-8")
    return list(texts)


def cleaned(segments: list[Segment]) -> list[Segment]:
    """The segments with text on one stripped line, empty ones dropped, times clamped (0 ≤ start ≤ end)."""
    out = []
    for segment in segments:
        text = _SPACE.sub(" ", segment.text).strip()
        if text:
            start = max(0.0, segment.start)
            words = tuple(_clamped(w) for w in segment.words)
            out.append(replace(segment, text=text, start=start, end=max(start, segment.end), words=words))
    return out


def _clamped(word: Word) -> Word:
    start = max(0.0, word.start)
    return replace(word, start=start, end=max(start, word.end))


def clock(seconds: float) -> str:
    """``hh:mm:ss``, rounded down: the second the segment starts in."""
    whole = int(max(0.0, seconds))
    return f"{whole // 3600:02d}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def timestamp(seconds: float, separator: str) -> str:
    """``hh:mm:ss,mmm`` (SRT, separator ``,``) or ``hh:mm:ss.mmm`` (WebVTT, ``.``)."""
    ms = round(max(0.0, seconds) * 1000)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}{separator}{ms % 1000:03d}"


def format_txt(segments: list[Segment]) -> str:
    return "".join(f"[{clock(s.start)}] {s.text}\n" for s in cleaned(segments))


def format_srt(segments: list[Segment]) -> str:
    cues = []
    for number, s in enumerate(cleaned(segments), 1):
        times = f"{timestamp(s.start, ',')} --> {timestamp(s.end, ',')}"
        cues.append(f"{number}\n{times}\n{s.text.replace('-->', '->')}\n")
    return "\n".join(cues)


def format_vtt(segments: list[Segment]) -> str:
    cues = [f"{timestamp(s.start, '.')} --> {timestamp(s.end, '.')}\n{vtt_escape(s.text)}\n" for s in cleaned(segments)]
    return "\n".join(["WEBVTT\n", *cues])


def vtt_escape(text: str) -> str:
    """WebVTT cue text: ``&``, ``<`` and ``>`` as character references (so ``-->`` cannot occur either)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def transcript_json(segments: list[Segment], info: TranscriptInfo) -> dict[str, Any]:
    return {
        "engine": info.engine,
        "model": info.model,
        "device": info.device,
        "compute_type": info.compute_type,
        "language": info.language,
        "language_probability": _number(info.language_probability, 4),
        "duration": _number(info.duration, 3),
        "chunks": info.chunks,
        "quality": {key: _number(value, 4) for key, value in info.quality.items()},
        "segments": [_segment(s) for s in cleaned(segments)],
    }


def _segment(s: Segment) -> dict[str, Any]:
    return {
        "start": _number(s.start, 3),
        "end": _number(s.end, 3),
        "text": s.text,
        "slide": s.slide,
        "words": [_word(w) for w in s.words],
        "avg_logprob": _number(s.avg_logprob, 4),
        "no_speech_prob": _number(s.no_speech_prob, 4),
        "compression_ratio": _number(s.compression_ratio, 4),
    }


def _word(w: Word) -> dict[str, Any]:
    return {
        "start": _number(w.start, 3),
        "end": _number(w.end, 3),
        "word": w.word,
        "probability": _number(w.probability, 4),
    }


def _number(value: float | None, digits: int) -> float | None:
    """Rounded; None for NaN and infinities, which JSON cannot hold."""
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), digits)
