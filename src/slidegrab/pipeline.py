"""The batch: every stage for every talk, talks in parallel, resumable, with a summary.

Each talk runs its stages in order (resolve → slides → audio → subtitles → merge → pdf → ocr → transcribe →
subtitles-track), then is added to the archive's search index, in a worker thread; ``jobs`` talks are in
flight at once, so one talk downloads while another merges or is transcribed, each with its share of the
cores (cores.py: Whisper's and Tesseract's threads). A talk whose stages are all complete costs no network
request; a stage whose inputs were redone is redone too. A failing talk is recorded and never stops the
others.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from slidegrab.archive import Archive, DiskFullError, TalkFolder, disk_guard, slide_table
from slidegrab.cores import CpuShare
from slidegrab.download import AudioStage, SlidesStage, SubtitlesStage
from slidegrab.errors import NetworkError, ResolveError, SlidegrabError, TokenExpired
from slidegrab.identity import one_per_talk, talk_keys
from slidegrab.library import Library
from slidegrab.lock import ArchiveLock
from slidegrab.merge import MergeStage, PdfStage
from slidegrab.net import NetConfig
from slidegrab.progress import Display
from slidegrab.resolve import resolve
from slidegrab.shard import Shard
from slidegrab.stages import Stage, StageContext, run_stage
from slidegrab.talk import Talk
from slidegrab.transcribe.model import TranscriptOptions
from slidegrab.transcribe.ocr import OcrStage
from slidegrab.transcribe.stage import TranscribeStage
from slidegrab.transcribe.subtitles import SubtitleTrackStage

log = logging.getLogger("slidegrab")

# after Ctrl-C, how long the talks in flight get to stop at their next look at ``cancel``; one blocked in a
# request that stalls would hold the exit up to the read timeout, so it is left behind (it wrote nothing yet)
GRACE_S = 5.0
# what each stage reads: when one of these did work in this run, the stage is redone
INPUTS = {
    "merge": ("slides", "audio"),
    "pdf": ("slides",),
    "ocr": ("slides",),
    "transcribe": ("audio", "ocr"),
    "subtitles-track": ("merge", "transcribe", "subtitles"),
}
# what each stage cannot do without: when one of these failed, the stage is not tried (the others are:
# a talk whose slides fail still gets its audio and transcript)
NEEDS = {
    "merge": ("slides", "audio"),
    "pdf": ("slides",),
    "ocr": ("slides",),
    "transcribe": ("audio",),
    "subtitles-track": ("merge", "transcribe"),
}


def build_stages(transcript: TranscriptOptions | None) -> tuple[Stage, ...]:
    stages: list[Stage] = [SlidesStage(), AudioStage(), SubtitlesStage(), MergeStage(), PdfStage()]
    if transcript is not None:  # slide OCR belongs to transcription: it feeds the prompts (and the index)
        stages += [OcrStage(), TranscribeStage(transcript), SubtitleTrackStage()]
    return tuple(stages)


@dataclass(frozen=True)
class FetchOptions:
    output: Path
    net: NetConfig
    jobs: int = 2
    referer: str | None = None
    browser: bool = True
    transcript: TranscriptOptions | None = field(default_factory=TranscriptOptions)  # None: --no-transcribe
    shard: Shard | None = None  # only this shard's talks, with its own lock and index (shard.py)


@dataclass(frozen=True)
class TalkResult:
    url: str
    status: str  # "done" (work was done), "complete" (nothing left to do), "failed"
    talk_id: str | None = None
    title: str | None = None
    folder: Path | None = None
    error: str | None = None


class SharedBrowser:
    """One headless Chromium for the whole run (the pages' identity, then the batch), started on first use,
    used by one page at a time."""

    def __init__(self, net: NetConfig):
        self._net, self._browser, self._lock = net, None, threading.Lock()
        self._aborted = False

    def resolve(self, url: str, referer: str | None = None):
        with self._lock:
            return self._resolver(url).resolve(url, referer=referer)

    def talk_id(self, url: str) -> str:
        """The id of the talk a page shows once its scripts ran: the talk ``resolve`` would resolve, read off
        what its player fetched, with no Talk assembled (identity.py)."""
        with self._lock:
            return self._resolver(url).capture(url).talk_id

    def _resolver(self, url: str):
        if self._aborted:
            raise SlidegrabError("interrupted", url=url)
        if self._browser is None:
            from slidegrab.resolve.browser import BrowserResolver

            self._browser = BrowserResolver(self._net)
        return self._browser

    def abort(self) -> None:
        """Ctrl-C: end the browser now, without waiting for the page in it (that talk fails as interrupted)."""
        self._aborted = True
        if (browser := self._browser) is not None:
            browser.abort()

    def close(self) -> None:
        with self._lock:
            if self._browser is not None:
                self._browser.close()


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped the batch; the talks in flight stopped at their next look at ``cancel``."""

    def __init__(self, finished: int, total: int, stuck: int = 0):
        super().__init__(f"{finished} of {total} talks finished")
        self.finished, self.total = finished, total
        self.stuck = stuck  # talks still blocked (a request that stalls) after GRACE_S: the CLI leaves them


def shared_browser(options: FetchOptions) -> SharedBrowser | None:
    """The run's browser (no process until a page needs it), or None when the user turned it off."""
    return SharedBrowser(options.net) if options.browser else None


class Batch:
    def __init__(self, options: FetchOptions, display: Display, browser: SharedBrowser | None = None):
        self.options, self.display = options, display
        self.archive = Archive(options.output)
        self.stages = build_stages(options.transcript)
        self.session = options.net.session()
        self.browser = browser or shared_browser(options)
        self.cancel = threading.Event()
        self.cpu = CpuShare.for_jobs(options.jobs)
        self._talk_locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    def run(self, urls: list[str]) -> list[TalkResult]:
        self.display.start(len(urls))
        shard = self.options.shard
        self.library = (
            Library(self.options.output / shard.db_name, derive=False)
            if shard
            else Library.for_archive(self.options.output)
        )
        pool = ThreadPoolExecutor(max_workers=max(1, self.options.jobs), thread_name_prefix="talk")
        try:
            futures = [pool.submit(self.fetch_one, url) for url in urls]
            try:
                return [future.result() for future in futures]
            except KeyboardInterrupt:  # SIGINT, or SIGTERM (the CLI makes it one): stop before the pool waits
                self._stop(futures)
            wait(futures, timeout=GRACE_S)
            finished = [f.result() for f in futures if f.done() and not f.cancelled()]
            stuck = sum(not f.done() for f in futures)
            raise Interrupted(sum(r.status != "failed" for r in finished), len(urls), stuck)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
            self.display.stop()
            if self.browser is not None:
                self.browser.close()
            self.session.close()
            self.library.close()

    def _stop(self, futures: list[Future]) -> None:
        """No talk starts any more; those in flight stop at their stages' next look at ``cancel`` (the
        browser is killed outright), record the stage they were in as failed, and leave no partial file."""
        self.cancel.set()
        for future in futures:
            future.cancel()
        if self.browser is not None:
            self.browser.abort()

    def fetch_one(self, url: str) -> TalkResult:
        self.display.talk_started(url, url)
        folder = None
        try:
            folder, resolved = self._folder(url)
            self.display.talk_named(url, f"{folder.talk.id} {folder.talk.title}")
            with self._talk_lock(folder.talk.id):  # two URLs of one talk: the second waits, then finds it done
                folder = TalkFolder.load(folder.path)
                worked = self._run_stages(url, folder) or resolved
            if worked or not self.library.has_talk(folder.talk.id):
                self._index(folder)
            talk = folder.talk
            status = "done" if worked else "complete"
            return TalkResult(url, status, talk.id, talk.title, folder.path)
        except SlidegrabError as e:
            log.debug("talk %s failed", url, exc_info=True)
            if folder is not None:
                self._index(folder)  # what it has (title, slides) is searchable, as a rebuild would make it
            talk = folder.talk if folder else None
            return TalkResult(url, "failed", talk and talk.id, talk and talk.title, folder and folder.path, str(e))
        except Exception as e:  # a bug in one talk must not stop the batch
            log.exception("internal error on %s", url)
            return TalkResult(url, "failed", error=f"internal error: {type(e).__name__}: {e} (run with -v)")
        finally:
            self.display.talk_finished(url)

    def _talk_lock(self, talk_id: str) -> threading.Lock:
        """The lock of one talk's folder (URL lists are deduplicated, but a page whose talk could not be
        learned beforehand, e.g. without the browser, cannot be told from the talk's own URL until resolved)."""
        with self._locks_lock:
            return self._talk_locks.setdefault(talk_id, threading.Lock())

    def _index(self, folder: TalkFolder) -> None:
        try:
            self.library.add_talk(folder.path)
        except SlidegrabError as e:  # the talk is on disk all the same; `slidegrab index --rebuild` retries
            log.warning("%s", e)

    def _folder(self, url: str) -> tuple[TalkFolder, bool]:
        if folder := self.archive.find(url):
            folder.sweep()
            return folder, False
        return self.archive.create(self._resolve(url), url), True

    def _resolve(self, url: str) -> Talk:
        self.display.talk_progress(url, "resolving", None, None)
        return resolve(url, self.options.net, referer=self.options.referer, session=self.session, browser=self.browser)

    def _run_stages(self, url: str, folder: TalkFolder) -> bool:
        ctx = StageContext(
            net=self.options.net,
            session=self.session,
            progress=lambda stage, done=None, total=None: self.display.talk_progress(url, stage, done, total),
            cancel=self.cancel,
            cpu=self.cpu,
        )
        redone: set[str] = set()
        resolved_again: set[str] = set()
        failures: dict[str, SlidegrabError] = {}
        try:
            for stage in self.stages:
                if self.cancel.is_set():
                    raise SlidegrabError("interrupted", url=url)
                if any(name in failures for name in NEEDS.get(stage.name, ())):
                    failures.setdefault(stage.name, next(iter(failures.values())))
                    continue
                self.display.talk_progress(url, stage.name, None, None)
                force = any(name in redone for name in INPUTS.get(stage.name, ()))
                try:
                    if self._run_stage(url, folder, stage, ctx, force, resolved_again):
                        redone.add(stage.name)
                except SlidegrabError as e:
                    if self.cancel.is_set() or isinstance(e, DiskFullError):
                        raise
                    failures[stage.name] = e
        finally:
            if redone:
                refresh_slide_table(folder)
        if failures:
            raise next(iter(failures.values()))  # the first failure is the talk's; each is in talk.json
        return bool(redone)

    def _run_stage(
        self, url: str, folder: TalkFolder, stage: Stage, ctx: StageContext, force: bool, resolved_again: set[str]
    ) -> bool:
        """run_stage. When a signed URL is refused (TokenExpired: its token expired), the talk is resolved
        again, once per talk and run, for fresh URLs, and the stage runs again; a second refusal fails it."""
        try:
            return run_stage(stage, folder, ctx, force=force)
        except TokenExpired as e:
            if resolved_again:
                raise refused_again(folder, stage, e) from None
            log.info("%s; resolving talk %s again for fresh URLs", e, folder.talk.id)
        resolved_again.add(stage.name)
        self._resolve_again(url, folder)
        self.display.talk_progress(url, stage.name, None, None)
        try:
            return run_stage(stage, folder, ctx, force=force)
        except TokenExpired as e:
            raise refused_again(folder, stage, e) from None

    def _resolve_again(self, url: str, folder: TalkFolder) -> None:
        talk = self._resolve(url)
        if talk.id != folder.talk.id:
            raise ResolveError(f"{url} resolves to talk {talk.id} now, no longer to {folder.talk.id}", url=url)
        folder.update(talk=talk.to_dict())


def refused_again(folder: TalkFolder, stage: Stage, error: TokenExpired) -> NetworkError:
    """The stage's failure once the talk's fresh URLs were refused too, recorded in talk.json."""
    failure = NetworkError(
        f"{error.message}, also after resolving the talk again for fresh URLs",
        url=error.url,
        hint="the site refuses it: the talk may be private or gone; a rerun tries again",
    )
    folder.mark(stage.name, "failed", error=str(failure))
    return failure


def refresh_slide_table(folder: TalkFolder) -> None:
    """Keep talk.json's slide table (start/end, file, text per slide) in step with the stages' records."""
    if folder.state.get("slides") != (table := slide_table(folder)):
        folder.update(slides=table)


def fetch(urls: list[str], options: FetchOptions, display: Display) -> list[TalkResult]:
    """Fetch every talk (of the shard, when one is given) into the archive; the results, in input order.

    Each talk once: a conference page and another URL of the talk it embeds count as one talk (pages are
    read first to learn their talk, and rendered when only their scripts show it), and a shard takes a talk
    by its id, whichever form names it.
    """
    with ArchiveLock(options.output, options.shard):
        browser = shared_browser(options)  # renders the pages whose talk only their scripts show, then resolves
        try:
            keys = talk_keys(urls, Archive(options.output), options.net, browser)
            urls = one_per_talk(urls, keys)
            if options.shard is not None:
                urls = options.shard.select(urls, keys)
            with disk_guard(options.output):  # e.g. no room for the index: one line, not an internal error
                return Batch(options, display, browser).run(urls)
        finally:
            if browser is not None:
                browser.close()
