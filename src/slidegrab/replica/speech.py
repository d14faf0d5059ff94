"""The talk's voice: espeak-ng says each slide's sentence, placed at the slide's time in one mono wav.

Each sentence is trimmed of espeak's own leading and trailing silence, so ``Placed.start`` is when the voice
really begins, and the recorded times are exactly where the samples were written.
"""

from __future__ import annotations

import array
import math
import subprocess
import sys
import wave
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from slidegrab.replica.fixtures import Fixture

RATE = 22050  # espeak-ng's own rate: no resampling
FRAME_S = 0.2  # the talk video's frame period; the total length is a whole number of frames
SILENCE = 300  # |sample| at or below this counts as silence when trimming


@dataclass(frozen=True)
class Placed:
    start: float  # seconds
    end: float
    text: str
    slide: int  # 1-based


def espeak(text: str, path: Path) -> None:
    """Synthesize ``text`` to a 22.05 kHz mono wav with espeak-ng (US English, 150 words/min)."""
    args = ["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(path), "--", text]
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not path.exists():
        lines = done.stderr.strip().splitlines() or ["no output"]
        raise RuntimeError(f"espeak-ng failed on {text[:40]!r}: {lines[-1]}")


def read_samples(path: Path) -> array.array:
    """The wav's samples (16-bit mono at RATE), trimmed of leading and trailing silence."""
    with wave.open(str(path), "rb") as wav:
        if (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) != (1, 2, RATE):
            raise RuntimeError(f"espeak-ng wrote an unexpected wav format: {wav.getparams()}")
        samples = array.array("h", wav.readframes(wav.getnframes()))
    if sys.byteorder == "big":
        samples.byteswap()
    first = next((i for i, s in enumerate(samples) if abs(s) > SILENCE), None)
    if first is None:
        return array.array("h")
    last = next(i for i in range(len(samples) - 1, -1, -1) if abs(samples[i]) > SILENCE)
    return samples[first : last + 1]


def synthesize(fixture: Fixture, workdir: Path) -> dict[int, array.array]:
    """Every slide's sentence as trimmed samples, keyed by 1-based slide index (espeak runs in parallel)."""
    jobs = {i: s.say for i, s in enumerate(fixture.slides, 1) if s.say.strip()}

    def one(index: int) -> tuple[int, array.array]:
        path = workdir / f"say_{index:05d}.wav"
        espeak(jobs[index], path)
        return index, read_samples(path)

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(pool.map(one, sorted(jobs)))


def place(fixture: Fixture, clips: dict[int, array.array]) -> tuple[list[Placed], int]:
    """Where each sentence goes (start = its slide's time), and the total length in samples.

    Raises ValueError when a sentence would run into the next one: the catalogue must leave it room.
    """
    placed: list[Placed] = []
    free_from = 0  # first sample after the previous sentence
    for index, samples in sorted(clips.items()):
        start = round(fixture.slides[index - 1].time_ms * RATE / 1000)
        if placed and start < free_from:
            prev = placed[-1]
            raise ValueError(
                f"fixture {fixture.id}: slide {prev.slide}'s sentence ends at {prev.end:.2f} s, after slide "
                f"{index} starts at {start / RATE:.2f} s; shorten the sentence or move slide {index}"
            )
        text = fixture.slides[index - 1].say.strip()
        free_from = start + len(samples)
        placed.append(Placed(start / RATE, free_from / RATE, text, index))
    return placed, total_samples(fixture, placed)


def total_samples(fixture: Fixture, placed: list[Placed]) -> int:
    """Last sentence end + tail, at least last slide + 1 s, rounded up to a whole video frame."""
    last_slide = fixture.slides[-1].time_ms / 1000 if fixture.slides else 0.0
    speech_end = placed[-1].end if placed else 0.0
    seconds = max(speech_end + fixture.tail_ms / 1000, last_slide + 1.0)
    frames = math.ceil(round(seconds / FRAME_S, 6))
    return round(frames * FRAME_S * RATE)


def write_wav(path: Path, placed: list[Placed], clips: dict[int, array.array], total: int) -> None:
    """Silence with every sentence copied in at its place (no overlaps, so no mixing needed)."""
    pcm = array.array("h", bytes(2 * total))
    for item in placed:
        offset = round(item.start * RATE)
        pcm[offset : offset + len(clips[item.slide])] = clips[item.slide]
    if sys.byteorder == "big":
        pcm.byteswap()
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(pcm.tobytes())


def vtt_text(placed: list[Placed]) -> str:
    """A WebVTT document, one cue per sentence at its real times."""
    cues = [f"{i}\n{_stamp(p.start)} --> {_stamp(p.end)}\n{p.text}\n" for i, p in enumerate(placed, 1)]
    return "WEBVTT\n\n" + "\n".join(cues)


def _stamp(seconds: float) -> str:
    ms = round(seconds * 1000)
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    return f"{hours:02d}:{minutes:02d}:{ms // 1000:02d}.{ms % 1000:03d}"
