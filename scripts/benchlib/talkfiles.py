"""Local inputs: a known English script spoken by espeak-ng (AAC), and a talk folder with Pillow slides."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

from PIL import Image, ImageDraw

from slidegrab.archive import Archive, TalkFolder
from slidegrab.ffmpeg import probe
from slidegrab.talk import MediaSource, Slide, Talk

SUBJECTS = ("the encoder", "our model", "the gradient", "this network", "the attention layer", "the dataset",
            "the optimiser", "the baseline", "the training loop", "each sample")  # fmt: skip
VERBS = ("reduces", "improves", "measures", "predicts", "learns", "compares", "controls", "explains")
OBJECTS = ("the error on every test", "the cost of each step", "the speed of the system", "the noise in the signal",
           "the weight of the features", "the length of the sequence", "the accuracy of the results")  # fmt: skip
WORDS_PER_MINUTE = 180  # what espeak-ng reaches at its default rate, pauses included (measured: 5 min ≈ 300 s)


def script(minutes: float, seed: int = 6) -> list[str]:
    """Plain English sentences, about ``minutes`` long when spoken; the same every run."""
    pick, sentences, words = random.Random(seed), [], 0
    while words < minutes * WORDS_PER_MINUTE:
        sentence = f"{pick.choice(SUBJECTS)} {pick.choice(VERBS)} {pick.choice(OBJECTS)}."
        sentences.append(sentence[0].upper() + sentence[1:])
        words += len(sentence.split())
    return sentences


def speech(sentences: list[str], target: Path) -> float:
    """``target`` (.m4a, AAC) with espeak-ng saying the sentences; returns its duration in seconds."""
    wav = target.with_suffix(".wav")
    subprocess.run(["espeak-ng", "-w", str(wav), " ".join(sentences)], check=True, capture_output=True)
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(wav), "-c:a", "aac", "-b:a", "64k",
                    str(target)], check=True)  # fmt: skip
    wav.unlink()
    return float(probe(target)["format"]["duration"])


def slide_picture(path: Path, index: int) -> None:
    hue = (index * 47) % 255
    image = Image.new("RGB", (1280, 720), (hue, 255 - hue, (hue * 3) % 255))
    ImageDraw.Draw(image).text((80, 320), f"Slide {index}: results and methods", fill=(0, 0, 0))
    image.save(path, "PNG")


def talk_folder(root: Path, slides: int, audio: Path, seconds: float) -> TalkFolder:
    """A talk folder as the download stages leave it: ``slides`` PNGs spread evenly, and ``audio``."""
    step = seconds / slides
    talk = Talk(id="38999999", url="https://slideslive.com/38999999", title="Benchmark Talk",
                media=MediaSource("yoda", "bench", "https://example.invalid/master.m3u8"),
                slides=tuple(Slide(i, (i - 1) * step, f"{i:05d}", ".png", None) for i in range(1, slides + 1)),
                duration=seconds)  # fmt: skip
    folder = Archive(root).create(talk, talk.url)
    (folder.path / "slides").mkdir(exist_ok=True)
    files = [f"slides/{i:04d}.png" for i in range(1, slides + 1)]
    for i, file in enumerate(files, 1):
        slide_picture(folder.path / file, i)
    folder.mark("slides", "done", files=files, video_slides=[])
    (folder.path / "audio.m4a").write_bytes(audio.read_bytes())
    folder.mark("audio", "done", files=["audio.m4a"], codec="aac", duration=seconds)
    return folder
