"""The replica's catalogue: every talk it serves, declared as data.

A fixture says what the site publishes (ids, titles, timings, hosts, services, quirks). Media are generated
from it (media.py): each slide a distinct colour with its title and terms written on it, and espeak-ng
speech that says each slide's ``say`` sentence starting at that slide's time, so that frames, OCR and
transcripts can all be checked against this file.
"""

from __future__ import annotations

import hashlib
import math
import re
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
    advertise_domains: bool = True  # whether the domain_not_allowed redirect lists allowed_domains[]
    timings_host: str = "s.slideslive.com"  # host of the VOD-SLIDES-*-URL (legacy decks: cdn.slideslive.com)
    vimeo_referers: tuple[str, ...] = ("slideslive.com",)  # hosts whose Referer Vimeo accepts
    subtitles: bool = False  # offer a site VTT in #EXT-SL-VOD-SUBTITLES
    conference: ConferencePage | None = None
    tail_ms: int = 1500  # silence after the last sentence
    notes: str = ""  # what this fixture is for
    tags: frozenset[str] = field(default_factory=frozenset)  # e.g. {"demo"}


# The catalogue proper (CATALOGUE: tuple[Fixture, ...]) and lookups (by_id) are filled in below.

SPEECH_WORDS_PER_S = 2.5  # espeak-ng at 150 wpm


def spoken_ms(text: str) -> int:
    """About how long espeak-ng takes to say ``text`` (hyphenated parts count as words), in ms."""
    words = len(re.findall(r"[A-Za-z0-9\u00C0-\u024F]+", text))
    return math.ceil(words / SPEECH_WORDS_PER_S * 10) * 100


def estimated_duration_ms(f: Fixture) -> int:
    """Where the talk should end: the last slide's start, its sentence, then the tail of silence."""
    last = f.slides[-1]
    return last.time_ms + max(spoken_ms(last.say), last.video_duration_ms) + f.tail_ms


def slide_name(f: Fixture, index: int) -> str:
    """The image name of slide ``index`` (0-based) on the CDN."""
    return f.slides[index].name or f"{index + 1:05d}"


def yoda_video_id(f: Fixture) -> str:
    """The 12-character yoda path of the talk's video (``video_id``, or derived from the talk id)."""
    return f.video_id or _token(f"yoda:{f.id}", 12)


def _token(seed: str, length: int) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    n = int.from_bytes(hashlib.sha256(seed.encode()).digest(), "big")
    chars = []
    for _ in range(length):
        n, r = divmod(n, len(alphabet))
        chars.append(alphabet[r])
    return "".join(chars)


Row = tuple  # (title, terms, say) or (title, terms, say, {FixtureSlide overrides})


def _deck(rows: list[Row], *, start_ms: int = 0, gap_ms: int = 1500, names=None, **common) -> tuple:
    """Slides from rows, each starting when the previous sentence (plus a pause) has been said."""
    slides, t = [], start_ms
    for i, (title, terms, say, *extra) in enumerate(rows):
        kw = {**common, **(extra[0] if extra else {})}
        name = kw.pop("name", names(i) if names else "")
        slide = FixtureSlide(time_ms=t, title=title, terms=tuple(terms), say=say, name=name, **kw)
        slides.append(slide)
        t += max(spoken_ms(say), slide.video_duration_ms) + gap_ms
    return tuple(slides)


def _random_names(seed: str):
    return lambda i: _token(f"{seed}:{i}", 16)


def _dense_deck() -> tuple:
    """300 slides about 0.2 s apart; five of them stay up long enough for a spoken sentence."""
    spoken = {
        0: ("Mixture of Experts", ("mixture of experts",), "This talk is about a sparse mixture of experts."),
        60: ("Routing", ("top-k gating",), "Each token picks experts with top-k gating."),
        150: ("Load Balancing", ("auxiliary loss",), "An auxiliary loss keeps every expert busy."),
        240: ("Capacity", ("capacity factor",), "The capacity factor limits tokens per expert."),
        299: ("Summary", ("conditional computation",), "Conditional computation scales models cheaply."),
    }
    slides, t = [], 0
    for i in range(300):
        title, terms, say = spoken.get(i, (f"Ablation {i + 1}", (), ""))
        slides.append(FixtureSlide(time_ms=t, title=title, terms=terms, say=say, declare_ext=False))
        t += spoken_ms(say) + 700 if say else (200 if i % 2 else 250)
    return tuple(slides)



