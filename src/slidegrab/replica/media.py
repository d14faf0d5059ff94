"""Every media file the replica serves, generated from a Fixture and cached on disk.

``MediaStore(root).get(fixture)`` builds, once per fixture, under ``root/<id>-<hash>/``:

    slides/slide_00001.png …   each slide in its real format and size (slideart.py)
    audio.m4a                  espeak-ng saying each slide's sentence at the slide's time (speech.py)
    talk.mp4                   the slides as video + that audio (faststart; Vimeo progressive, "url" talks)
    hls/                       yoda CDN content: master.m3u8, media_N.m3u8, init/chunk .m4s, master.mpd
    clips/clip_N/              the same for each video slide's clip (a moving test pattern)
    speech.vtt                 one cue per sentence, at its placed times
    media.json                 duration and placed sentences, written last

It is built in a temporary folder and renamed into place, so a killed run never leaves half a cache.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from slidegrab.replica import slideart, speech, video
from slidegrab.replica.fixtures import Fixture

GENERATOR_VERSION = "1"
DEFAULT_CLIP_MS = 4000  # a video slide that does not say how long its clip is


@dataclass(frozen=True)
class TalkMedia:
    fixture: Fixture
    dir: Path
    duration: float  # seconds: the exact length of the audio (= the video)
    speech: list[tuple[float, float, str]]  # (start s, end s, sentence) as placed in the audio
    clips: dict[str, str]  # video slide clip id -> folder name under clips/

    @property
    def hls_dir(self) -> Path:
        return self.dir / "hls"

    @property
    def progressive_mp4(self) -> Path:
        return self.dir / "talk.mp4"

    @property
    def audio_m4a(self) -> Path:
        return self.dir / "audio.m4a"

    @property
    def vtt(self) -> Path:
        return self.dir / "speech.vtt"

    def slide_image(self, index: int) -> Path:
        """The original image of slide ``index`` (1-based), in the slide's real format and size."""
        if not 1 <= index <= len(self.fixture.slides):
            raise IndexError(f"fixture {self.fixture.id} has no slide {index}")
        return self.dir / "slides" / _slide_name(index, self.fixture.slides[index - 1].ext)

    def render_slide(self, index: int, fmt: str, height: int | None = None) -> bytes:
        """Slide ``index`` as ``fmt`` ("png", "jpg", "webp"), resized to ``height`` keeping its aspect."""
        return slideart.render(self.slide_image(index), fmt, height)

    def clip_hls_dir(self, video_id: str) -> Path:
        """The yoda folder (master.m3u8 …) of a video slide's clip."""
        if video_id not in self.clips:
            raise KeyError(f"fixture {self.fixture.id} has no video slide with clip id {video_id!r}")
        return self.dir / "clips" / self.clips[video_id]


class MediaStore:
    def __init__(self, root: Path):
        self.root = Path(root)
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._by_key: dict[str, TalkMedia] = {}
        self._by_fixture: dict[Fixture, TalkMedia] = {}  # the fast path: no hashing of the slides to JSON

    def get(self, fixture: Fixture) -> TalkMedia:
        """The fixture's media, generated on first use (once, however many threads ask at the same time)."""
        media = self._by_fixture.get(fixture)
        if media is not None:
            return media
        with self._guard:
            lock = self._locks.setdefault(fixture.id, threading.Lock())
        with lock:
            key = cache_key(fixture)
            media = self._by_key.get(key) or self._load_or_generate(fixture, key)
            if media.fixture != fixture:  # same media, other non-media fields
                media = dataclasses.replace(media, fixture=fixture)
            self._by_key[key] = media
            self._by_fixture[fixture] = media
            return media

    def _load_or_generate(self, fixture: Fixture, key: str) -> TalkMedia:
        final = self.root / key
        if not (final / "media.json").exists():
            self.root.mkdir(parents=True, exist_ok=True)
            _remove_abandoned(self.root, key)
            temp = self.root / f".tmp-{key}-{threading.get_ident()}-{os.getpid()}"
            shutil.rmtree(temp, ignore_errors=True)
            try:
                generate(fixture, temp)
                os.rename(temp, final)
            except OSError:
                if not (final / "media.json").exists():  # not just another process that finished first
                    raise
            finally:
                shutil.rmtree(temp, ignore_errors=True)
        return _load(fixture, final)


