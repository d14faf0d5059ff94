"""Slide intervals as the chunks Whisper decodes, each with a prompt built from the slide on screen.

SlidesLive publishes exact slide change times, so the slide intervals shape the chunks. Intervals longer
than Whisper's 30 s window are split evenly; very short ones (a slide flicked past) are merged into a
neighbour, the larger part naming the slide and the prompts combined. Then consecutive intervals are packed
into one chunk while they fit in 30 s: Whisper pads every chunk to 30 s and its encoder costs the same for
3 s of speech as for 30, so a deck of short slides took one encoder pass per slide (scripts/BENCHMARKS.md).
A packed chunk keeps where each of its slides starts (``Chunk.parts``), and the engine puts each word on
the slide shown when it is spoken. A talk without slides gets fixed 30 s windows.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from slidegrab.transcribe.model import PROMPT_TOKENS, Chunk

MAX_LEN = 30.0  # Whisper's window
MIN_LEN = 1.5  # shorter intervals are merged into a neighbour
_TOKEN = re.compile(r"\S+")
_WORDLIKE = re.compile(r"[^\W_]{2,}|\d")  # two letters, or any digit: what a real term on a slide has


class Tokenizer(Protocol):
    def encode(self, text: str) -> Any: ...  # a list of ids, or a tokenizers.Encoding (``.ids``)


@dataclass
class _Span:
    start: float
    end: float
    parts: list[tuple[float, int | None]]  # (seconds, slide) of each slide interval inside it

    @property
    def length(self) -> float:
        return self.end - self.start

    @property
    def slide(self) -> int | None:
        """The slide of the largest part (the first of equals)."""
        totals: dict[int | None, float] = {}
        for seconds, slide in self.parts:
            totals[slide] = totals.get(slide, 0.0) + seconds
        return max(totals, key=lambda s: totals[s])


def slide_chunks(
    slides: Sequence[dict[str, Any]],
    duration: float,
    *,
    title: str = "",
    speakers: Sequence[str] = (),
    slide_texts: Sequence[str] | None = None,
    max_len: float = MAX_LEN,
    min_len: float = MIN_LEN,
    prompts: bool = True,
    tokenizer: Tokenizer | None = None,
    pack: bool = True,
) -> list[Chunk]:
    """Chunks covering ``[0, duration]`` from the slide table (``start``/``end``/``index`` per slide); with
    ``pack`` False, one chunk per (split or merged) slide interval."""
    spans = _slide_spans(slides, duration) if slides else _whole(duration)
    spans = _merge_short(_split_long(spans, max_len), min_len, max_len)
    texts = list(slide_texts or [])
    chunks = []
    for group in _pack(spans, max_len) if pack else [[span] for span in spans]:
        span = _Span(group[0].start, group[-1].end, [part for s in group for part in s.parts])
        prompt = build_prompt(_span_text(span, texts), title, speakers, tokenizer) if prompts else ""
        parts = _parts(group)
        inner = parts if len(parts) > 1 else ()
        chunks.append(Chunk(round(span.start, 3), round(span.end, 3), parts[0][1], prompt, inner))
    return chunks


def _pack(spans: list[_Span], max_len: float) -> list[list[_Span]]:
    """Consecutive spans grouped while a group lasts no longer than ``max_len``."""
    groups: list[list[_Span]] = []
    for span in spans:
        if groups and span.end - groups[-1][0].start <= max_len:
            groups[-1].append(span)
        else:
            groups.append([span])
    return groups


def _parts(group: list[_Span]) -> tuple[tuple[float, int | None], ...]:
    """(start, slide) of each slide in a group of spans, a slide that goes on in the next span listed once."""
    parts: list[tuple[float, int | None]] = []
    for span in group:
        if not parts or parts[-1][1] != span.slide:
            parts.append((round(span.start, 3), span.slide))
    return tuple(parts)


def _slide_spans(slides: Sequence[dict[str, Any]], duration: float) -> list[_Span]:
    """One span per slide, the first from 0, each ending where the next starts, the last at ``duration``."""
    ordered = sorted(slides, key=lambda s: (float(s["start"]), int(s["index"])))
    starts = [0.0] + [min(max(float(s["start"]), 0.0), duration) for s in ordered[1:]]
    ends = starts[1:] + [duration]
    spans = [_Span(a, b, [(b - a, int(s["index"]))]) for s, a, b in zip(ordered, starts, ends, strict=True)]
    return [s for s in spans if s.length > 0] or [_Span(0.0, duration, [(duration, int(ordered[0]["index"]))])]


def _whole(duration: float) -> list[_Span]:
    """A talk without slides as one span, to be split into windows of equal length."""
    return [_Span(0.0, duration, [(duration, None)])] if duration > 0 else []


def _split_long(spans: list[_Span], max_len: float) -> list[_Span]:
    """Spans longer than ``max_len`` cut into equal parts, each no longer than ``max_len``."""
    out = []
    for span in spans:
        pieces = max(1, math.ceil(span.length / max_len - 1e-9))
        step = span.length / pieces
        for i in range(pieces):
            start = span.start + i * step
            end = span.end if i == pieces - 1 else span.start + (i + 1) * step
            out.append(_Span(start, end, [(end - start, span.slide)]))
    return out


def _merge_short(spans: list[_Span], min_len: float, max_len: float) -> list[_Span]:
    """Spans shorter than ``min_len`` join their shorter neighbour (shortest first) while the result fits."""
    spans = list(spans)
    while True:
        short = sorted((i for i, s in enumerate(spans) if s.length < min_len), key=lambda i: spans[i].length)
        pair = next(((i, j) for i in short if (j := _neighbour(spans, i, max_len)) is not None), None)
        if pair is None:
            return spans
        a, b = sorted(pair)
        spans[a : b + 1] = [_Span(spans[a].start, spans[b].end, spans[a].parts + spans[b].parts)]


def _neighbour(spans: list[_Span], i: int, max_len: float) -> int | None:
    """The shorter of span ``i``'s neighbours that it can join without exceeding ``max_len``."""
    fits = [j for j in (i - 1, i + 1) if 0 <= j < len(spans) and spans[i].length + spans[j].length <= max_len]
    return min(fits, key=lambda j: spans[j].length, default=None)