CATALOGUE: tuple[Fixture, ...] = (
    Fixture(
        id="38990101",
        title="Sparse Networks that Resist Noise",
        speakers=("Mira Castellanos", "Jonas Weber"),
        slides_version=3,
        slides=_deck([
            ("Sparse Networks", ["k-winners-take-all"], "Today we study k-winners-take-all layers."),
            ("Robustness", ["Lipschitz continuity"], "Sparse layers improve Lipschitz continuity."),
            ("Noise", ["adversarial perturbation"], "We add an adversarial perturbation to each image."),
            ("Training", ["dropout", "batch normalization"], "We combine dropout with batch normalization."),
            ("Conclusion", ["sparsity"], "In short, sparsity gives robust features for free."),
        ], names=_random_names("38990101")),
        tags=frozenset({"demo"}),
        notes="A plain good yoda talk: JSON timings on s.slideslive.com/v3, png images with extname, "
        "16-character image names, Bunny CDN slide host.",
    ),
    Fixture(
        id="38925901",
        title="Gaussian Processes for Structured Smoothness",
        speakers=("Priya Raman",),
        timings="both",
        json_status=403,
        slides_version=2,
        slides=_deck([
            ("Structured Smoothness", ["Gaussian process"], "A Gaussian process gives smooth functions."),
            ("Kernels", ["radial basis function"], "We start from a radial basis function kernel."),
            ("Inference", ["variational inference"], "Variational inference makes training fast."),
            ("Results", ["marginal likelihood"], "The marginal likelihood improves on every dataset."),
        ], start_ms=0, names=lambda i: f"0-{i + 1:04d}", ext=".jpg", declare_ext=False, size=(1024, 576)),
        conference=ConferencePage(
            host="iclr.cc",
            path="/virtual_2020/poster_B1xSperKvH.html",
            conference="ICLR 2020",
            authors=("Priya Raman", "Tomasz Nowak"),
            date="2020/04/26",
            abstract="We show how Gaussian processes encode structured smoothness in deep architectures.",
        ),
        tags=frozenset({"demo"}),
        notes="XML-only timings: the JSON URL answers 403 Access Denied, the XML works; legacy 1024x576 jpg "
        "images on cdn.slideslive.com/…/slides/big/; also on the ICLR 2020 Mini-Conf site (not embed-only).",
    ),
    Fixture(
        id="38925902",
        title="Towards Equivariant Graph Neural Networks",
        speakers=("Lena Fischer",),
        service="vimeo",
        video_id="401234567",
        embed_only=True,
        allowed_domains=("iclr.cc",),
        vimeo_referers=("slideslive.com", "iclr.cc"),
        slides=_deck([
            ("Equivariance", ["equivariant"], "We want networks that are equivariant to rotations."),
            ("Message Passing", ["message passing"], "Message passing shares features between neighbours."),
            ("Symmetry", ["Lie group"], "Every Lie group action maps to a layer."),
            ("Takeaways", ["inductive bias"], "A good inductive bias saves data."),
        ], names=lambda i: f"{i + 1:05d}"),
        conference=ConferencePage(
            host="iclr.cc",
            path="/virtual_2020/poster_Hklr204Fvr.html",
            conference="ICLR 2020",
            authors=("Lena Fischer", "Kwame Mensah", "Sofia Rossi"),
            date="2020/04/26",
            abstract="Equivariant message passing networks respect the symmetries of molecular graphs.",
        ),
        tags=frozenset({"demo"}),
        notes="Vimeo-hosted, embed-only (iclr.cc), on a Mini-Conf poster page; Vimeo answers only to "
        "slideslive.com and iclr.cc Referers (else 403 privacy message).",
    ),
    Fixture(
        id="39021404",
        title="Scaling Laws for Diffusion Transformers",
        speakers=("Hiro Tanaka",),
        embed_only=True,
        allowed_domains=("icml.cc",),
        slides_version=5,
        slides=_deck([
            ("Diffusion", ["denoising diffusion"], "Denoising diffusion turns noise into images."),
            ("Backbone", ["vision transformer"], "We replace the U-Net with a vision transformer."),
            ("Scaling", ["power law"], "Loss follows a power law in compute."),
            ("Guidance", ["classifier-free guidance"], "Classifier-free guidance sharpens every sample."),
        ], names=_random_names("39021404")),
        conference=ConferencePage(
            host="icml.cc",
            path="/virtual/2024/poster/34521",
            style="virtual",
            conference="ICML 2024",
            authors=("Hiro Tanaka", "Amara Okafor"),
            date="2024/07/23",
            abstract="We measure how diffusion transformers scale with data, parameters and compute.",
        ),
        notes="Yoda, embed-only with allowed domains [icml.cc], on a current-style "
        "/virtual/2024/poster/ page (single quotes).",
    ),
    Fixture(
        id="39012305",
        title="Contrastive Pretraining without Negatives",
        speakers=("Ines Duarte",),
        embed_only=True,
        allowed_domains=("neurips.cc",),
        advertise_domains=False,
        slides_version=2,
        slides=_deck([
            ("Contrastive Learning", ["InfoNCE"], "Most methods train with the InfoNCE objective."),
            ("No Negatives", ["stop-gradient"], "A stop-gradient avoids representation collapse."),
            ("Predictor", ["exponential moving average"], "The target uses an exponential moving average."),
        ], names=_random_names("39012305")),
        conference=ConferencePage(
            host="neurips.cc",
            path="/virtual/2023/poster/71456",
            style="iframe",
            conference="NeurIPS 2023",
            authors=("Ines Duarte", "Rahul Mehta"),
            date="2023/12/12",
            abstract="Self-supervised pretraining works without negative pairs when the target network lags.",
        ),
        notes="Embed-only but the redirect names no allowed domain (yt-dlp: 'Try passing --referer'); only "
        "neurips.cc works as parent; the NeurIPS page embeds it with a plain <iframe>.",
    ),
    Fixture(
        id="38979606",
        title="Low-Rank Adapters in Motion",
        speakers=("Chen Wei",),
        slides_version=7,
        slides=_deck([
            ("Adapters", ["low-rank adaptation"], "Low-rank adaptation trains tiny matrices."),
            ("Demo Clip", ["rank decomposition"], "This clip shows a rank decomposition.",
             {"kind": "video", "video_id": "vsl1Qm3Xa9Bz", "video_duration_ms": 3000}),
            ("Memory", ["gradient checkpointing"], "Gradient checkpointing saves memory."),
            ("Second Clip", ["weight merging"], "Here weight merging happens live.",
             {"kind": "video", "video_id": "vsl2Pn7Yc4Dw", "video_duration_ms": 4000}),
            ("Summary", ["parameter efficiency"], "Parameter efficiency matters at scale."),
        ], names=_random_names("38979606")),
        notes="Two video slides (type video, yoda clips resolved through slides_video_service_data): "
        "yt-dlp returns a playlist of 3.",
    ),
    Fixture(
        id="38980107",
        title="Late Starts and Long Pauses",
        speakers=("Olga Petrova",),
        timings="both",
        xml_status=403,
        slides_version=4,
        slides=_deck([
            ("Curriculum", ["curriculum learning"], "Curriculum learning orders examples by difficulty."),
            ("Pacing", ["pacing function"], "A pacing function controls the schedule."),
            ("Results", ["sample efficiency"], "Sample efficiency improves by a third."),
        ], start_ms=4200, names=_random_names("38980107")),
        notes="First slide appears at 4.2 s; image names with extname; JSON works while the XML URL answers "
        "an S3 <Error> with 403.",
    ),
    Fixture(
        id="38932408",
        title="Active Learning with Mixed Formats",
        speakers=("Diego Alvarez",),
        slides_version=3,
        slides=_deck([
            ("Querying", ["uncertainty sampling"], "We query by uncertainty sampling.", {"ext": ".jpg"}),
            ("Hierarchy", ["label hierarchy"], "Classes form a label hierarchy.", {"ext": ".png"}),
            ("Acquisition", ["expected information gain"], "We maximise expected information gain.",
             {"ext": ".jpg"}),
            ("Budget", ["annotation budget"], "The annotation budget is fixed.", {"ext": ".png"}),
        ], names=lambda i: f"X52r__1637863423__{i:04d}__Adfi"),
        notes="Mixed png and jpg slides in one deck, each with its own image.extname.",
    ),
    Fixture(
        id="38990109",
        title='Ünïcödé / "Quotes" & ../../etc/passwd: a Talk about ..\\Paths',
        speakers=("Zoë Ångström", "José Müller"),
        slides_version=1,
        slides=_deck([
            ("Path Traversal", ["path traversal"], "Path traversal escapes a folder."),
            ("Normalisation", ["Unicode normalization"], "Unicode normalization merges lookalike letters."),
            ("Sanitising", ["allow list"], "An allow list beats a deny list."),
        ], names=_random_names("38990109")),
        notes="A hostile title: non-ASCII, slashes, quotes, an ampersand, '..' and a backslash.",
    ),
    Fixture(
        id="38935710",
        title="Three Hundred Slides of Sparse Experts",
        speakers=("Noor Haddad",),
        slides_version=2,
        slides=_dense_deck(),
        notes="300 slides mostly 0.2-0.25 s apart, speech on five; no image.extname (default .png).",
    ),
    Fixture(
        id="39030011",
        title="Live: Opening Remarks",
        speakers=("Program Chairs",),
        playlist_type="live",
        slides=_deck([
            ("Welcome", ["keynote"], "Welcome, the first keynote starts soon."),
            ("Logistics", ["poster session"], "The poster session is in hall two."),
            ("Awards", ["test of time award"], "Later we announce the test of time award."),
        ], names=_random_names("39030011")),
        notes="#EXT-SL-PLAYLIST-TYPE is 'live', not 'vod' (yt-dlp sets is_live).",
    ),
    Fixture(
        id="38922012",
        title="Direct Files for Speech Recognition",
        speakers=("Aiko Sato",),
        service="url",
        slides=_deck([
            ("Speech", ["connectionist temporal classification"],
             "We use connectionist temporal classification."),
            ("Decoding", ["beam search"], "Beam search finds the best transcript."),
            ("Errors", ["word error rate"], "Word error rate drops below ten percent."),
        ], names=_random_names("38922012")),
        notes="'url' service: VOD-VIDEO-ID is a direct MP4 URL on a CloudFront-style host.",
    ),
    Fixture(
        id="38956513",
        title="Subtitled: Attention is Cheap",
        speakers=("Marta Kowalska",),
        subtitles=True,
        slides_version=2,
        slides=_deck([
            ("Attention", ["self-attention"], "Self-attention compares every pair of tokens."),
            ("Efficiency", ["linear attention"], "Linear attention avoids the quadratic cost."),
            ("Memory", ["key-value cache"], "A key-value cache speeds up decoding."),
        ], names=_random_names("38956513")),
        notes="Offers site subtitles: VOD-SUBTITLES points at a presigned-looking VTT on "
        "slideslive-video-subtitles.s3.amazonaws.com (expires after 24 h of replica time).",
    ),
    Fixture(
        id="38912014",
        title="Legacy Decks and Slide Qualities",
        speakers=("Björn Lindqvist",),
        slide_qualities=("big", "medium"),
        timings_host="cdn.slideslive.com",
        slides=_deck([
            ("Boosting", ["gradient boosting"], "Gradient boosting adds weak learners."),
            ("Trees", ["decision stump"], "Each learner is a decision stump."),
            ("Regularisation", ["shrinkage"], "Shrinkage slows the learning rate."),
        ], names=lambda i: f"{i + 1:05d}", ext=".jpg", declare_ext=False, size=(1024, 576)),
        notes="Older JSON deck with slide_qualities [big, medium] and no extname: jpg images on "
        "cdn.slideslive.com/data/presentations/{id}/slides/{quality}/; timings on cdn.slideslive.com.",
    ),
    Fixture(
        id="38975015",
        title="WebP Slides from the Resizer",
        speakers=("Fatima Zahra",),
        slides_host="rs.slideslive.com",
        slides_version=6,
        slides=_deck([
            ("Compression", ["entropy coding"], "Entropy coding shrinks every image."),
            ("Codecs", ["discrete cosine transform"], "The discrete cosine transform packs energy."),
            ("Quality", ["structural similarity"], "Structural similarity tracks perceived quality."),
        ], names=_random_names("38975015"), ext=".webp"),
        notes="WebP slide images served by the on-the-fly resizer rs.slideslive.com (the gon host), "
        "which honours h= and f=.",
    ),
    Fixture(
        id="38903716",
        title="A Talk Still on YouTube",
        speakers=("Samuel Osei",),
        service="youtube",
        video_id="aB3xK9_qLmZ",
        slides=_deck([
            ("Hosting", ["content delivery network"], "A content delivery network serves the video."),
            ("Migration", ["transcoding"], "Transcoding moves it to native hosting."),
            ("Captions", ["automatic captions"], "Automatic captions come from the platform."),
        ], names=lambda i: f"{i + 1:05d}"),
        notes="'youtube' service with an 11-character id; the replica does not serve YouTube (test the "
        "unresolved url_transparent result only).",
    ),
)

