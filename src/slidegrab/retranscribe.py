"""``slidegrab transcribe``: slide OCR, Whisper and the MP4's subtitle track again, on talk folders already
fetched, with the model loaded once for all of them. Needs no network."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

from slidegrab.archive import TalkFolder
from slidegrab.errors import SlidegrabError
from slidegrab.library import Library
from slidegrab.net import NetConfig
from slidegrab.pipeline import INPUTS, TalkResult, refresh_slide_table
from slidegrab.progress import Display
from slidegrab.stages import StageContext, run_stage
from slidegrab.transcribe.model import TranscriptOptions
from slidegrab.transcribe.models import BUNDLED
from slidegrab.transcribe.ocr import OcrStage
from slidegrab.transcribe.stage import TranscribeStage
from slidegrab.transcribe.subtitles import SubtitleTrackStage


def transcribe_folders(
    folders: list[Path], transcript: TranscriptOptions, display: Display, *, force: bool = False
) -> list[TalkResult]:
    """(Re)run slide OCR, transcription and the MP4's subtitle track on talk folders already fetched.

    A talk whose transcript was made with the same engine and model is skipped unless ``force``; the model
    is loaded once for all of them. Needs no network.
    """
    stages = (OcrStage(), TranscribeStage(transcript), SubtitleTrackStage())
    net = NetConfig()
    display.start(len(folders))
    results = []
    with Library.for_archive(folders[0].parent) if folders else nullcontext() as library:
        for path in folders:
            results.append(_transcribe_one(path, stages, transcript, net, display, library, force))
    display.stop()
    return results


def _transcribe_one(path, stages, transcript, net, display, library, force) -> TalkResult:
    key = str(path)
    display.talk_started(key, path.name)
    try:
        folder = TalkFolder.load(path)
        progress = lambda stage, done=None, total=None: display.talk_progress(key, stage, done, total)  # noqa: E731
        ctx = StageContext(net, None, progress)
        redone: set[str] = set()
        for stage in stages:
            again = any(name in redone for name in INPUTS.get(stage.name, ()))
            if stage.name == "transcribe":
                again = again or force or _other_model(folder, transcript)
            if run_stage(stage, folder, ctx, force=again):
                redone.add(stage.name)
        if redone:
            refresh_slide_table(folder)
            library.add_talk(path)
        talk = folder.talk
        return TalkResult(key, "done" if redone else "complete", talk.id, talk.title, path)
    except (OSError, ValueError) as e:
        return TalkResult(key, "failed", folder=path, error=f"{path} is not a talk folder of slidegrab ({e})")
    except SlidegrabError as e:
        return TalkResult(key, "failed", folder=path, error=str(e))
    finally:
        display.talk_finished(key)


def _other_model(folder: TalkFolder, transcript: TranscriptOptions) -> bool:
    """Whether the talk's transcript was made with another engine or model than the one asked for now."""
    record = folder.stage("transcribe")
    return (record.get("engine"), record.get("model")) != (transcript.engine, transcript.model or BUNDLED)