def _span_text(span: _Span, texts: list[str]) -> str:
    """The slide texts of a span's slides, the largest part's first, each once."""
    order = sorted(range(len(span.parts)), key=lambda k: -span.parts[k][0])
    seen: list[int] = []
    for k in order:
        slide = span.parts[k][1]
        if slide is not None and slide not in seen and 0 < slide <= len(texts):
            seen.append(slide)
    return "\n".join(texts[s - 1] for s in seen if texts[s - 1])


def build_prompt(
    slide_text: str, title: str = "", speakers: Sequence[str] = (), tokenizer: Tokenizer | None = None
) -> str:
    """The chunk's prompt: the slide's own lines (deduplicated, OCR junk dropped), then the talk title, then
    the speakers, within ``PROMPT_TOKENS`` tokens; slide text is cut first, title and names kept."""
    lines = clean_lines(slide_text)
    tail = [t.strip() for t in (title, ", ".join(s.strip() for s in speakers if s.strip())) if t and t.strip()]
    tail = [t for t in tail if t.casefold() not in {line.casefold() for line in lines}]

    def text(words_kept: int) -> str:
        kept, left = [], words_kept
        for line in lines:
            words = line.split()
            if left <= 0:
                break
            kept.append(" ".join(words[:left]))
            left -= len(words)
        slide = ", ".join(_sentence(p) for p in kept if p)
        return " ".join(f"{_sentence(p)}." for p in [slide, *tail] if p)

    total = sum(len(line.split()) for line in lines)
    lo, hi = 0, total
    if count_tokens(text(total), tokenizer) <= PROMPT_TOKENS:
        return text(total)
    while lo < hi:  # the most slide words that fit
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if count_tokens(text(mid), tokenizer) <= PROMPT_TOKENS else (lo, mid - 1)
    prompt = text(lo)
    return prompt if count_tokens(prompt, tokenizer) <= PROMPT_TOKENS else _cut(prompt, tokenizer)


def clean_lines(text: str) -> list[str]:
    """Lines of OCR text, each once, without marks that hold no letter or digit ("|", "~", "—"), and without
    lines that hold no real word (two letters, or a digit): stray single letters are OCR noise."""
    out, seen = [], set()
    for raw in (text or "").splitlines():
        line = " ".join(t for t in _TOKEN.findall(raw) if any(ch.isalnum() for ch in t))
        key = line.casefold()
        if _WORDLIKE.search(line) and key not in seen:
            seen.add(key)
            out.append(line)
    return out


def count_tokens(text: str, tokenizer: Tokenizer | None = None) -> int:
    """Prompt tokens as Whisper counts them (``encode(" " + text)``), or a conservative estimate."""
    if not text:
        return 0
    if tokenizer is None:
        return len(text.encode("utf-8")) // 2 + 1  # BPE averages ~4 bytes a token in English; assume 2
    ids = tokenizer.encode(" " + text)
    return len(getattr(ids, "ids", ids))


def _sentence(part: str) -> str:
    return part.rstrip(" .")