_BY_ID = {f.id: f for f in CATALOGUE}


def by_id(id: str) -> Fixture | None:  # noqa: A002 - the SlidesLive id
    return _BY_ID.get(str(id))


def talk_url(fixture: Fixture) -> str:
    """The URL a user would give for this talk: its conference page when it has one, else its own."""
    if fixture.conference:
        return f"https://{fixture.conference.host}{fixture.conference.path}"
    return f"https://slideslive.com/{fixture.id}"


def demo_urls() -> list[str]:
    """The talks ``slidegrab demo`` fetches: one yoda, one Vimeo via its conference page, one XML deck."""
    return [talk_url(f) for f in CATALOGUE if "demo" in f.tags]


# Generated talks: ordinary yoda talks (JSON timings, png slides) for benchmarks that need more distinct talks
# than the catalogue holds. Everything follows from the talk's index n, so generated(k) is a prefix of
# generated(k + 1); the lists' lengths are pairwise coprime, so the first 140 titles all differ.
GENERATED_FIRST_ID = 39600000  # 3960xxxx: a range no catalogue talk uses
_GEN_ADJECTIVES = ("Robust", "Efficient", "Scalable", "Adaptive", "Private")
_GEN_SUBJECTS = ("Transformers", "Kernels", "Policies", "Embeddings", "Autoencoders", "Ensembles", "Retrievers")
_GEN_DOMAINS = ("Vision", "Speech", "Robotics", "Genomics")
_GEN_SPEAKERS = ("Ana Souza", "Ravi Kumar", "Elif Yilmaz", "Tom Becker", "Mei Lin", "Kofi Boateng")
_GEN_TOPICS = (  # (slide title, technical term written on the slide and spoken)
    ("Optimisation", "stochastic gradient descent"), ("Regularisation", "weight decay"),
    ("Architecture", "residual connection"), ("Normalisation", "layer normalization"),
    ("Attention", "multi-head attention"), ("Sampling", "importance sampling"),
    ("Uncertainty", "Bayesian inference"), ("Compression", "knowledge distillation"),
    ("Data", "data augmentation"), ("Evaluation", "cross validation"),
    ("Search", "beam search"), ("Memory", "gradient checkpointing"),
    ("Transfer", "fine tuning"), ("Clustering", "spectral clustering"),
    ("Control", "reinforcement learning"), ("Graphs", "message passing"),
    ("Features", "contrastive learning"), ("Scaling", "mixed precision"),
    ("Robustness", "adversarial training"), ("Tokens", "byte pair encoding"),
)  # fmt: skip
_GEN_SENTENCES = ("Today we look at {0}.", "Our method relies on {0}.", "We then improve {0}.")


