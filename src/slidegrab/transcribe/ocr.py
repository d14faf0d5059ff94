"""OCR of every slide (Tesseract through pytesseract): the words on the slides, for prompts and for search.

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
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytesseract
from PIL import Image, ImageOps, ImageStat

from slidegrab.archive import TalkFolder, slide_table
from slidegrab.errors import MediaError, SlidegrabError
from slidegrab.stages import Stage, StageContext
from slidegrab.transcribe.writers import clock

SLIDES_TXT = "slides.txt"
WORKERS = 2
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
    command = pytesseract.pytesseract.tesseract_cmd
    try:
        result = subprocess.run([command, "--version"], capture_output=True, text=True, check=True, timeout=60)
    except FileNotFoundError as e:
        raise MediaError(f"cannot read the slides: {command} was not found", url=url, hint=INSTALL_HINT) from e
    except (OSError, subprocess.SubprocessError) as e:
        raise MediaError(f"cannot read the slides: {command} --version failed: {e}", url=url, hint=INSTALL_HINT) from e
    return (result.stdout or result.stderr).strip().splitlines()[0]


def read_slides(folder: TalkFolder, rows: list[dict[str, Any]], ctx: StageContext) -> list[str]:
    """Each slide's text, in deck order, two slides at a time."""
    # the two tesseract processes the pool runs would fight over the cores with OpenMP threads: one each
    # (pytesseract starts tesseract with its module's ``environ``; this process's own stays as it is)
    pytesseract.pytesseract.environ = {**os.environ, "OMP_THREAD_LIMIT": os.environ.get("OMP_THREAD_LIMIT", "1")}
    texts: list[str] = []
    ctx.progress("reading slides", 0, len(rows))
    with ThreadPoolExecutor(WORKERS, thread_name_prefix="ocr") as pool:
        for text in _in_order(pool, folder, rows, ctx):
            texts.append(text)
            ctx.progress("reading slides", len(texts), len(rows))
    return texts


def _in_order(
    pool: ThreadPoolExecutor, folder: TalkFolder, rows: list[dict[str, Any]], ctx: StageContext
) -> Iterator[str]:
    futures = [pool.submit(_slide_text, folder, row, ctx) for row in rows]
    try:
        for future in futures:
            yield future.result()
    finally:
        for future in futures:
            future.cancel()


def _slide_text(folder: TalkFolder, row: dict[str, Any], ctx: StageContext) -> str:
    if ctx.cancel.is_set():
        raise SlidegrabError("interrupted while reading the slides", url=folder.talk.url)
    image = _open(folder, row)
    return "" if image is None else slide_text(image, url=folder.talk.url)


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
    gray = prepared(image)
    inverted = ImageOps.invert(gray)
    first, second = (inverted, gray) if ImageStat.Stat(gray).mean[0] < 128 else (gray, inverted)
    best = read(first, url)
    if not best.sure:
        best = max(best, read(second, url), key=lambda reading: reading.score)
    return "\n".join(best.lines)


def prepared(image: Image.Image) -> Image.Image:
    """Grayscale (a transparent slide on white), small slides upscaled twice."""
    if image.mode in ("RGBA", "LA", "P"):
        image = Image.alpha_composite(Image.new("RGBA", image.size, "white"), image.convert("RGBA"))
    gray = image.convert("L")
    if gray.height < SMALL:
        gray = gray.resize((gray.width * 2, gray.height * 2), Image.Resampling.LANCZOS)
    return gray


def read(image: Image.Image, url: str | None = None) -> Reading:
    """Tesseract's words on ``image``, junk dropped, grouped into its lines."""
    try:
        data = pytesseract.image_to_data(image, output_type=pytesseract.Output.DICT)
    except pytesseract.TesseractNotFoundError as e:
        raise MediaError("Tesseract was not found to read the slides", url=url, hint=INSTALL_HINT) from e
    except (pytesseract.TesseractError, OSError) as e:
        raise MediaError(f"Tesseract failed on a slide: {e}", url=url) from e
    lines: dict[tuple[int, int, int], list[str]] = {}
    confidences, doubts = [], 0
    for i, word in enumerate(data["text"]):
        word, confidence = word.strip(), float(data["conf"][i])
        if kept(word, confidence):
            lines.setdefault((data["block_num"][i], data["par_num"][i], data["line_num"][i]), []).append(word)
            confidences.append(confidence)
        else:
            doubts += sum(c.isalnum() for c in word) >= 2
    return Reading(tuple(" ".join(words) for words in lines.values()), tuple(confidences), doubts)


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