def _cut(text: str, tokenizer: Tokenizer | None) -> str:
    """Whole words from the start of ``text`` that fit the budget (for titles too long on their own)."""
    words = text.split()
    while words and count_tokens(" ".join(words), tokenizer) > PROMPT_TOKENS:
        words = words[: max(0, len(words) - max(1, len(words) // 8))]
    return " ".join(words)


SLIDE_REACH = 1.0  # a slide change may move this far to fall between words instead of inside one
SPLIT_REACH = 5.0  # an even split of a long slide may move this far


def snap_to_silence(chunks: Sequence[Chunk], speech: Sequence[tuple[float, float]]) -> list[Chunk]:
    """Chunks whose shared boundaries, and the slide changes inside packed chunks, where they fall inside
    speech, move to the nearer end of that stretch (when near enough, and no chunk grows past ``MAX_LEN``), so
    no word is cut in two."""
    out = list(chunks)
    for i in range(1, len(out)):
        before, after = out[i - 1], out[i]
        reach = SPLIT_REACH if before.slide == after.slide else SLIDE_REACH
        low, high = max(before.start, after.end - MAX_LEN), min(after.end, before.start + MAX_LEN)
        t = _into_pause(after.start, speech, reach, low, high)
        if t is not None:
            out[i - 1], out[i] = replace(before, end=t), replace(after, start=t)
    return [_snap_parts(chunk, speech) for chunk in out]


def _snap_parts(chunk: Chunk, speech: Sequence[tuple[float, float]]) -> Chunk:
    parts = list(chunk.parts)
    for k, (start, slide) in enumerate(parts[1:], 1):
        high = parts[k + 1][0] if k + 1 < len(parts) else chunk.end
        t = _into_pause(start, speech, SLIDE_REACH, parts[k - 1][0], high)
        if t is not None:
            parts[k] = (t, slide)
    return replace(chunk, parts=tuple(parts))


def _into_pause(t: float, speech: Sequence[tuple[float, float]], reach: float, low: float, high: float) -> float | None:
    """The nearer end of the stretch of speech ``t`` falls inside, within ``reach`` of it and strictly between
    ``low`` and ``high``; None when ``t`` is in a pause already, or no end fits."""
    ends = [e for a, b in speech if a < t < b for e in (a, b) if abs(e - t) <= reach and low < e < high]
    return round(min(ends, key=lambda e: abs(e - t)), 3) if ends else None


def speech_window(
    chunk: Chunk, speech: Sequence[tuple[float, float]], min_len: float = 0.1
) -> tuple[float, float] | None:
    """The stretch of ``chunk`` from its first to its last speech, or None when it holds none."""
    inside = [(max(a, chunk.start), min(b, chunk.end)) for a, b in speech if a < chunk.end and b > chunk.start]
    if not inside or inside[-1][1] - inside[0][0] < min_len:
        return None
    return inside[0][0], inside[-1][1]


def overlap(window: tuple[float, float], speech: Sequence[tuple[float, float]]) -> float:
    """Seconds of speech inside ``window``."""
    return sum(max(0.0, min(b, window[1]) - max(a, window[0])) for a, b in speech)


def around_middle(speech: Sequence[tuple[float, float]], duration: float, seconds: float) -> list[tuple[float, float]]:
    """About ``seconds`` of speech nearest the middle of the talk (for language detection), in time order;
    the middle ``seconds`` of the audio when there is no speech at all."""
    mid, left, picked = duration / 2, seconds, []
    for a, b in sorted(speech, key=lambda r: max(r[0] - mid, mid - r[1], 0.0)):
        if left <= 0:
            break
        if a <= mid <= b:
            a, b = max(a, mid - left / 2), min(b, mid + left / 2)
        elif b < mid:
            a = max(a, b - left)
        else:
            b = min(b, a + left)
        picked.append((a, b))
        left -= b - a
    return sorted(picked) or [(max(0.0, mid - seconds / 2), min(duration, mid + seconds / 2))]


def cover(chunks: Sequence[Chunk], duration: float, max_len: float = MAX_LEN) -> list[Chunk]:
    """``chunks`` cut to ``[0, duration]``, the audio after the last one given to the last slide (the slide
    table may end before the audio does); windows of at most ``max_len`` when there are no chunks."""
    out = [replace(c, end=min(c.end, duration)) for c in chunks if c.start < duration]
    tail_from = out[-1].end if out else 0.0
    if duration - tail_from <= 0.001:
        return out
    if out and duration - out[-1].start <= max_len:
        return [*out[:-1], replace(out[-1], end=duration)]
    last = out[-1] if out else Chunk(0.0, 0.0, None)
    tail = _split_long([_Span(tail_from, duration, [(duration - tail_from, last.slide)])], max_len)
    slide = last.slide_at(last.end)
    return out + [Chunk(round(s.start, 3), round(s.end, 3), slide, last.prompt) for s in tail]