def generated(count: int) -> tuple[Fixture, ...]:
    """``count`` distinct, deterministic plain talks (6-10 slides, 1-2 speakers), e.g. to make a benchmark's
    talks all different without writing each one down."""
    return tuple(_generated_talk(n) for n in range(count))


def _generated_talk(n: int) -> Fixture:
    talk_id = str(GENERATED_FIRST_ID + n)
    title = f"{_GEN_ADJECTIVES[n % 5]} {_GEN_SUBJECTS[n % 7]} for {_GEN_DOMAINS[n % 4]}"
    speakers = tuple(_GEN_SPEAKERS[(n + k) % len(_GEN_SPEAKERS)] for k in range(1 + n % 2))
    rows = [_generated_row(n, j) for j in range(6 + n % 5)]
    return Fixture(id=talk_id, title=title, speakers=speakers, slides=_deck(rows, names=_random_names(talk_id)),
                   notes="Generated (fixtures.generated): a plain good yoda talk for benchmarks.")  # fmt: skip


def _generated_row(n: int, j: int) -> Row:
    """Slide ``j`` of talk ``n``: step 7 over 20 topics gives each slide of a talk its own topic."""
    title, term = _GEN_TOPICS[(3 * n + 7 * j) % len(_GEN_TOPICS)]
    if j % 3 != 2:
        return title, [term], _GEN_SENTENCES[j % 3].format(term)
    other = _GEN_TOPICS[(3 * n + 7 * j + 1) % len(_GEN_TOPICS)][1]
    return title, [term, other], f"We combine {term} with {other}."
