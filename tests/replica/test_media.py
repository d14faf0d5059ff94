"""The replica's generated media, checked with the real ffmpeg, ffprobe, espeak-ng, Pillow and yt-dlp."""

from __future__ import annotations

import array
import io
import json
import re
import subprocess
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yt_dlp
from PIL import Image

from slidegrab.replica import media as media_module
from slidegrab.replica import video
from slidegrab.replica.fixtures import Fixture, FixtureSlide
from slidegrab.replica.media import MediaStore, TalkMedia
from slidegrab.replica.slideart import LEAD_IN_COLOUR, slide_colour
from slidegrab.replica.video import extinf_total

FIXTURE = Fixture(
    id="31415926",
    title="Media test talk",
    slides=(
        FixtureSlide(1200, "Gradient descent", ("learning rate", "momentum"),
                     "Gradient descent follows the slope of the loss.", ext=".png"),
        FixtureSlide(5000, "Attention", ("softmax",), "Attention weighs every token.",
                     ext=".jpg", size=(1024, 576)),
        FixtureSlide(9000, "Demo", kind="video", video_id="vclipA1b2C3d4", video_duration_ms=3000),
    ),
)
TINY = Fixture(id="27182818", title="Tiny", slides=(FixtureSlide(0, "Hello", (), "Hello there."),),
               tail_ms=500)


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> MediaStore:
    return MediaStore(tmp_path_factory.mktemp("media"))


@pytest.fixture(scope="module")
def talk(store) -> TalkMedia:
    return store.get(FIXTURE)


def probe(path: Path) -> dict:
    args = ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)]
    return json.loads(subprocess.run(args, capture_output=True, text=True, check=True).stdout)


def frame(video: Path, at: float) -> bytes:
    """The 640x360 frame shown at ``at`` seconds, as raw RGB (decoding from the start: ffmpeg 5.1's HLS
    demuxer cannot seek in fMP4 segments)."""
    args = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(video), "-ss", str(at), "-frames:v", "1",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    raw = subprocess.run(args, capture_output=True, check=True).stdout
    assert len(raw) == 640 * 360 * 3
    return raw


def frame_rgb(video: Path, at: float, x: int, y: int) -> tuple[int, int, int]:
    offset = (y * 640 + x) * 3
    return tuple(frame(video, at)[offset : offset + 3])


def close(a, b, tolerance=24) -> bool:
    return all(abs(p - q) <= tolerance for p, q in zip(a, b, strict=True))


def test_slides_are_in_their_real_format_and_size_with_distinct_colours(talk):
    seen = []
    for index, (fmt, size) in enumerate([("PNG", (640, 360)), ("JPEG", (1024, 576)), ("PNG", (640, 360))], 1):
        with Image.open(talk.slide_image(index)) as image:
            assert (image.format, image.size) == (fmt, size)
            corner = image.convert("RGB").getpixel((2, size[1] - 3))
        assert close(corner, slide_colour(FIXTURE.id, index), 4)
        seen.append(corner)
    assert all(not close(a, b, 60) for i, a in enumerate(seen) for b in seen[i + 1 :])
    with pytest.raises(IndexError, match="no slide 4"):
        talk.slide_image(4)


def test_render_slide_transcodes_and_resizes_keeping_aspect(talk):
    with Image.open(io.BytesIO(talk.render_slide(2, "webp", 180))) as image:
        assert (image.format, image.size) == ("WEBP", (320, 180))
    with Image.open(io.BytesIO(talk.render_slide(1, "jpg"))) as image:
        assert (image.format, image.size) == ("JPEG", (640, 360))
    with pytest.raises(ValueError, match="unsupported image format"):
        talk.render_slide(1, "gif")


def test_speech_starts_at_slide_times_and_sets_the_length(talk):
    assert [(start, text) for start, _, text in talk.speech] == [
        (1.2, "Gradient descent follows the slope of the loss."), (5.0, "Attention weighs every token.")]
    assert all(1.0 < end - start < 3.8 for start, end, _ in talk.speech)
    # last slide at 9 s + 1 s outlasts the last sentence + 1.5 s tail
    assert talk.duration == pytest.approx(10.0)
    assert float(probe(talk.audio_m4a)["format"]["duration"]) == pytest.approx(talk.duration, abs=0.05)


