"""The merge stages against real ffmpeg: talk folders built on disk (Pillow slides, ffmpeg-made AAC), checked
with ffprobe and by decoding the frames; and two replica talks downloaded and merged end to end."""

from __future__ import annotations

import json
import shlex
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

import pytest
import requests
import yt_dlp
from PIL import Image, PdfParser

from slidegrab.archive import Archive, TalkFolder
from slidegrab.errors import MediaError
from slidegrab.ffmpeg import last_line, probe
from slidegrab.merge import CONCAT, PDF, VIDEO, MergeStage, PdfStage, frame_size, timeline
from slidegrab.net import NetConfig
from slidegrab.replica.fixtures import CATALOGUE
from slidegrab.replica.slideart import slide_colour
from slidegrab.resolve import resolve
from slidegrab.stages import StageContext, run_stage
from slidegrab.talk import MediaSource, Slide, Talk

RED, GREEN, BLUE, YELLOW, PURPLE = (220, 30, 30), (30, 200, 60), (40, 60, 220), (230, 220, 40), (150, 40, 170)
PIL_FORMAT = {".png": "PNG", ".jpg": "JPEG", ".webp": "WEBP"}
FRAME_S = 0.04  # "one frame": a 25 fps frame, the coarsest a player would show
HOSTILE = 'Ünïcödé = "Quotes" ; # & ../etc\\passwd'

# (start s, colour, size, extension); the first slide starts after 0, sizes and formats are mixed
MIXED = [
    (4.2, RED, (640, 360), ".png"),
    (7.0, GREEN, (800, 600), ".jpg"),
    (9.5, BLUE, (1280, 720), ".webp"),
    (12.3, YELLOW, (640, 360), ".png"),
]
MIXED_AUDIO = 15.37


def make_audio(path: Path, seconds: float) -> None:
    args = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}"]
    subprocess.run([*args, "-c:a", "aac", "-b:a", "48k", str(path)], check=True)


def make_folder(root: Path, slides: list, audio_seconds: float | None, **talk_fields) -> TalkFolder:
    """A talk folder as the download stages leave it: slides/NNNN.ext, audio.m4a and their records."""
    talk = Talk(
        id="38900001",
        url="https://slideslive.com/38900001",
        title=talk_fields.pop("title", "Merging Slides"),
        media=MediaSource("yoda", "abc", "https://example.invalid/master.m3u8"),
        slides=tuple(Slide(i, start, f"{i:05d}", ext, None) for i, (start, _, _, ext) in enumerate(slides, 1)),
        duration=audio_seconds,
        **talk_fields,
    )
    folder = Archive(root).create(talk, talk.url)
    files = []
    for i, (_, colour, size, ext) in enumerate(slides, 1):
        (folder.path / "slides").mkdir(exist_ok=True)
        Image.new("RGB", size, colour).save(folder.path / f"slides/{i:04d}{ext}", PIL_FORMAT[ext])
        files.append(f"slides/{i:04d}{ext}")
    folder.mark("slides", "done", files=files, video_slides=[])
    if audio_seconds is not None:
        make_audio(folder.path / "audio.m4a", audio_seconds)
        folder.mark("audio", "done", files=["audio.m4a"], codec="aac", duration=audio_seconds)
    return folder


def context() -> StageContext:
    net = NetConfig()
    return StageContext(net=net, session=requests.Session())


