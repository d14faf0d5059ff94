"""The transcribe stage on talk folders the real `slidegrab fetch` made from the replica; the quality filters."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time

import pytest
import requests

from slidegrab.archive import TalkFolder
from slidegrab.errors import MediaError
from slidegrab.net import NetConfig
from slidegrab.replica.fixtures import by_id
from slidegrab.stages import StageContext, run_stage
from slidegrab.transcribe.engines import LOADS
from slidegrab.transcribe.model import Segment, TranscriptOptions
from slidegrab.transcribe.models import ModelError
from slidegrab.transcribe.quality import drop_hallucinations, talk_quality
from slidegrab.transcribe.stage import TranscribeStage
from slidegrab.transcribe.wer import wer
from slidegrab.urls import slugify

TALKS = ["38990101", "38922012", "38980107"]  # yoda; a direct MP4 file; a first slide at 4.2 s
OCR = {"38990101", "38922012"}  # talks given slide texts as the OCR stage would record them


@pytest.fixture(scope="module")
def archive(replica, tmp_path_factory):
    """The three talks fetched without transcription, through the real CLI."""
    out = tmp_path_factory.mktemp("archive")
    args = ["--proxy", replica.proxy_url, "--ca-bundle", str(replica.ca_path), "--no-transcribe", "-j", "3"]
    urls = [f"https://slideslive.com/{fid}" for fid in TALKS]
    done = subprocess.run(
        [sys.executable, "-m", "slidegrab", "fetch", *urls, "-o", str(out), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for fid in OCR:
        fixture, folder = by_id(fid), talk_folder(out, fid)
        texts = ["\n".join([s.title, *s.terms]) for s in fixture.slides]
        folder.mark("ocr", "done", files=[], texts=texts)
    return out


def talk_folder(out, fid: str) -> TalkFolder:
    return TalkFolder.load(out / f"{fid}-{slugify(by_id(fid).title)}")


def context(progress: list | None = None) -> StageContext:
    def report(stage, done=None, total=None):
        if progress is not None:
            progress.append((stage, done, total))

    return StageContext(NetConfig(), requests.Session(), progress=report)


@pytest.fixture(scope="module")
def transcribed(archive):
    """Every talk through the stage once; (folder, progress reports, seconds) per talk id."""
    results = {}
    for fid in TALKS:
        folder, progress = talk_folder(archive, fid), []
        started = time.monotonic()
        assert run_stage(TranscribeStage(TranscriptOptions()), folder, context(progress))
        results[fid] = (folder, progress, time.monotonic() - started)
    return results


@pytest.mark.parametrize("fid", TALKS)
def test_transcript_files_and_record(transcribed, fid):
    folder, progress, seconds = transcribed[fid]
    record = folder.stage("transcribe")
    assert record["status"] == "done"
    assert record["files"] == ["transcript.txt", "transcript.srt", "transcript.vtt", "transcript.json"]
    assert all((folder.path / name).is_file() for name in record["files"])
    expected = {
        "engine": "faster-whisper",
        "model": "tiny.en",
        "language": "en",
        "device": "cpu",
        "compute_type": "int8",
        "slide_prompts": True,
    }
    assert {key: record[key] for key in expected} == expected
    assert record["quality"]["suspect"] is False, record["quality"]
    assert record["quality"]["speech_covered"] > 0.7
    print(f"{fid}: {seconds:.1f} s, quality {record['quality']}")
    saved = json.loads((folder.path / "transcript.json").read_text())
    assert len(saved["segments"]) == record["segments"] > 0
    # progress follows the segments to the end of the talk
    done = [d for stage, d, _ in progress if stage == "transcribe"]
    assert done == sorted(done)
    assert done[-1] == saved["segments"][-1]["end"]
    assert {round(total, 3) for _, _, total in progress} == {saved["duration"]}


@pytest.mark.parametrize("fid", TALKS)
def test_segments_sit_on_their_slides(transcribed, fid):
    folder = transcribed[fid][0]
    saved = json.loads((folder.path / "transcript.json").read_text())
    slides = folder.state["slides"]
    starts = [0.0] + [s["start"] for s in slides[1:]]
    ends = [s["start"] for s in slides[1:]] + [saved["duration"]]
    previous = 0.0
    for segment in saved["segments"]:
        assert previous <= segment["start"] <= segment["end"] <= saved["duration"]
        previous = segment["end"]
        index = segment["slide"]
        assert starts[index - 1] <= (segment["start"] + segment["end"]) / 2 <= ends[index - 1]
    fixture = by_id(fid)
    spoken = " ".join(s.say for s in fixture.slides)
    heard = " ".join(s["text"] for s in saved["segments"])
    assert wer(spoken, heard) < (0.25 if fid in OCR else 0.5), heard  # slide texts make the jargon right


def test_model_loaded_once_for_all_talks(transcribed):
    assert LOADS[("faster-whisper", None, None, "cpu", "default")] == 1


def test_done_transcript_is_skipped_unless_forced(transcribed):
    folder = transcribed["38922012"][0]
    before = folder.stage("transcribe")["at"], (folder.path / "transcript.txt").stat().st_mtime_ns
    assert not run_stage(TranscribeStage(TranscriptOptions()), folder, context())
    assert (folder.stage("transcribe")["at"], (folder.path / "transcript.txt").stat().st_mtime_ns) == before
    plain = TranscriptOptions(slide_prompts=False)
    assert run_stage(TranscribeStage(plain, force=True), folder, context())
    assert folder.stage("transcribe")["slide_prompts"] is False


def test_offline_named_model_fails_only_transcription(transcribed, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = transcribed["38980107"][0]
    stage = TranscribeStage(TranscriptOptions(model="large-v3"), force=True)
    with pytest.raises(ModelError):
        run_stage(stage, folder, context())
    record = folder.stage("transcribe")
    assert record["status"] == "failed"
    assert "model 'large-v3' is not in the Hugging Face cache" in record["error"]
    assert "\n" not in record["error"]
    assert folder.is_done("audio")
    assert folder.is_done("merge")


def test_talk_without_slides_gets_windows(transcribed, tmp_path):
    source = transcribed["38990101"][0]
    copy = tmp_path / source.path.name
    shutil.copytree(source.path, copy)
    folder = TalkFolder.load(copy)
    folder.state["talk"]["slides"] = []
    assert run_stage(TranscribeStage(TranscriptOptions(), force=True), folder, context())
    saved = json.loads((copy / "transcript.json").read_text())
    assert saved["segments"]
    assert {s["slide"] for s in saved["segments"]} == {None}


def test_no_audio_is_one_clear_error(transcribed, tmp_path):
    source = transcribed["38922012"][0]
    copy = tmp_path / source.path.name
    shutil.copytree(source.path, copy)
    (copy / source.stage("audio")["files"][0]).unlink()
    with pytest.raises(MediaError, match="talk 38922012: no audio to transcribe"):
        TranscribeStage().run(TalkFolder.load(copy), context())


def seg(
    text: str,
    start: float = 0.0,
    end: float = 2.0,
    *,
    no_speech: float = 0.05,
    logprob: float = -0.3,
    compression: float = 1.2,
) -> Segment:
    return Segment(start, end, text, 1, (), logprob, no_speech, compression)


def test_silence_hallucinations_are_dropped_when_the_decoder_was_unsure():
    kept_as_said = [seg(" Thank you."), seg(" Thanks for watching!", 2, 3), seg(" You", 3, 4)]
    unsure = [
        seg(" Thank you for watching!", 4, 5, no_speech=0.7),
        seg(" Subtitles by the Amara.org community", 5, 6, logprob=-0.9),
        seg(" you", 6, 7, no_speech=0.5),
        seg(" Please subscribe to my channel.", 7, 8, logprob=-1.2),
        seg(" ♪ ♪", 8, 9),
        seg(" ...", 9, 10),
        seg(" We'll see you in the next video.", 10, 10.2, no_speech=0.55, logprob=-1.2),  # tiny.en, demo talk
    ]
    real = seg(" Thank you for watching the gradient flow.", 10, 12, no_speech=0.8)
    dropped: list[Segment] = []
    assert list(drop_hallucinations([*kept_as_said, *unsure, real], dropped)) == [*kept_as_said, real]
    assert dropped == unsure


def test_repeated_lines_collapse():
    lines = [
        seg(" We add noise.", 0, 2),
        seg(" We add noise.", 2, 4),
        seg(" we add noise", 4, 6),
        seg(" Then we train.", 6, 8),
        seg(" We add noise.", 8, 10),
    ]
    assert [s.start for s in drop_hallucinations(lines)] == [0, 6, 8]


def test_quality_figures_and_suspect_flag():
    good = [seg(" One.", 0, 4, logprob=-0.2), seg(" Two.", 4, 5, logprob=-0.5, no_speech=0.7)]
    figures = talk_quality(good, 10.0, [(0.0, 6.0), (8.0, 9.0)])
    assert figures == {
        "avg_logprob": -0.26,
        "no_speech_ratio": 0.2,
        "compression_ratio": 1.2,
        "coverage": 0.5,
        "speech_ratio": 0.7,
        "speech_covered": 0.714,
        "reasons": [],
        "suspect": False,
    }
    assert talk_quality(good, 10.0, [(0.0, 6.0)])["speech_covered"] == 0.833
    looping = [seg(" la la la", 0, 10, logprob=-1.4, compression=3.1)]
    bad = talk_quality(looping, 100.0, [(0.0, 60.0)])
    assert bad["suspect"] is True
    assert bad["reasons"] == [
        "low avg_logprob -1.4",
        "repetitive text (compression ratio 3.1)",
        "only 17% of the speech transcribed",
    ]
    assert talk_quality([], 60.0, [(0.0, 30.0)])["reasons"] == ["speech but no transcript"]
    assert talk_quality([], 60.0, [])["suspect"] is False