def test_audio_is_silent_except_where_sentences_were_placed(talk):
    args = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(talk.audio_m4a),
            "-f", "s16le", "-ac", "1", "-ar", "8000", "-"]
    pcm = array.array("h", subprocess.run(args, capture_output=True, check=True).stdout)

    def loudness(start: float, end: float) -> int:
        return max(abs(s) for s in pcm[int(start * 8000) : int(end * 8000)])

    (first_start, first_end, _), (second_start, second_end, _) = talk.speech
    assert loudness(0.0, first_start - 0.05) < 200
    assert loudness(first_start, first_start + 0.3) > 1000
    assert loudness(first_end + 0.1, second_start - 0.05) < 200
    assert loudness(second_start, second_start + 0.3) > 1000
    assert loudness(second_end + 0.1, talk.duration) < 200


def test_progressive_mp4_shows_each_slide_at_its_time(talk):
    info = probe(talk.progressive_mp4)
    assert sorted(s["codec_name"] for s in info["streams"]) == ["aac", "h264"]
    assert float(info["format"]["duration"]) == pytest.approx(talk.duration, abs=0.05)
    data = talk.progressive_mp4.read_bytes()
    assert 0 < data.find(b"moov") < data.find(b"mdat")  # faststart: the index comes first
    assert close(frame_rgb(talk.progressive_mp4, 0.6, 5, 355), LEAD_IN_COLOUR)
    for index, at in [(1, 3.0), (2, 6.0), (3, 9.5)]:
        assert close(frame_rgb(talk.progressive_mp4, at, 5, 355), slide_colour(FIXTURE.id, index))


def test_hls_master_has_two_video_variants_and_an_audio_rendition(talk):
    master = (talk.hls_dir / "master.m3u8").read_text()
    assert "#EXT-X-MEDIA:TYPE=AUDIO" in master
    assert set(re.findall(r"RESOLUTION=(\d+x\d+)", master)) == {"640x360", "320x180"}
    playlists = re.findall(r'URI="([^"]+\.m3u8)"', master) + re.findall(r"^(\S+\.m3u8)$", master, re.M)
    assert len(playlists) == 3
    for name in playlists:
        text = (talk.hls_dir / name).read_text()
        assert re.search(r'#EXT-X-MAP:URI="init_\d+\.m4s"', text)
        assert text.rstrip().endswith("#EXT-X-ENDLIST")
        assert "PROGRAM-DATE-TIME" not in text
        assert extinf_total(talk.hls_dir / name) == pytest.approx(talk.duration, abs=0.1)
        for line in text.splitlines():
            uri = line if not line.startswith("#") else "".join(re.findall(r'URI="([^"]+)"', line))
            assert not uri or (talk.hls_dir / uri).is_file()
    kinds = {s["codec_type"] for s in probe(talk.hls_dir / "master.m3u8")["streams"]}
    assert kinds == {"audio", "video"}


def test_dash_manifest_has_the_duration_and_segment_templates(talk):
    root = ET.parse(talk.hls_dir / "master.mpd").getroot()
    match = re.fullmatch(r"PT(?:(\d+)M)?([\d.]+)S", root.get("mediaPresentationDuration"))
    assert int(match[1] or 0) * 60 + float(match[2]) == pytest.approx(talk.duration, abs=0.1)
    templates = root.findall(".//{urn:mpeg:dash:schema:mpd:2011}SegmentTemplate")
    assert len(templates) == 3
    for template in templates:
        assert template.get("initialization") == "init_$RepresentationID$.m4s"
        assert template.get("media") == "chunk_$RepresentationID$_$Number%05d$.m4s"
    assert (talk.hls_dir / "chunk_2_00001.m4s").is_file()


def test_yt_dlp_reads_the_master_playlist(talk):
    with yt_dlp.YoutubeDL({"quiet": True, "no_warnings": True, "enable_file_urls": True}) as ydl:
        info = ydl.extract_info((talk.hls_dir / "master.m3u8").as_uri(), download=False)
    widths = sorted(f["width"] for f in info["formats"] if f.get("vcodec") not in (None, "none"))
    assert widths == [320, 640]
    assert any(f.get("vcodec") == "none" for f in info["formats"])
    assert info["duration"] == pytest.approx(talk.duration, abs=1)


