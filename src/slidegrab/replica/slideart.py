"""Slide pictures for the replica: one saturated colour per slide, its title, its terms, "Slide N".

Everything is a pure function of the fixture (no randomness), so a test can recompute a slide's colour with
``slide_colour`` and find that slide in any frame of any video made from these images.
"""

from __future__ import annotations

import colorsys
import hashlib
import io
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from slidegrab.replica.fixtures import Fixture, FixtureSlide

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
BOLD = FONT_DIR / "DejaVuSans-Bold.ttf"
REGULAR = FONT_DIR / "DejaVuSans.ttf"
FRAME_SIZE = (640, 360)  # the frames the talk video is made of
LEAD_IN_COLOUR = (48, 48, 48)  # the video before the first slide appears
PIL_FORMATS = {"png": "PNG", "jpg": "JPEG", "jpeg": "JPEG", "webp": "WEBP"}
GOLDEN = 0.6180339887


def slide_colour(fixture_id: str, index: int) -> tuple[int, int, int]:
    """A saturated colour; neighbouring slides are far apart on the colour wheel (golden-ratio steps)."""
    base = int.from_bytes(hashlib.sha256(fixture_id.encode()).digest()[:4], "big") / 2**32
    hue = (base + index * GOLDEN) % 1.0
    value = 0.95 if index % 2 else 0.80
    red, green, blue = colorsys.hsv_to_rgb(hue, 0.90, value)
    return round(red * 255), round(green * 255), round(blue * 255)


def ink_for(background: tuple[int, int, int]) -> tuple[int, int, int]:
    """Black on light backgrounds, white on dark ones."""
    red, green, blue = background
    return (0, 0, 0) if 0.299 * red + 0.587 * green + 0.114 * blue > 140 else (255, 255, 255)


def draw_slide(fixture: Fixture, index: int) -> Image.Image:
    """The slide (1-based ``index``) at its declared size."""
    slide = fixture.slides[index - 1]
    width, height = slide.size
    colour = slide_colour(fixture.id, index)
    image = Image.new("RGB", (width, height), colour)
    draw = ImageDraw.Draw(image)
    ink = ink_for(colour)
    margin = max(8, width // 20)
    title = slide.title or (f"Video slide {index}" if slide.kind == "video" else f"Slide {index}")
    title_box = (width - 2 * margin, height * 2 // 5)
    bottom, title_size = _draw_block(draw, [title], BOLD, (margin, margin), title_box, height // 7, ink)
    terms = [f"\u2022 {term}" for term in slide.terms]
    if terms:
        box = (width - 2 * margin, height - bottom - 2 * margin)
        cap = min(height // 13, title_size * 3 // 4)
        _draw_block(draw, terms, REGULAR, (margin, bottom + margin // 2), box, max(10, cap), ink)
    marker = _font(REGULAR, max(10, height // 24))
    draw.text((width - margin, height - margin // 2), f"Slide {index}", font=marker, fill=ink, anchor="rs")
    return image


def save_slide(image: Image.Image, slide: FixtureSlide, path: Path) -> None:
    """Write ``image`` in the slide's real format (``slide.ext``)."""
    fmt = PIL_FORMATS[slide.ext.lstrip(".").lower()]
    path.write_bytes(encode(image, fmt))


def encode(image: Image.Image, fmt: str) -> bytes:
    """Encode as PNG, JPEG (quality 90) or WEBP; fast settings, deterministic output."""
    out = io.BytesIO()
    if fmt == "PNG":
        image.save(out, "PNG", compress_level=1)
    elif fmt == "JPEG":
        image.save(out, "JPEG", quality=90)
    else:
        image.save(out, "WEBP", quality=85, method=0)
    return out.getvalue()


def render(path: Path, fmt: str, height: int | None) -> bytes:
    """The image at ``path`` transcoded to ``fmt`` (png/jpg/webp), resized to ``height`` keeping aspect."""
    key = fmt.lower().lstrip(".")
    if key not in PIL_FORMATS:
        raise ValueError(f"unsupported image format {fmt!r} (png, jpg or webp)")
    if height is not None and height <= 0:
        raise ValueError(f"image height must be positive, got {height}")
    with Image.open(path) as original:
        image = original.convert("RGB")
    if height is not None and height != image.height:
        width = max(1, round(image.width * height / image.height))
        image = image.resize((width, height), Image.Resampling.LANCZOS)
    return encode(image, PIL_FORMATS[key])


def frame_of(image: Image.Image | None) -> Image.Image:
    """``image`` letterboxed into FRAME_SIZE; None gives the lead-in card."""
    frame = Image.new("RGB", FRAME_SIZE, LEAD_IN_COLOUR if image is None else (0, 0, 0))
    if image is not None:
        scale = min(FRAME_SIZE[0] / image.width, FRAME_SIZE[1] / image.height)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        small = image.resize(size, Image.Resampling.BILINEAR)
        frame.paste(small, ((FRAME_SIZE[0] - size[0]) // 2, (FRAME_SIZE[1] - size[1]) // 2))
    return frame


@lru_cache(maxsize=256)
def _font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), size)


def _draw_block(draw, lines, font_path, origin, box, cap, ink, wrap=True) -> tuple[int, int]:
    """Draw ``lines`` at the largest size (up to ``cap``) that fits ``box``; return (y below, size)."""
    font, laid_out = _fit(lines, font_path, box, cap, wrap)
    x, y = origin
    for line in laid_out:
        draw.text((x, y), line, font=font, fill=ink)
        y += round(font.size * 1.2)
    return y, font.size


def _fit(lines, font_path, box, cap, wrap):
    """One line per entry at a size down to cap/2; failing that, word-wrapped at the largest size that fits
    (or, without ``wrap``, one line per entry at smaller sizes)."""
    max_w, max_h = box
    sizes = [cap]
    while sizes[-1] > 10:
        sizes.append(max(10, int(sizes[-1] * 0.9)))
    attempts = [(size, False) for size in sizes if size >= cap // 2]
    attempts += [(size, wrap) for size in sizes if wrap or size < cap // 2]
    for size, wrapped in attempts:
        font = _font(font_path, size)
        laid_out = _wrap(lines, font, max_w) if wrapped else list(lines)
        if len(laid_out) * size * 1.2 <= max_h and all(font.getlength(line) <= max_w for line in laid_out):
            return font, laid_out
    return font, laid_out


def _wrap(lines, font, max_w) -> list[str]:
    """Greedy word wrap by rendered width."""
    out: list[str] = []
    for line in lines:
        current = ""
        for word in line.split():
            candidate = f"{current} {word}".strip()
            if current and font.getlength(candidate) > max_w:
                out.append(current)
                current = word
            else:
                current = candidate
        out.append(current)
    return out