def decoded(mp4: Path, box: int | None = None) -> list[tuple[float, Image.Image]]:
    """Every frame of the video with its time; only the centre ``box`` x ``box`` pixels when given."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "frame=pts_time,width,height",
         "-of", "json", str(mp4)], capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    rows = json.loads(out)["frames"]
    width, height = (box, box) if box else (rows[0]["width"], rows[0]["height"])
    crop = ["-vf", f"crop={box}:{box}"] if box else []
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(mp4), *crop, "-fps_mode", "passthrough", "-f", "rawvideo",
         "-pix_fmt", "rgb24", "-"], capture_output=True, check=True,
    ).stdout  # fmt: skip
    size = width * height * 3
    assert len(raw) == size * len(rows)
    return [
        (float(row["pts_time"]), Image.frombytes("RGB", (width, height), raw[i * size : (i + 1) * size]))
        for i, row in enumerate(rows)
    ]


def shown_at(frames: list[tuple[float, Image.Image]], t: float) -> Image.Image:
    """What a player shows at ``t``: the last frame that starts at or before it. (``ffmpeg -ss T -i`` would
    give the first frame at or AFTER T, which in a VFR slideshow is the next slide.)"""
    return [image for start, image in frames if start <= t + 1e-6][-1]


def centre(image: Image.Image) -> tuple[int, int, int]:
    return image.getpixel((image.width // 2, image.height // 2))


def near(actual, expected, tolerance: int = 16) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def audio_md5(path: Path) -> str:
    args = ["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:a", "-c", "copy", "-f", "md5", "-"]
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture(scope="module")
def merged(tmp_path_factory) -> TalkFolder:
    folder = make_folder(
        tmp_path_factory.mktemp("merged"), MIXED, MIXED_AUDIO,
        title=HOSTILE, speakers=("Ada Lovelace", "Alan Turing"), conference="ICLR 2021",
    )  # fmt: skip
    assert run_stage(MergeStage(), folder, context())
    assert run_stage(PdfStage(), folder, context())
    return folder


def test_merge_records_its_outputs(merged):
    record = merged.stage("merge")
    assert record["status"] == "done"
    assert record["files"] == [VIDEO, CONCAT]
    assert record["frame"] == [1280, 720]  # the largest slide
    assert record["chapters"] == 4
    assert record["duration"] == pytest.approx(MIXED_AUDIO, abs=0.001)
    assert record["normalised"] == 2  # the jpg and the webp, as PNG in frames/
    assert sorted(p.name for p in (merged.path / "frames").iterdir()) == ["0002.png", "0003.png"]
    assert not list(merged.path.glob(".*.part"))
    assert not run_stage(MergeStage(), merged, context())  # complete: a rerun does nothing


def test_video_streams_audio_copied_and_durations(merged):
    video, audio = merged.path / VIDEO, merged.path / "audio.m4a"
    info = probe(video)
    kinds = [s["codec_type"] for s in info["streams"]]
    assert kinds.count("video") == 1
    assert kinds.count("audio") == 1
    assert set(kinds) <= {"video", "audio", "data"}  # data: the MP4 chapter track ffmpeg adds
    (v,) = [s for s in info["streams"] if s["codec_type"] == "video"]
    (a,) = [s for s in info["streams"] if s["codec_type"] == "audio"]
    assert (v["codec_name"], v["pix_fmt"], v["width"] % 2, v["height"] % 2) == ("h264", "yuv420p", 0, 0)
    assert a["codec_name"] == probe(audio)["streams"][0]["codec_name"] == "aac"
    assert audio_md5(video) == audio_md5(audio)  # packet for packet the downloaded audio
    assert abs(float(v["duration"]) - MIXED_AUDIO) <= FRAME_S
    assert abs(float(info["format"]["duration"]) - MIXED_AUDIO) <= FRAME_S
    assert int(v["nb_frames"]) == len(MIXED) + 1  # VFR: one frame per slide, plus the repeated last


def test_video_metadata_and_chapters(merged):
    info = probe(merged.path / VIDEO, show_chapters=None)
    tags = info["format"]["tags"]
    assert tags["title"] == HOSTILE
    assert tags["artist"] == "Ada Lovelace, Alan Turing"
    assert tags["comment"] == "https://slideslive.com/38900001"
    assert tags["album"] == "ICLR 2021"
    chapters = info["chapters"]
    assert [c["tags"]["title"] for c in chapters] == ["Slide 1", "Slide 2", "Slide 3", "Slide 4"]
    assert [float(c["start_time"]) for c in chapters] == [0.0, 7.0, 9.5, 12.3]  # the first from 0
    assert [float(c["end_time"]) for c in chapters] == [7.0, 9.5, 12.3, MIXED_AUDIO]


def test_every_instant_shows_the_sites_slide(merged):
    frames = decoded(merged.path / VIDEO)
    assert [round(t, 3) for t, _ in frames] == [0.0, 7.0, 9.5, 12.3, MIXED_AUDIO]  # changes to the ms
    assert near(centre(shown_at(frames, 0.5)), RED)  # slide 1 from 0, though the site shows it at 4.2
    ends = [s for s, *_ in MIXED[1:]] + [MIXED_AUDIO]
    for (start, colour, _, _), end in zip(MIXED, ends, strict=True):
        for t in (start + 0.05, (start + end) / 2, end - 0.05):
            assert near(centre(shown_at(frames, t)), colour), (t, colour)
    four_by_three = shown_at(frames, 8.0)  # 800x600 in 1280x720: pillarboxed, black at the sides
    assert near(four_by_three.getpixel((40, 360)), (0, 0, 0))
    assert near(four_by_three.getpixel((1240, 360)), (0, 0, 0))
    assert near(four_by_three.getpixel((640, 5)), GREEN)  # and full height
    sixteen_by_nine = shown_at(frames, 5.0)  # 640x360 scaled up to fill the frame
    assert near(sixteen_by_nine.getpixel((3, 3)), RED)


def test_concat_list_reruns_from_the_talk_folder(merged, tmp_path):
    text = (merged.path / CONCAT).read_text()
    lines = text.splitlines()
    assert lines[0] == "ffconcat version 1.0"
    files = [line.split("'")[1] for line in lines if line.startswith("file ")]
    assert files == ["slides/0001.png", "frames/0002.png", "frames/0003.png", "slides/0004.png", "slides/0004.png"]
    assert all((merged.path / f).is_file() for f in files)
    durations = [float(line.split()[1]) for line in lines if line.startswith("duration ")]
    assert durations == [7.0, 2.5, 2.8, pytest.approx(3.07)]
    command = shlex.split(lines[1].removeprefix("# "))  # the command the list itself suggests
    assert command[0] == "ffmpeg"
    assert command[-1] == VIDEO
    again = tmp_path / "again.mp4"
    subprocess.run([*command[:-1], "-v", "error", str(again)], cwd=merged.path, check=True)
    assert [round(t, 3) for t, _ in decoded(again, box=8)] == [0.0, 7.0, 9.5, 12.3, MIXED_AUDIO]
    assert audio_md5(again) == audio_md5(merged.path / "audio.m4a")


def test_pdf_has_one_page_per_slide(merged):
    assert merged.stage("pdf")["files"] == [PDF]
    assert merged.stage("pdf")["pages"] == 4
    pdf = PdfParser.PdfParser(str(merged.path / PDF))
    assert len(pdf.pages) == 4
    for page_ref, (_, colour, size, ext) in zip(pdf.pages, MIXED, strict=True):
        page = pdf.read_indirect(page_ref)
        assert [float(x) for x in page[b"MediaBox"]] == [0, 0, *size]
        stream = pdf.read_indirect(page[b"Resources"][b"XObject"][b"Im0"])
        assert (stream.dictionary[b"Width"], stream.dictionary[b"Height"]) == size
        if ext == ".jpg":  # embedded as downloaded
            assert stream.dictionary[b"Filter"] == b"DCTDecode"
            assert stream.buf == (merged.path / "slides/0002.jpg").read_bytes()
        else:  # lossless
            pixels = Image.frombytes("RGB", size, stream.decode(max_length=size[0] * size[1] * 3))
            assert near(pixels.getpixel((5, 5)), colour, tolerance=4 if ext == ".png" else 12)
    pdf.close()


@pytest.mark.parametrize("ext", [".jpg", ".webp"])
def test_uniform_deck_uses_the_slides_as_they_are(ext, tmp_path):
    slides = [(0.0, PURPLE, (1000, 500), ext), (1.0, GREEN, (600, 600), ext), (1.5, RED, (1000, 500), ext)]
    folder = make_folder(tmp_path, slides, 3.0)
    info = MergeStage().run(folder, context())
    assert info["frame"] == [1000, 500]
    assert info["normalised"] == 0
    assert not (folder.path / "frames").exists()
    text = (folder.path / CONCAT).read_text()
    assert f"file 'slides/0001{ext}'" in text
    assert "frames/" not in text
    frames = decoded(folder.path / VIDEO)
    assert [round(t, 3) for t, _ in frames] == [0.0, 1.0, 1.5, 3.0]
    assert [near(centre(shown_at(frames, t)), c) for t, c in ((0.5, PURPLE), (1.2, GREEN), (2.9, RED))] == [True] * 3
    assert near(shown_at(frames, 1.2).getpixel((20, 250)), (0, 0, 0))  # the square slide, pillarboxed


def test_video_slide_without_a_still_keeps_the_slide_before(tmp_path):
    folder = make_folder(tmp_path, [(0.0, RED, (320, 180), ".png")], 3.0)
    talk = folder.talk
    clip = Slide(2, 1.0, "", "", None, kind="video")
    later = Slide(3, 2.0, "00003", ".png", None)
    Image.new("RGB", (320, 180), GREEN).save(folder.path / "slides/0003.png")
    folder.update(talk={**talk.to_dict(), "slides": [asdict(s) for s in (talk.slides[0], clip, later)]})
    folder.mark("slides", "done", files=["slides/0001.png", None, "slides/0003.png"], video_slides=[2])
    info = MergeStage().run(folder, context())
    assert info["chapters"] == 3
    frames = decoded(folder.path / VIDEO, box=16)
    assert [near(centre(shown_at(frames, t)), c) for t, c in ((0.5, RED), (1.5, RED), (2.5, GREEN))] == [True] * 3


def test_broken_audio_fails_cleanly(tmp_path):
    folder = make_folder(tmp_path, MIXED, None)
    (folder.path / "audio.m4a").write_bytes(b"\x00\x01 this is not audio " * 200)
    folder.mark("audio", "done", files=["audio.m4a"], codec="aac", duration=15.0)
    with pytest.raises(MediaError, match="Invalid data found when processing input") as caught:
        run_stage(MergeStage(), folder, context())
    assert caught.value.url == "https://slideslive.com/38900001"
    assert TalkFolder.load(folder.path).stage("merge")["status"] == "failed"
    left = sorted(p.name for p in folder.path.iterdir())
    assert left == ["audio.m4a", "slides", "talk.json"]  # no video, no list, no frames, no temp files


def test_ffmpeg_failure_reports_its_reason(tmp_path):
    folder = make_folder(tmp_path, MIXED[:2], None)
    wav = folder.path / "audio.wav"  # PCM probes fine, but an MP4 cannot carry it: ffmpeg itself fails
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=duration=9", "-c:a", "pcm_s16le", str(wav)],
                   check=True)  # fmt: skip
    folder.mark("audio", "done", files=["audio.wav"], codec="pcm_s16le", duration=9.0)
    with pytest.raises(MediaError, match=r"making the slide video: \[mp4\] Could not find tag for codec pcm_s16le"):
        MergeStage().run(folder, context())
    assert sorted(p.name for p in folder.path.iterdir()) == ["audio.wav", "slides", "talk.json"]


def test_missing_slide_image_and_missing_ffmpeg(tmp_path, monkeypatch):
    folder = make_folder(tmp_path, MIXED[:2], 9.0)
    (folder.path / "slides/0002.jpg").unlink()
    with pytest.raises(MediaError, match="slide 2 has no readable image"):
        MergeStage().run(folder, context())
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(MediaError, match="ffprobe was not found on PATH.*apt install ffmpeg"):
        MergeStage().run(folder, context())


def test_timeline_and_frame_size():
    assert timeline([4.2, 7.0, 9.5], 12000) == [(0, 7000), (7000, 9500), (9500, 12000)]
    assert timeline([0.0, 3.0, 2.0, 20.0], 10000) == [(0, 3000), (3000, 3000), (3000, 10000), (10000, 10000)]
    assert frame_size([(640, 360), (3841, 2161)]) == (1918, 1080)
    assert frame_size([(1025, 769), (800, 600)]) == (1024, 768)
    assert last_line(b"x\n[mp4 @ 0x55f3] real reason\nConversion failed!\n") == "[mp4] real reason"


# --- the real thing: replica talks resolved and downloaded, then merged -----------------------------


def download(folder: TalkFolder, talk: Talk, net: NetConfig) -> None:
    """Slides and audio, simply: what the download stages record."""
    (folder.path / "slides").mkdir()
    with net.session() as session, ThreadPoolExecutor(8) as pool:

        def get(slide: Slide) -> str:
            response = session.get(slide.image_url)
            response.raise_for_status()
            name = f"slides/{slide.index:04d}{slide.ext}"
            (folder.path / name).write_bytes(response.content)
            return name

        files = list(pool.map(get, talk.slides))
    folder.mark("slides", "done", files=files, video_slides=[])
    params = {**net.ytdlp_params(), "format": "bestaudio", "quiet": True, "noprogress": True}
    with yt_dlp.YoutubeDL({**params, "outtmpl": str(folder.path / "audio.%(ext)s")}) as ydl:
        path = Path(ydl.extract_info(talk.media.url)["requested_downloads"][0]["filepath"])
    duration = float(probe(path)["format"]["duration"])
    folder.mark("audio", "done", files=[path.name], codec="aac", duration=duration)


@pytest.mark.slow
@pytest.mark.parametrize("talk_id", ["38935710", "38932408"])
def test_replica_talk_merges_in_sync(talk_id, replica, net, tmp_path):
    talk = resolve(f"https://slideslive.com/{talk_id}", net)
    folder = Archive(tmp_path).create(talk, talk.url)
    download(folder, talk, net)
    began = time.monotonic()
    assert run_stage(MergeStage(), folder, context())
    took = time.monotonic() - began
    print(f"merged {len(talk.slides)} slides in {took:.2f} s")
    assert took < 30  # seconds, not minutes (about 2 s here for 300 slides)
    record = folder.stage("merge")
    fixture = next(f for f in CATALOGUE if f.id == talk_id)
    assert record["chapters"] == len(fixture.slides)
    assert record["frame"] == list(fixture.slides[0].size)
    assert record["normalised"] == (2 if talk_id == "38932408" else 0)  # the mixed deck's jpgs
    frames = decoded(folder.path / VIDEO, box=8)
    assert len(frames) == len(fixture.slides) + 1
    starts = [0.0] + [s.time_ms / 1000 for s in fixture.slides[1:]]
    ends = starts[1:] + [record["duration"]]
    for index, (start, end) in enumerate(zip(starts, ends, strict=True), 1):
        assert near(centre(shown_at(frames, (start + end) / 2)), slide_colour(talk_id, index)), index
    assert abs(frames[-1][0] - record["duration"]) < 0.002
    assert audio_md5(folder.path / VIDEO) == audio_md5(folder.path / folder.stage("audio")["files"][0])
    assert run_stage(PdfStage(), folder, context())
    assert len(PdfParser.PdfParser(str(folder.path / PDF)).pages) == len(fixture.slides)
