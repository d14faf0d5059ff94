"""OCR of every slide (Tesseract): the words on the slides, for prompts and for search.

Each slide image (a video slide's still too) is read in grayscale, small slides upscaled twice, once as it
is and once inverted: Tesseract reads dark text on a light ground best, and slides are often the other way
round. The reading with the more confident words wins. The likelier polarity (from the slide's brightness)
is read first, and the second reading is skipped when the first is sure of every word it kept and dropped
nothing that looks like a word. Dropped: words Tesseract is unsure of (confidence under 50) and
one-character noise (bullets read as "¢", "*", "e"). Lines stay lines.

Recorded in talk.json: ``texts``, one string per slide in deck order, and the engine's version. Written:
``slides.txt``, each slide's text under a ``=== Slide N [hh:mm:ss] ===`` heading.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageOps, ImageStat

from slidegrab.archive import TalkFolder, slide_table
from slidegrab.cores import cores
from slidegrab.errors import MediaError, SlidegrabError
from slidegrab.stages import Stage, StageContext
from slidegrab.transcribe.writers import clock

SLIDES_TXT = "slides.txt"
TESSERACT = "tesseract"  # the command (a path where it is not on PATH)
BATCH = 16  # slides per process: its model loads once a process, which costs more than reading one slide
TIMEOUT_S = 600
MIN_CONFIDENCE = 50  # Tesseract's word confidence, 0-100
SURE = 90  # a first reading whose every kept word is at least this sure needs no second one
SMALL = 720  # slides less high than this are upscaled twice (Tesseract wants glyphs 20-40 px high)
INSTALL_HINT = "install Tesseract: apt install tesseract-ocr (Debian/Ubuntu), brew install tesseract (macOS)"
REFETCH = "run slidegrab fetch again to download it"


@dataclass(frozen=True)
class Reading:
    lines: tuple[str, ...]
    confidences: tuple[float, ...]  # of the words kept
    doubts: int = 0  # words dropped for low confidence that look like words (two letters or digits or more)

    @property
    def score(self) -> float:
        return sum(self.confidences)

    @property
    def sure(self) -> bool:
        return bool(self.confidences) and min(self.confidences) >= SURE and not self.doubts


class OcrStage(Stage):
    name = "ocr"

    def complete(self, folder: TalkFolder) -> bool:
        texts = folder.stage(self.name).get("texts")
        return super().complete(folder) and isinstance(texts, list) and len(texts) == len(folder.talk.slides)

    def run(self, folder: TalkFolder, ctx: StageContext) -> dict[str, Any]:
        engine = tesseract_version(folder.talk.url)
        rows = slide_table(folder)
        texts = read_slides(folder, rows, ctx)
        with folder.writing(SLIDES_TXT) as tmp:
            tmp.write_text(format_slides(rows, texts), encoding="utf-8")
        return {"files": [SLIDES_TXT], "texts": texts, "engine": engine}


def tesseract_version(url: str | None = None) -> str:
    """The engine, e.g. "tesseract 5.3.0" (from ``tesseract --version``); a MediaError when it cannot run."""
    return _tesseract(["--version"], url).strip().splitlines()[0]


def read_slides(folder: TalkFolder, rows: list[dict[str, Any]], ctx: StageContext) -> list[str]:
    """Each slide's text, in deck order: batches of slides, read by the process's Tesseract runs. The deck is
    cut into at least as many batches as the talk has threads (a talk alone keeps every core busy); in a
    batch of talks, one thread each, a short deck is one run (one model load)."""
    size = min(BATCH, -(-len(rows) // ctx.cpu.threads))
    batches = [rows[i : i + size] for i in range(0, len(rows), size)]
    texts: list[str] = []
    ctx.progress("reading slides", 0, len(rows))
    futures = [POOL.submit(_batch_texts, folder, batch, ctx) for batch in batches]
    try:
        for future in futures:
            texts += future.result()
            ctx.progress("reading slides", len(texts), len(rows))
    finally:
        for future in futures:
            future.cancel()
    return texts


# One Tesseract run per core at a time, for the whole process (its threads start on first use): the talks in
# flight share them, so the last talk of a batch, read alone, still has every core (a pool per talk left one idle)
POOL = ThreadPoolExecutor(cores(), thread_name_prefix="ocr")


def _batch_texts(folder: TalkFolder, rows: list[dict[str, Any]], ctx: StageContext) -> list[str]:
    if ctx.cancel.is_set():
        raise SlidegrabError("interrupted while reading the slides", url=folder.talk.url)
    return slide_texts([_open(folder, row) for row in rows], url=folder.talk.url)


def _open(folder: TalkFolder, row: dict[str, Any]) -> Image.Image | None:
    """The slide's image; None for a video slide without a still, a MediaError for a missing image."""
    try:
        if not row["file"]:
            raise OSError("no file was recorded")
        with Image.open(folder.path / row["file"]) as image:
            image.load()
            return image.copy()
    except (OSError, ValueError, SyntaxError) as e:
        if row["kind"] != "image":
            return None
        message = f"slide {row['index']} has no readable image ({row['file'] or 'none'}: {e})"
        raise MediaError(message, url=folder.talk.url, hint=REFETCH) from e


def slide_text(image: Image.Image, url: str | None = None) -> str:
    """The text on a slide: its lines, one per line."""
    return slide_texts([image], url)[0]


