"""GPU check: transcribe the replica's speech with both engines on CUDA and print real-time factors and words.

Installs nothing and reaches no network. Run through scripts/gpu_check.sh on a machine with an NVIDIA GPU,
CUDA/cuDNN for CTranslate2, and a CUDA build of torch for openai-whisper. The speech is generated locally
by the replica's media generator (espeak-ng + ffmpeg), so the words it should hear are known.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from slidegrab.replica.fixtures import CATALOGUE
from slidegrab.replica.media import MediaStore
from slidegrab.transcribe.chunks import slide_chunks
from slidegrab.transcribe.engines import load_engine
from slidegrab.transcribe.model import TranscriptOptions
from slidegrab.transcribe.wer import wer

SETUPS = (
    ("faster-whisper", "float16"),  # on CUDA the engine decodes the chunks with the batched pipeline
    ("openai-whisper", "float16"),
)


def talk_inputs(fixture, media):
    slides = [
        {"index": i, "start": s.time_ms / 1000, "end": (n.time_ms / 1000 if n else media.duration)}
        for i, (s, n) in enumerate(zip(fixture.slides, [*fixture.slides[1:], None], strict=True), 1)
    ]
    texts = [" ".join([s.title, *s.terms]) for s in fixture.slides]
    script = " ".join(s.say for s in fixture.slides if s.say)
    return slides, texts, script


def run(engine: str, compute_type: str, fixtures, store: MediaStore, device: str) -> None:
    if device == "cpu":
        compute_type = "default"  # int8 for faster-whisper, fp32 for openai-whisper
    options = TranscriptOptions(engine=engine, device=device, compute_type=compute_type)
    started = time.perf_counter()
    model = load_engine(options)
    print(f"\n== {engine} ({compute_type}, {device}): model loaded in {time.perf_counter() - started:.1f} s")
    audio_total = decode_total = 0.0
    for fixture in fixtures:
        media = store.get(fixture)
        slides, texts, script = talk_inputs(fixture, media)
        chunks = slide_chunks(slides, media.duration, title=fixture.title, slide_texts=texts)
        started = time.perf_counter()
        segments, info = model.transcribe(media.audio_m4a, chunks, options)
        text = " ".join(s.text.strip() for s in segments)
        took = time.perf_counter() - started
        audio_total, decode_total = audio_total + media.duration, decode_total + took
        print(
            f"{fixture.id}: {media.duration:.1f} s of speech in {took:.2f} s (RTF {took / media.duration:.3f}), "
            f"WER {wer(script, text):.3f}\n   {text}"
        )
    print(f"{engine}: real-time factor {decode_total / audio_total:.4f} over {audio_total:.0f} s of speech")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--talks", type=int, default=6, help="how many replica talks to transcribe")
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"], help="cpu: a dry run of this script")
    args = parser.parse_args()
    fixtures = [f for f in CATALOGUE if f.playlist_type == "vod" and f.service != "youtube"][: args.talks]
    with tempfile.TemporaryDirectory() as tmp:
        store = MediaStore(Path(tmp))
        for engine, compute_type in SETUPS:
            try:
                run(engine, compute_type, fixtures, store, args.device)
            except Exception as e:  # one engine failing (no CUDA torch, say) must not hide the other's figures
                print(f"{engine}: FAILED: {type(e).__name__}: {e}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