def test_video_slide_clip_is_a_short_hls_of_its_duration(talk):
    clip = talk.clip_hls_dir("vclipA1b2C3d4")
    assert "#EXT-X-STREAM-INF" in (clip / "master.m3u8").read_text()
    assert extinf_total(clip / "media_0.m3u8") == pytest.approx(3.0, abs=0.1)
    assert (clip / "master.mpd").is_file()
    assert {s["codec_type"] for s in probe(clip / "master.m3u8")["streams"]} == {"video"}
    assert frame(clip / "media_0.m3u8", 0.5) != frame(clip / "media_0.m3u8", 2.0)  # it moves
    with pytest.raises(KeyError):
        talk.clip_hls_dir("nope")


def test_vtt_has_one_cue_per_sentence_at_its_placed_times(talk):
    text = talk.vtt.read_text()
    assert text.startswith("WEBVTT\n")
    cues = re.findall(r"(\d\d):(\d\d):(\d\d\.\d{3}) --> (\d\d):(\d\d):(\d\d\.\d{3})\n(.+)", text)
    assert len(cues) == len(talk.speech) == 2
    for (h1, m1, s1, h2, m2, s2, line), (start, end, sentence) in zip(cues, talk.speech, strict=True):
        assert int(h1) * 3600 + int(m1) * 60 + float(s1) == pytest.approx(start, abs=0.001)
        assert int(h2) * 3600 + int(m2) * 60 + float(s2) == pytest.approx(end, abs=0.001)
        assert line == sentence


def test_second_get_is_cached_in_memory_and_on_disk(store, talk):
    started = time.monotonic()
    assert store.get(FIXTURE) is talk
    assert time.monotonic() - started < 0.05
    stamp = (talk.dir / "media.json").stat().st_mtime_ns
    again = MediaStore(store.root).get(FIXTURE)  # a new process would see only the disk
    assert (again.dir, again.duration, again.speech) == (talk.dir, talk.duration, talk.speech)
    assert (talk.dir / "media.json").stat().st_mtime_ns == stamp
    assert not list(store.root.glob(".tmp-*"))


def test_concurrent_gets_generate_once(tmp_path, monkeypatch):
    calls = []
    real = media_module.generate

    def counting(fixture, out):
        calls.append(fixture.id)
        time.sleep(0.2)  # make sure the second thread arrives while the first generates
        real(fixture, out)

    monkeypatch.setattr(media_module, "generate", counting)
    store, results = MediaStore(tmp_path), []
    threads = [threading.Thread(target=lambda: results.append(store.get(TINY))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == [TINY.id]
    assert results[0] is results[1]
    assert [p.name for p in tmp_path.iterdir()] == [results[0].dir.name]


def test_same_fixture_gives_the_same_bytes(tmp_path):
    one, two = MediaStore(tmp_path / "a").get(TINY), MediaStore(tmp_path / "b").get(TINY)
    files = sorted(p.relative_to(one.dir) for p in one.dir.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(two.dir) for p in two.dir.rglob("*") if p.is_file())
    assert all((one.dir / f).read_bytes() == (two.dir / f).read_bytes() for f in files)


def test_overlapping_sentences_are_a_catalogue_error(tmp_path):
    crowded = Fixture(id="11112222", title="Crowded", slides=(
        FixtureSlide(0, "One", (), "This sentence takes far longer than half a second to say."),
        FixtureSlide(500, "Two", (), "Too soon."),
    ))
    with pytest.raises(ValueError, match=r"fixture 11112222: slide 1.*slide 2"):
        MediaStore(tmp_path).get(crowded)
    assert list(tmp_path.iterdir()) == []


def test_ffmpeg_failures_raise_with_ffmpegs_last_line(tmp_path):
    with pytest.raises(RuntimeError, match=r"ffmpeg failed: .*No such file or directory"):
        video.ffmpeg(["-i", str(tmp_path / "missing.wav"), str(tmp_path / "out.m4a")])
