"""Transcription: faster-whisper int8 vs openai-whisper fp32, same tiny.en weights, same speech, on the CPU.

Each engine runs in its own process (``python -m benchlib.speech ENGINE AUDIO SCRIPT``) so that its peak
memory (ru_maxrss) is its own."""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchlib.common import Row, Settings, child_env, speedup


def transcribe_once(engine: str, audio: Path, reference: str, runs: int, warmup: bool) -> dict:
    from slidegrab.transcribe.chunks import slide_chunks
    from slidegrab.transcribe.engines import load_engine
    from slidegrab.transcribe.model import TranscriptOptions
    from slidegrab.transcribe.wer import wer

    options = TranscriptOptions(engine=engine, device="cpu", slide_prompts=False)
    model = load_engine(options)
    times, text, duration = [], "", 0.0
    for _ in range(runs + warmup):
        started = time.perf_counter()
        segments, info = model.transcribe(audio, slide_chunks([], info_duration(audio)), options)
        text = " ".join(s.text.strip() for s in segments)
        times.append(time.perf_counter() - started)
        duration = info.duration
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    took = statistics.median(times[1:] if warmup else times)
    return {"rtf": took / duration, "rss_mib": rss, "wer": wer(reference, text), "seconds": duration}


def info_duration(audio: Path) -> float:
    from slidegrab.ffmpeg import probe

    return float(probe(audio)["format"]["duration"])


def measure(engine: str, audio: Path, reference: str, runs: int, warmup: bool) -> dict:
    argv = [sys.executable, "-m", "benchlib.speech", engine, str(audio), reference, str(runs), str(int(warmup))]
    done = subprocess.run(argv, env=child_env(), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{engine} failed: {done.stderr.strip()[-800:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(audio: Path, reference: str, settings: Settings) -> list[Row]:
    runs = settings.runs  # openai-whisper takes minutes per run on 5 minutes of speech here: 25 min in all
    warmup = not settings.quick  # quick: one cold run (the model load itself is outside the timing)
    fast = measure("faster-whisper", audio, reference, runs, warmup)
    slow = measure("openai-whisper", audio, reference, runs, warmup)
    wer_gap = fast["wer"] - slow["wer"]
    note = (
        f"{fast['seconds']:.0f} s of espeak-ng speech, tiny.en, no slide prompts, {runs} run(s); "
        f"WER gap {wer_gap:+.3f} (≤ 0.02 asked)"
    )
    return [
        speedup("transcribe", "real-time factor (int8 vs fp32)", fast["rtf"], slow["rtf"], "x", target=3.0, note=note),
        speedup("transcribe", "peak memory", fast["rss_mib"], slow["rss_mib"], "MiB"),
        Row(
            "transcribe",
            "word error rate",
            fast["wer"],
            slow["wer"],
            "WER",
            1.0 - wer_gap,
            target=0.98,
            note="ratio = 1 − (ours − theirs); ≥ 0.98 means no worse by more than 0.02",
        ),
    ]


if __name__ == "__main__":
    engine, audio, reference, runs, warmup = sys.argv[1:6]
    print(json.dumps(transcribe_once(engine, Path(audio), reference, int(runs), warmup == "1")))