def slide_texts(images: list[Image.Image | None], url: str | None = None) -> list[str]:
    """The text on each slide ("" for None): the likelier polarity first, the other where that was unsure."""
    grays = [prepared(image) if image is not None else None for image in images]
    likely = [_polarities(gray)[0] if gray is not None else None for gray in grays]
    readings = read_all(likely, url)
    unsure = [i for i, reading in enumerate(readings) if grays[i] is not None and not reading.sure]
    for i, second in zip(unsure, read_all([_polarities(grays[i])[1] for i in unsure], url), strict=True):
        readings[i] = max(readings[i], second, key=lambda reading: reading.score)
    return ["\n".join(reading.lines) for reading in readings]


def _polarities(gray: Image.Image) -> tuple[Image.Image, Image.Image]:
    """The slide as dark text on light first when it is mostly light, inverted first when mostly dark."""
    inverted = ImageOps.invert(gray)
    return (inverted, gray) if ImageStat.Stat(gray).mean[0] < 128 else (gray, inverted)


def prepared(image: Image.Image) -> Image.Image:
    """Grayscale (a transparent slide on white), small slides upscaled twice."""
    if image.mode in ("RGBA", "LA", "P"):
        image = Image.alpha_composite(Image.new("RGBA", image.size, "white"), image.convert("RGBA"))
    gray = image.convert("L")
    if gray.height < SMALL:
        gray = gray.resize((gray.width * 2, gray.height * 2), Image.Resampling.LANCZOS)
    return gray


def read_all(images: list[Image.Image | None], url: str | None = None) -> list[Reading]:
    """Tesseract's words on each image, junk dropped, grouped into lines: one process for the whole list,
    since loading Tesseract's model costs more than reading a slide (an empty Reading for None)."""
    present = [image for image in images if image is not None]
    if not present:
        return [Reading((), ()) for _ in images]
    with tempfile.TemporaryDirectory(prefix="slidegrab-ocr-") as scratch:
        names = [os.path.join(scratch, f"{n:05d}.png") for n in range(len(present))]
        for image, name in zip(present, names, strict=True):
            image.save(name, compress_level=1)
        listing = os.path.join(scratch, "slides.txt")
        with open(listing, "w", encoding="utf-8") as out:
            out.write("".join(f"{name}\n" for name in names))
        pages = _pages(_tesseract([listing, "stdout", "tsv"], url), len(present))
    found = iter(pages)
    return [next(found) if image is not None else Reading((), ()) for image in images]


def _pages(tsv: str, count: int) -> list[Reading]:
    """One Reading per page of Tesseract's TSV (its page_num counts the listed images from 1)."""
    words: list[list[tuple[tuple[int, int, int], str, float]]] = [[] for _ in range(count)]
    for line in tsv.splitlines()[1:]:
        cells = line.split("\t")
        if len(cells) == 12 and cells[0] == "5":
            key = (int(cells[2]), int(cells[3]), int(cells[4]))
            words[int(cells[1]) - 1].append((key, cells[11].strip(), float(cells[10])))
    return [_reading(page) for page in words]


def _reading(words: list[tuple[tuple[int, int, int], str, float]]) -> Reading:
    lines: dict[tuple[int, int, int], list[str]] = {}
    confidences, doubts = [], 0
    for key, word, confidence in words:
        if kept(word, confidence):
            lines.setdefault(key, []).append(word)
            confidences.append(confidence)
        else:
            doubts += sum(c.isalnum() for c in word) >= 2
    return Reading(tuple(" ".join(line) for line in lines.values()), tuple(confidences), doubts)


def _tesseract(args: list[str], url: str | None) -> str:
    """Tesseract's stdout; a MediaError naming the fix when it is missing or fails. One OpenMP thread each:
    the pool runs one process per core, and more threads would only fight over the cores."""
    env = {**os.environ, "OMP_THREAD_LIMIT": os.environ.get("OMP_THREAD_LIMIT", "1")}
    try:
        result = subprocess.run([TESSERACT, *args], capture_output=True, text=True, env=env, timeout=TIMEOUT_S)
    except FileNotFoundError as e:
        raise MediaError(f"cannot read the slides: {TESSERACT} was not found", url=url, hint=INSTALL_HINT) from e
    except (OSError, subprocess.SubprocessError) as e:
        raise MediaError(f"Tesseract failed on the slides: {e}", url=url) from e
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or [f"exit status {result.returncode}"])[-1]
        raise MediaError(f"Tesseract failed on the slides: {last}", url=url)
    return result.stdout


def kept(word: str, confidence: float) -> bool:
    """A word worth keeping: confident, with a letter or digit, and no stray single character."""
    if confidence < MIN_CONFIDENCE or not any(c.isalnum() for c in word):
        return False
    return len(word) > 1 or (word.isalnum() and confidence >= 80)


def format_slides(rows: list[dict[str, Any]], texts: list[str]) -> str:
    """slides.txt: ``=== Slide N [hh:mm:ss] ===``, the slide's text, a blank line; slide after slide."""
    parts = []
    for row, text in zip(rows, texts, strict=True):
        heading = f"=== Slide {row['index']} [{clock(row['start'])}] ==="
        parts.append(f"{heading}\n{text}\n" if text else f"{heading}\n")
    return "\n".join(parts)
