"""The replica's catalogue: every talk it serves, declared as data.

A fixture says what the site publishes (ids, titles, timings, hosts, services, quirks). Media are generated
from it (media.py): each slide a distinct colour with its title and terms written on it, and espeak-ng
speech that says each slide's ``say`` sentence starting at that slide's time, so that frames, OCR and
transcripts can all be checked against this file.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FixtureSlide:
    time_ms: int  # when the slide appears, ms from the start of the video
    title: str = ""  # large text on the slide
    terms: tuple[str, ...] = ()  # technical terms written on the slide, and spoken in ``say``
    say: str = ""  # the sentence espeak-ng speaks starting at time_ms ("" = silence)
    name: str = ""  # image name on the CDN; "" → derived ("00001" style)
    ext: str = ".png"  # the real format of the image: ".png", ".jpg" or ".webp"
    declare_ext: bool = True  # whether slides.json carries image.extname
    size: tuple[int, int] = (640, 360)  # pixel size of the original image
    kind: str = "image"  # "image" or "video"
    video_id: str = ""  # for video slides: the yoda clip id
    video_duration_ms: int = 0


@dataclass(frozen=True)
class ConferencePage:
    host: str  # e.g. "iclr.cc"
    path: str  # e.g. "/virtual_2020/poster_Hklr204Fvr.html"
    style: str = "miniconf"  # "miniconf" (double quotes, own line), "virtual" (single quotes), "iframe"
    conference: str = ""  # citation_conference_title
    authors: tuple[str, ...] = ()  # citation_author, in order
    date: str = ""  # citation_publication_date
    abstract: str = ""


@dataclass(frozen=True)
class Fixture:
    id: str  # 8-digit SlidesLive id
    title: str
    slides: tuple[FixtureSlide, ...]
    speakers: tuple[str, ...] = ()
    service: str = "yoda"  # "yoda", "vimeo", "url", "youtube"
    video_id: str = ""  # yoda path / Vimeo id / YouTube id; "" → derived; for "url" the media URL is derived
    timings: str = "json"  # which timing files exist: "json", "xml" or "both"
    json_status: int = 200  # e.g. 403 "Access Denied" for XML-only decks
    xml_status: int = 200  # e.g. 403 S3 <Error> for JSON-only decks
    slides_version: int = 1  # the vN in s.slideslive.com/{id}/vN/
    slide_qualities: tuple[str, ...] = ()  # present on older decks: images under cdn.slideslive.com/…/{q}/
    slides_host: str = "slideslive-slides.b-cdn.net"  # gon.hosts.slideslive_on_the_fly_resized_slides_host
    playlist_type: str = "vod"
    start_time_ms: int = 0  # #EXT-SL-PRESENTATION-START-TIME
    embed_only: bool = False
    allowed_domains: tuple[str, ...] = ()  # parents allowed for embed-only talks (may be empty)
    vimeo_referers: tuple[str, ...] = ("slideslive.com",)  # hosts whose Referer Vimeo accepts
    subtitles: bool = False  # offer a site VTT in #EXT-SL-VOD-SUBTITLES
    conference: ConferencePage | None = None
    tail_ms: int = 1500  # silence after the last sentence
    notes: str = ""  # what this fixture is for
    tags: frozenset[str] = field(default_factory=frozenset)  # e.g. {"demo"}


# The catalogue proper (CATALOGUE: tuple[Fixture, ...]) and lookups (by_id) are filled in below.
