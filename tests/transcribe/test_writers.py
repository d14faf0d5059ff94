"""Transcript writers (txt, srt, vtt, json) read back by ffmpeg's own parsers, and the subtitle tracks they
become in slides-video.mp4: a replica talk with site subtitles downloaded and merged by the real stages, then
remuxed, and checked with ffprobe: streams bit-identical, chapters kept, cues as written, idempotent."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from media_checks import probe, stream_md5
from slidegrab.archive import Archive, TalkFolder
from slidegrab.download import AudioStage, SlidesStage, SubtitlesStage
from slidegrab.errors import MediaError
from slidegrab.merge import MergeStage
from slidegrab.net import NetConfig
from slidegrab.replica.fixtures import by_id
from slidegrab.resolve import resolve
from slidegrab.stages import StageContext, run_stage
from slidegrab.transcribe.model import Segment, TranscriptInfo, Word
from slidegrab.transcribe.subtitles import VIDEO, SubtitleTrackStage, iso639_2
from slidegrab.transcribe.writers import format_srt, format_txt, format_vtt, transcript_json, write_transcripts

INFO = TranscriptInfo("faster-whisper", "tiny.en", "cpu", "int8", "en", 0.98, 21.5, chunks=3, quality={"wer": 0.1})
SEGMENTS = [
    Segment(0.0, 2.5, "  Hello, world.  ", 1, (Word(0.0, 0.8, " Hello,", 0.91), Word(0.9, 2.5, " world.", 0.8))),
    Segment(2.5, 2.9, "   ", slide=1),  # empty: skipped everywhere
    Segment(-0.2, 4.0, "Risky <b>tags</b> & arrows --> here", slide=2, avg_logprob=-0.31, no_speech_prob=0.02),
    Segment(3725.9, 3724.0, "An hour\nlater", slide=None, compression_ratio=float("nan")),
]  # fmt: skip


def ffmpeg_srt(path: Path, *selector: str) -> str:
    """What ffmpeg's own parser reads from a subtitle file (or an MP4's subtitle stream), as SRT."""
    args = ["ffmpeg", "-v", "error", "-i", str(path), *selector, "-f", "srt", "-"]
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


def cue_texts(srt: str) -> list[str]:
    return [block.split("\n", 2)[2].strip() for block in srt.strip().split("\n\n") if block.strip()]


def test_txt_is_one_grep_friendly_line_per_segment():
    assert format_txt(SEGMENTS).splitlines() == [
        "[00:00:00] Hello, world.",
        "[00:00:00] Risky <b>tags</b> & arrows --> here",
        "[01:02:05] An hour later",
    ]


def test_srt_cues_are_numbered_with_millisecond_times(tmp_path):
    text = format_srt(SEGMENTS)
    assert text.startswith("1\n00:00:00,000 --> 00:00:02,500\nHello, world.\n\n2\n00:00:00,000 --> 00:00:04,000\n")
    assert "3\n01:02:05,900 --> 01:02:05,900\nAn hour later\n" in text  # an end before the start is clamped
    assert "arrows -> here" in text
    (tmp_path / "t.srt").write_text(text)
    assert cue_texts(ffmpeg_srt(tmp_path / "t.srt"))[::2] == ["Hello, world.", "An hour later"]


def test_vtt_is_escaped_and_parses_back_to_the_text(tmp_path):
    text = format_vtt(SEGMENTS)
    assert text.startswith("WEBVTT\n\n00:00:00.000 --> 00:00:02.500\nHello, world.\n")
    assert "Risky &lt;b&gt;tags&lt;/b&gt; &amp; arrows --&gt; here" in text
    assert text.count("-->") == 3
    (tmp_path / "t.vtt").write_text(text)
    back = ffmpeg_srt(tmp_path / "t.vtt")
    assert cue_texts(back) == ["Hello, world.", "Risky <b>tags</b> & arrows --> here", "An hour later"]
    assert "00:00:00,000 --> 00:00:04,000" in back


def test_json_keeps_segments_words_and_engine_facts():
    data = transcript_json(SEGMENTS, INFO)
    assert {k: data[k] for k in ("engine", "model", "language", "language_probability", "duration")} == {
        "engine": "faster-whisper", "model": "tiny.en", "language": "en", "language_probability": 0.98,
        "duration": 21.5,
    }  # fmt: skip
    assert data["quality"] == {"wer": 0.1}
    first, second, third = data["segments"]
    assert first["words"] == [
        {"start": 0.0, "end": 0.8, "word": " Hello,", "probability": 0.91},
        {"start": 0.9, "end": 2.5, "word": " world.", "probability": 0.8},
    ]
    assert (first["text"], first["slide"]) == ("Hello, world.", 1)
    assert (second["start"], second["avg_logprob"], second["no_speech_prob"]) == (0.0, -0.31, 0.02)
    assert third["compression_ratio"] is None  # NaN is not JSON
    assert set(first) == {"start", "end", "text", "slide", "words", "avg_logprob", "no_speech_prob",
                          "compression_ratio"}  # fmt: skip
    json.loads(json.dumps(data, allow_nan=False))


def test_write_transcripts_writes_four_files_atomically(tmp_path):
    folder = TalkFolder(tmp_path)
    (tmp_path / "transcript.txt").write_text("an older transcript\n")
    names = write_transcripts(folder, SEGMENTS, INFO)
    assert names == ["transcript.txt", "transcript.srt", "transcript.vtt", "transcript.json"]
    assert (tmp_path / "transcript.txt").read_text() == format_txt(SEGMENTS)
    assert (tmp_path / "transcript.srt").read_text() == format_srt(SEGMENTS)
    assert (tmp_path / "transcript.vtt").read_text() == format_vtt(SEGMENTS)
    assert json.loads((tmp_path / "transcript.json").read_text()) == transcript_json(SEGMENTS, INFO)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names)


def test_language_tags_for_mp4():
    assert [iso639_2(x) for x in ("en", "en-US", "de", "zh", "yue", "jw", None, "", "xx")] == [
        "eng", "eng", "deu", "zho", "yue", "jav", "und", "und", "und",
    ]  # fmt: skip


# --- the subtitle tracks in slides-video.mp4 ---------------------------------------------------------------


@pytest.fixture(scope="module")
def subtitled(replica, tmp_path_factory) -> tuple[TalkFolder, list[Segment]]:
    """38956513 (which offers site subtitles) downloaded and merged, with a transcript of what it says."""
    net = NetConfig(proxy=replica.proxy_url, ca_bundle=replica.ca_path, retries=1, backoff=0.05)
    ctx = StageContext(net=net, session=net.session())
    fixture = by_id("38956513")
    url = f"https://slideslive.com/{fixture.id}"
    folder = Archive(tmp_path_factory.mktemp("subtitled")).create(resolve(url, net, session=ctx.session), url)
    for stage in (SlidesStage(), AudioStage(), SubtitlesStage(), MergeStage()):
        run_stage(stage, folder, ctx)
    starts = [s.time_ms / 1000 for s in fixture.slides]
    segments = [
        Segment(start, end, text, slide=sum(s <= start + 0.01 for s in starts))
        for start, end, text in replica.app.media(fixture).speech
    ]
    write_transcripts(folder, segments, INFO)
    return folder, segments


@pytest.fixture
def talk(subtitled, tmp_path) -> TalkFolder:
    """A fresh copy of the subtitled talk folder, before any subtitle track was added."""
    return TalkFolder.load(shutil.copytree(subtitled[0].path, tmp_path / subtitled[0].path.name))


def ctx() -> StageContext:
    return StageContext(net=NetConfig(), session=None)  # the stage uses no network


def subtitle_streams(mp4: Path) -> list[dict]:
    return [s for s in probe(mp4)["streams"] if s["codec_type"] == "subtitle"]


def test_the_transcript_and_the_site_subtitles_become_mov_text_tracks(talk, subtitled):
    mp4, segments = talk.path / VIDEO, subtitled[1]
    before = probe(mp4)
    md5 = {s: stream_md5(mp4, s) for s in ("0:v", "0:a")}
    assert run_stage(SubtitleTrackStage(), talk, ctx())
    after = probe(mp4)
    assert {s: stream_md5(mp4, s) for s in ("0:v", "0:a")} == md5  # copied, not re-encoded
    assert [c["tags"]["title"] for c in after["chapters"]] == [c["tags"]["title"] for c in before["chapters"]]
    assert [c["start_time"] for c in after["chapters"]] == [c["start_time"] for c in before["chapters"]]
    assert after["format"]["tags"]["title"] == before["format"]["tags"]["title"] == talk.talk.title
    assert after["format"]["tags"]["comment"] == talk.talk.url
    assert after["format"]["duration"] == before["format"]["duration"]  # the last slide does not outlast the talk
    assert [(s["duration"], s["nb_frames"]) for s in after["streams"][:2]] == [
        (s["duration"], s["nb_frames"]) for s in before["streams"][:2]
    ]
    ours, site = subtitle_streams(mp4)
    assert (ours["codec_name"], ours["tags"]["handler_name"], ours["tags"]["language"]) == (
        "mov_text", "Transcript (Whisper)", "eng",
    )  # fmt: skip
    assert (site["codec_name"], site["tags"]["handler_name"], site["tags"]["language"]) == (
        "mov_text", "Site subtitles (en)", "eng",
    )  # fmt: skip
    assert cue_texts(ffmpeg_srt(mp4, "-map", "0:s:0")) == [s.text for s in segments]
    site_vtt = talk.path / "site-subtitles.en.vtt"
    assert site_vtt.is_file()  # kept as a file too
    assert cue_texts(ffmpeg_srt(mp4, "-map", "0:s:1")) == cue_texts(ffmpeg_srt(site_vtt))
    assert moov_before_mdat(mp4)


def test_the_record_names_the_video_and_its_tracks(talk, subtitled):
    run_stage(SubtitleTrackStage(), talk, ctx())
    record = json.loads((talk.path / "talk.json").read_text())["stages"]["subtitles-track"]
    assert record["status"] == "done"
    assert record["files"] == [VIDEO]
    assert record["tracks"] == [
        {"file": "transcript.srt", "language": "eng", "title": "Transcript (Whisper)", "cues": len(subtitled[1])},
        {"file": "site-subtitles.en.vtt", "language": "eng", "title": "Site subtitles (en)", "cues": 3},
    ]


def test_running_again_adds_no_tracks_and_a_done_stage_is_skipped(talk):
    mp4, stage = talk.path / VIDEO, SubtitleTrackStage()
    run_stage(stage, talk, ctx())
    first = probe(mp4)
    talk.mark(stage.name, "done", **stage.run(talk, ctx()))  # forced: remux the remuxed file
    second = probe(mp4)
    assert [s["codec_type"] for s in second["streams"]] == [s["codec_type"] for s in first["streams"]]
    assert [s["codec_type"] for s in second["streams"]] == ["video", "audio", "subtitle", "subtitle", "data"]
    assert len(second["chapters"]) == len(first["chapters"])
    assert not run_stage(stage, talk, ctx())  # recorded, nothing changed: skipped


def test_a_new_transcript_or_a_new_video_runs_the_stage_again(talk):
    stage = SubtitleTrackStage()
    run_stage(stage, talk, ctx())
    write_transcripts(talk, [Segment(1.0, 2.0, "A corrected transcript.")], INFO)
    assert not stage.complete(talk)
    assert run_stage(stage, talk, ctx())
    assert cue_texts(ffmpeg_srt(talk.path / VIDEO, "-map", "0:s:0")) == ["A corrected transcript."]
    talk.mark("merge", "failed")
    assert run_stage(MergeStage(), talk, ctx())  # a new video, without subtitles
    assert not stage.complete(talk)
    assert run_stage(stage, talk, ctx())
    assert len(subtitle_streams(talk.path / VIDEO)) == 2


def test_without_site_subtitles_only_the_transcript_is_added(talk):
    talk.mark("subtitles", "done", files=[])
    run_stage(SubtitleTrackStage(), talk, ctx())
    assert [s["tags"]["handler_name"] for s in subtitle_streams(talk.path / VIDEO)] == ["Transcript (Whisper)"]


def test_a_silent_talk_gets_no_empty_track(talk):
    talk.mark("subtitles", "done", files=[])
    write_transcripts(talk, [Segment(0.0, 1.0, " ")], INFO)
    assert run_stage(SubtitleTrackStage(), talk, ctx())
    assert subtitle_streams(talk.path / VIDEO) == []
    assert talk.stage("subtitles-track")["tracks"] == []


def test_no_transcript_is_one_line_saying_what_to_run(talk):
    (talk.path / "transcript.srt").unlink()
    before = (talk.path / VIDEO).read_bytes()
    with pytest.raises(MediaError, match=r"no transcript.srt to put in the video \(run slidegrab transcribe\)"):
        run_stage(SubtitleTrackStage(), talk, ctx())
    assert (talk.path / VIDEO).read_bytes() == before
    assert talk.stage("subtitles-track")["status"] == "failed"


def moov_before_mdat(mp4: Path) -> bool:
    """Faststart: the index (moov) comes before the media data (mdat) among the top-level boxes."""
    order, data, at = [], mp4.read_bytes(), 0
    while at + 8 <= len(data):
        size, kind = int.from_bytes(data[at : at + 4], "big"), data[at + 4 : at + 8]
        size = int.from_bytes(data[at + 8 : at + 16], "big") if size == 1 else size or len(data) - at
        order.append(kind)
        at += size
    return order.index(b"moov") < order.index(b"mdat")
