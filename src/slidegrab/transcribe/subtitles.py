"""The transcript as a subtitle track of ``slides-video.mp4`` (ARCHITECTURE.md "Merge": "subtitles embedded").

The MP4 is remuxed, never re-encoded: its video and audio streams are copied packet for packet, its chapters
and tags are kept, and it stays faststart. Added: ``transcript.srt`` as a mov_text track titled
"Transcript (Whisper)" in the transcript's language, and each subtitle file the site offered (the
"subtitles" stage's ``site-subtitles.<lang>.vtt``, which stay beside the video as they are) as a track titled
"Site subtitles (<lang>)". The new file replaces the old one atomically.

The remux starts from the old file's video and audio streams only: its subtitle tracks are dropped (so a
second run does not add them twice), and so is its chapter text track, which the MP4 muxer writes anew from
the chapters (copying it too would add one more data track per run). The record says which inputs the video
was made from, so a rewritten video (a new merge) or transcript makes the stage run again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import ffmpeg

from slidegrab.archive import TalkFolder
from slidegrab.errors import MediaError
from slidegrab.ffmpeg import probe, run
from slidegrab.stages import Stage, StageContext
from slidegrab.transcribe.writers import JSON, SRT

VIDEO = "slides-video.mp4"
TRANSCRIPT_TITLE = "Transcript (Whisper)"
# ISO 639-1 → 639-2/T, the three letters an MP4 track's language must be, for every language Whisper knows
_ISO639_PAIRS = (
    "af:afr am:amh ar:ara as:asm az:aze ba:bak be:bel bg:bul bn:ben bo:bod br:bre bs:bos ca:cat cs:ces cy:cym "
    "da:dan de:deu el:ell en:eng es:spa et:est eu:eus fa:fas fi:fin fo:fao fr:fra gl:glg gu:guj ha:hau he:heb "
    "hi:hin hr:hrv ht:hat hu:hun hy:hye id:ind is:isl it:ita ja:jpn jw:jav jv:jav ka:kat kk:kaz km:khm kn:kan "
    "ko:kor la:lat lb:ltz ln:lin lo:lao lt:lit lv:lav mg:mlg mi:mri mk:mkd ml:mal mn:mon mr:mar ms:msa mt:mlt "
    "my:mya ne:nep nl:nld nn:nno no:nor oc:oci pa:pan pl:pol ps:pus pt:por ro:ron ru:rus sa:san sd:snd si:sin "
    "sk:slk sl:slv sn:sna so:som sq:sqi sr:srp su:sun sv:swe sw:swa ta:tam te:tel tg:tgk th:tha tk:tuk tl:tgl "
    "tr:tur tt:tat uk:ukr ur:urd uz:uzb vi:vie yi:yid yo:yor zh:zho"
)
_ISO639 = dict(pair.split(":") for pair in _ISO639_PAIRS.split())


@dataclass(frozen=True)
class Track:
    file: str  # relative to the talk folder
    language: str  # ISO 639-2, "und" when unknown
    title: str
    cues: int


class SubtitleTrackStage(Stage):
    name = "subtitles-track"

    def complete(self, folder: TalkFolder) -> bool:
        return super().complete(folder) and folder.stage(self.name).get("sources") == sources(folder)

    def run(self, folder: TalkFolder, ctx: StageContext) -> dict[str, Any]:
        ctx.progress("adding subtitle tracks", None, None)
        video, url = folder.path / VIDEO, folder.talk.url
        if not video.is_file():
            raise MediaError(f"no {VIDEO} to add subtitles to", url=url, hint="run slidegrab fetch again to make it")
        tracks = [t for t in [transcript_track(folder), *site_tracks(folder)] if t.cues]
        with folder.writing(VIDEO) as tmp:
            remux(folder, tracks, tmp)
        return {"files": [VIDEO], "tracks": [asdict(t) for t in tracks], "sources": sources(folder)}


def transcript_track(folder: TalkFolder) -> Track:
    srt = folder.path / SRT
    if not srt.is_file():
        raise MediaError(f"no {SRT} to put in the video", url=folder.talk.url, hint="run slidegrab transcribe")
    try:
        language = json.loads((folder.path / JSON).read_text(encoding="utf-8")).get("language")
    except (OSError, ValueError, AttributeError):
        language = None
    return Track(SRT, iso639_2(language), TRANSCRIPT_TITLE, cue_count(srt))


def site_tracks(folder: TalkFolder) -> list[Track]:
    """The site's subtitles, in the order the "subtitles" stage wrote them (that of ``talk.subtitles``)."""
    files = folder.stage("subtitles").get("files", []) if folder.is_done("subtitles") else []
    offered = folder.talk.subtitles
    tracks = []
    for i, file in enumerate(files):
        tag = offered[i].language if i < len(offered) else Path(file).suffixes[0].lstrip(".")
        path = folder.path / file
        if path.is_file():
            tracks.append(Track(file, iso639_2(tag), f"Site subtitles ({tag})", cue_count(path)))
    return tracks