def cache_key(fixture: Fixture) -> str:
    """``<id>-<hash>`` of what the media depend on (slides, tail) and GENERATOR_VERSION."""
    wanted = {"id": fixture.id, "slides": [dataclasses.asdict(s) for s in fixture.slides],
              "tail_ms": fixture.tail_ms, "version": GENERATOR_VERSION}
    digest = hashlib.sha256(json.dumps(wanted, sort_keys=True).encode()).hexdigest()[:12]
    return f"{fixture.id}-{digest}"


def generate(fixture: Fixture, out: Path) -> None:
    """Write every media file of ``fixture`` into the new folder ``out`` (audio and clips while drawing)."""
    work = out / "work"
    work.mkdir(parents=True)
    with ThreadPoolExecutor(max_workers=2) as pool:
        sound = pool.submit(_write_audio, fixture, work, out / "audio.m4a")
        clips = pool.submit(_write_clips, fixture, out / "clips")
        frames = _write_slides(fixture, out / "slides", work)
        placed, duration = sound.result()
        clip_dirs = clips.result()
    video.write_concat(work / "frames.txt", _timeline(fixture, frames, duration, work))
    video.slideshow(work / "frames.txt", out / "audio.m4a", duration, out / "talk.mp4", work / "small.mp4")
    video.talk_hls(out / "talk.mp4", work / "small.mp4", out / "hls")
    (out / "speech.vtt").write_text(speech.vtt_text(placed))
    shutil.rmtree(work)
    sentences = [[p.start, p.end, p.text] for p in placed]
    manifest = {"duration": duration, "speech": sentences, "clips": clip_dirs}
    (out / "media.json").write_text(json.dumps(manifest, indent=1))


def _write_audio(fixture: Fixture, work: Path, m4a: Path) -> tuple[list[speech.Placed], float]:
    """Speech placed at the slide times, encoded to AAC; returns the placements and the duration."""
    clips = speech.synthesize(fixture, work)
    placed, total = speech.place(fixture, clips)
    speech.write_wav(work / "speech.wav", placed, clips, total)
    video.encode_audio(work / "speech.wav", m4a)
    return placed, total / speech.RATE


def _write_slides(fixture: Fixture, slides_dir: Path, work: Path) -> list[Path]:
    """Each slide in its real format, plus a video frame of it; returns the frames."""
    slides_dir.mkdir()
    frames = []
    for index, slide in enumerate(fixture.slides, 1):
        image = slideart.draw_slide(fixture, index)
        slideart.save_slide(image, slide, slides_dir / _slide_name(index, slide.ext))
        frames.append(work / f"frame_{index:05d}.png")
        slideart.frame_of(image).save(frames[-1], compress_level=1)
    return frames


def _timeline(fixture: Fixture, frames: list[Path], duration: float, work: Path) -> list[tuple[Path, float]]:
    """(frame, seconds shown): a lead-in card until the first slide, then each slide until the next."""
    times = [s.time_ms / 1000 for s in fixture.slides] + [duration]
    if any(b < a for a, b in zip(times, times[1:], strict=False)):
        raise ValueError(f"fixture {fixture.id}: slide times must not decrease: {times[:-1]}")
    timeline = [(frame, end - start) for frame, start, end in zip(frames, times, times[1:], strict=False)]
    if times[0] > 0 or not frames:
        lead_in = work / "lead_in.png"
        slideart.frame_of(None).save(lead_in, compress_level=1)
        timeline.insert(0, (lead_in, times[0]))
    return [(frame, seconds) for frame, seconds in timeline if seconds > 0]


def _write_clips(fixture: Fixture, clips_dir: Path) -> dict[str, str]:
    """A short yoda clip per distinct video slide id; returns clip id -> folder name."""
    names: dict[str, str] = {}
    for slide in fixture.slides:
        if slide.kind == "video" and slide.video_id not in names:
            names[slide.video_id] = f"clip_{len(names) + 1}"
            seconds = (slide.video_duration_ms or DEFAULT_CLIP_MS) / 1000
            video.clip_hls(seconds, clips_dir / names[slide.video_id])
    return names


def _slide_name(index: int, ext: str) -> str:
    return f"slide_{index:05d}.{ext.lstrip('.').lower()}"


def _load(fixture: Fixture, folder: Path) -> TalkMedia:
    manifest = json.loads((folder / "media.json").read_text())
    placed = [(float(a), float(b), str(t)) for a, b, t in manifest["speech"]]
    return TalkMedia(fixture, folder, float(manifest["duration"]), placed, dict(manifest["clips"]))


def _remove_abandoned(root: Path, key: str) -> None:
    """Delete temporary folders of generations whose process has died."""
    for temp in root.glob(f".tmp-{key}-*"):
        pid = temp.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(temp, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
