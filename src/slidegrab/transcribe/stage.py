"""The transcribe stage: the talk's audio through Whisper, one chunk per slide, prompted by that slide.

It reads the audio file (audio stage), the slide table (start/end per slide), the slides' OCR text (ocr
stage, when there is one), and the talk's title and speakers; builds one chunk per slide interval with its
prompt; decodes with the engine ``load_engine`` keeps loaded for the whole batch; drops silence
hallucinations; writes transcript.txt/.srt/.vtt/.json; and records engine, model, language and quality
figures in talk.json. A transcript that is done is kept unless the stage is made with ``force`` (as
``slidegrab transcribe`` does when another engine or model is asked for).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from slidegrab.archive import TalkFolder, slide_table
from slidegrab.errors import MediaError, SlidegrabError
from slidegrab.stages import Stage, StageContext
from slidegrab.transcribe.chunks import slide_chunks
from slidegrab.transcribe.engines import Engine, load_engine
from slidegrab.transcribe.model import Chunk, Segment, TranscriptOptions
from slidegrab.transcribe.quality import drop_hallucinations, talk_quality


class TranscribeStage(Stage):
    name = "transcribe"

    def __init__(self, options: TranscriptOptions | None = None, *, force: bool = False):
        self.options = options or TranscriptOptions()
        self.force = force

    def complete(self, folder: TalkFolder) -> bool:
        return not self.force and super().complete(folder)

    def run(self, folder: TalkFolder, ctx: StageContext) -> dict[str, Any]:
        from slidegrab.transcribe.writers import write_transcripts

        audio = audio_file(folder)
        engine = load_engine(self.options, ctx.cpu)
        stop_if_cancelled(ctx, folder)  # loading the model, and below reading the audio, take seconds too
        segments, info = engine.transcribe(audio, self.chunks(folder, engine), self.options)
        dropped: list[Segment] = []
        kept = []
        for segment in drop_hallucinations(segments, dropped):
            stop_if_cancelled(ctx, folder)
            kept.append(segment)
            ctx.progress("transcribe", segment.end, info.duration)
        quality = talk_quality(kept, info.duration, info.speech)
        info.quality = {k: v for k, v in quality.items() if k != "reasons"}  # numbers only in transcript.json
        files = write_transcripts(folder, kept, info)
        return {
            "files": files,
            "engine": info.engine,
            "model": info.model,
            "language": info.language,
            "language_probability": round(info.language_probability, 3),
            "device": info.device,
            "compute_type": info.compute_type,
            "slide_prompts": self.options.slide_prompts,
            "chunks": info.chunks,
            "segments": len(kept),
            "dropped": len(dropped),
            "quality": quality,
        }

    def chunks(self, folder: TalkFolder, engine: Engine) -> list[Chunk]:
        """One chunk per slide interval (split, merged), prompted by the slide's OCR text, title and speakers."""
        talk = folder.talk
        duration = folder.stage("audio").get("duration") or talk.duration or 0.0
        texts = folder.stage("ocr").get("texts") or []
        model = getattr(engine, "model", None)
        return slide_chunks(
            slide_table(folder) if talk.slides else [],
            float(duration),
            title=talk.title,
            speakers=talk.speakers,
            slide_texts=[t if isinstance(t, str) else "" for t in texts],
            prompts=self.options.slide_prompts,
            tokenizer=getattr(model, "hf_tokenizer", None),
        )


def stop_if_cancelled(ctx: StageContext, folder: TalkFolder) -> None:
    """Ctrl-C: the transcript is left unwritten, and the stage recorded as interrupted."""
    if ctx.cancel.is_set():
        raise SlidegrabError(f"talk {folder.talk.id}: interrupted")


def audio_file(folder: TalkFolder) -> Path:
    """The audio the audio stage wrote, or one line saying it is missing."""
    files = folder.stage("audio").get("files") or []
    if not folder.is_done("audio") or not files or not (folder.path / files[0]).is_file():
        raise MediaError(f"talk {folder.talk.id}: no audio to transcribe", hint="fetch the talk first")
    return folder.path / files[0]