def iso639_2(language: str | None) -> str:
    """An MP4 language code from "en", "en-US", "eng" …; "und" for anything else."""
    code = (language or "").split("-")[0].split("_")[0].lower()
    if len(code) == 3 and code.isascii() and code.isalpha():
        return code
    return _ISO639.get(code, "und")


def cue_count(path: Path) -> int:
    """Cues in an SRT or WebVTT file: its timing lines."""
    return sum("-->" in line for line in path.read_text(encoding="utf-8", errors="replace").splitlines())


def remux(folder: TalkFolder, tracks: list[Track], target: Path) -> None:
    source_path, url = folder.path / VIDEO, folder.talk.url
    kept = [s["index"] for s in probe(source_path, url=url)["streams"] if s.get("codec_type") in ("video", "audio")]
    source = ffmpeg.input(str(source_path))
    inputs = [ffmpeg.input(str(folder.path / t.file)) for t in tracks]
    options: dict[str, str] = {}
    for i, track in enumerate(tracks):
        options[f"metadata:s:s:{i}"] = f"language={track.language}"
        options[f"metadata:s:{len(kept) + i}"] = f"handler_name={track.title}"  # the same stream, by its index
    if last_frame := last_frame_filter(source_path, url):
        options["bsf:v:0"] = last_frame
    output = ffmpeg.output(
        *(source[str(index)] for index in kept), *(i["s:0"] for i in inputs), str(target),
        f="mp4", c="copy", **{"c:s": "mov_text"}, map_metadata=0, map_chapters=0, movflags="+faststart", **options,
    )  # fmt: skip
    run(output, what="adding subtitle tracks to the video", url=url)


def last_frame_filter(video: Path, url: str) -> str | None:
    """A setts filter that keeps the slideshow's last frame as long as it was.

    The MP4 does not store how long its last frame lasts, only where the track ends; copying the stream,
    ffmpeg guesses that duration from the average frame rate, which in a slideshow is seconds, and the video
    would run on past the audio. So the frame shown last is given back its duration up to the old end.
    """
    info = probe(video, url=url, select_streams="v:0", show_entries="stream=start_pts,duration_ts:packet=pts")
    streams, pts = info.get("streams") or [{}], [p["pts"] for p in info.get("packets", []) if "pts" in p]
    start, length = streams[0].get("start_pts"), streams[0].get("duration_ts")
    if not pts or not isinstance(start, int) or not isinstance(length, int) or start + length <= max(pts):
        return None
    last = max(pts)
    return f"setts=pts=PTS:dts=DTS:duration=if(eq(PTS\\,{last})\\,{start + length - last}\\,DURATION)"


def sources(folder: TalkFolder) -> dict[str, Any]:
    """What the video was made from: the video's size and time, and a digest of each subtitle file."""
    found: dict[str, Any] = {}
    video = folder.path / VIDEO
    if video.is_file():
        stat = video.stat()
        found[VIDEO] = [stat.st_size, stat.st_mtime_ns]
    for file in [SRT, *(t.file for t in site_tracks(folder))]:
        path = folder.path / file
        if path.is_file():
            found[file] = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return found
