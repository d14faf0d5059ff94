"""The command line: each command parses, calls one library function, and prints.

Expected failures (slidegrab.errors) become one line on stderr and their exit code; anything else is a
bug: one line asking for ``-v``, which shows the traceback.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import NoReturn

import click

from slidegrab import __version__
from slidegrab.errors import SlidegrabError, UsageError
from slidegrab.net import NetConfig
from slidegrab.output import print_summary, print_talk, print_urls

log = logging.getLogger("slidegrab")


def network_options(fn):
    """--proxy, --ca-bundle and --timeout, shared by every command that goes online."""
    fn = click.option(
        "--timeout",
        type=click.FloatRange(0.5, 600),
        default=NetConfig.timeout,
        show_default=True,
        metavar="SECONDS",
        help="Wait this long to connect and between bytes read; a request that stalls longer is retried.",
    )(fn)
    fn = click.option(
        "--ca-bundle",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Extra CA certificates to trust (PEM), e.g. a TLS-inspecting proxy's.",
    )(fn)
    fn = click.option("--proxy", metavar="URL", help="HTTP(S) proxy for every request (default: $HTTPS_PROXY).")(fn)
    return fn


def _set_verbosity(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    obj = ctx.find_root().ensure_object(dict)
    obj[param.name] = obj.get(param.name, False) or value
    verbose = obj.get("verbose", False)
    logging.getLogger().setLevel(logging.DEBUG if verbose else logging.WARNING)
    for noisy in ("urllib3", "selenium"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.ERROR)


def verbosity_options(fn):
    """-v and -q, accepted before or after the command name."""
    for flags, name, text in (
        (("-q", "--quiet"), "quiet", "No progress display."),
        (("-v", "--verbose"), "verbose", "Log every request; show tracebacks."),
    ):
        fn = click.option(*flags, name, is_flag=True, expose_value=False, callback=_set_verbosity, help=text)(fn)
    return fn


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@verbosity_options
@click.version_option(__version__, prog_name="slidegrab")
def cli() -> None:
    """Archive SlidesLive conference talks: slides, audio, a synced MP4, transcripts, search."""
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")


@cli.command()
@verbosity_options
@click.argument("url")
@click.option("--json", "as_json", is_flag=True, help="Print the Talk as JSON.")
@click.option("--referer", metavar="URL", help="The page that embeds the talk (for embed-only talks).")
@click.option("--browser/--no-browser", default=True, help="Fall back to headless Chromium when needed.")
@network_options
def resolve(
    url: str, as_json: bool, referer: str | None, browser: bool, proxy: str | None, ca_bundle, timeout: float
) -> None:
    """Print what a talk URL resolves to; download nothing."""
    from slidegrab.resolve import resolve as resolve_url

    net = NetConfig(proxy=proxy, ca_bundle=ca_bundle, timeout=timeout)
    with _browser(net, browser) as chromium:
        talk = resolve_url(url, net, referer=referer, browser=chromium)
    if as_json:
        click.echo(json.dumps(talk.to_dict(), ensure_ascii=False, indent=2))
    else:
        print_talk(talk)


@cli.command()
@verbosity_options
@click.argument("page_url")
@click.option("--json", "as_json", is_flag=True, help="Print the URLs as a JSON list.")
@network_options
def discover(page_url: str, as_json: bool, proxy: str | None, ca_bundle, timeout: float) -> None:
    """List the SlidesLive talks a conference page shows once its JavaScript has run."""
    from slidegrab.resolve.browser import BrowserResolver
    from slidegrab.urls import validate_url

    validate_url(page_url)
    with BrowserResolver(NetConfig(proxy=proxy, ca_bundle=ca_bundle, timeout=timeout)) as chromium:
        urls = chromium.discover(page_url)
    if as_json:
        click.echo(json.dumps(urls, indent=2))
    else:
        print_urls(page_url, urls)


def archive_option(help_text: str = "Archive folder."):
    """-o/--output: the archive folder, the same default for every command."""
    return click.option(
        "-o",
        "--output",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path("slidegrab-archive"),
        show_default=True,
        help=help_text,
    )


def fetch_options(fn):
    """The options of a batch: where to write, how many talks at once."""
    fn = click.option(
        "-j", "--jobs", type=click.IntRange(1, 32), default=2, show_default=True, help="Talks in flight at once."
    )(fn)
    return archive_option()(fn)


def transcript_options(fn):
    """Whisper settings, shared by fetch and transcribe; they build a TranscriptOptions."""
    options = [
        click.option(
            "--engine",
            type=click.Choice(["faster-whisper", "openai-whisper"]),
            default="faster-whisper",
            show_default=True,
            help="Whisper implementation.",
        ),
        click.option("--model", metavar="NAME|PATH", help="Whisper model (default: the bundled tiny.en)."),
        click.option("--model-dir", type=click.Path(file_okay=False), help="Where named models are cached."),
        click.option(
            "--device",
            type=click.Choice(["auto", "cpu", "cuda"]),
            default="auto",
            show_default=True,
            help="auto: CUDA when present.",
        ),
        click.option(
            "--compute-type",
            type=click.Choice(COMPUTE_TYPES),
            default="default",
            show_default=True,
            help="faster-whisper precision: int8 on CPU, float16 on GPU by default.",
        ),
        click.option(
            "--language",
            metavar="CODE",
            callback=_whisper_language,
            help="Spoken language (default: detected mid-talk).",
        ),
        click.option(
            "--slide-prompts/--no-slide-prompts",
            default=True,
            show_default=True,
            help="Prompt Whisper with each slide's text while it is shown.",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


COMPUTE_TYPES = ("default", "auto", "int8", "int8_float32", "int8_float16", "int8_bfloat16", "int16")
COMPUTE_TYPES += ("float16", "bfloat16", "float32")  # CTranslate2's; a bogus one would fail every talk


def _whisper_language(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A language code Whisper knows (en, de, zh …), checked before any work rather than in every talk."""
    if value is None:
        return None
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    if value.lower() not in _LANGUAGE_CODES:
        raise click.BadParameter(f"{value!r} is not a language code Whisper knows (e.g. en, de, fr, zh)")
    return value.lower()


def _transcript(**whisper):
    """The Whisper options as given (their names are TranscriptOptions' fields)."""
    from slidegrab.transcribe.model import TranscriptOptions

    return TranscriptOptions(**whisper)


@cli.command()
@verbosity_options
@click.argument("urls", nargs=-1, metavar="[URLS_FILE | URL ...]")
@fetch_options
@click.option("--referer", metavar="URL", help="The page that embeds the talks (for embed-only talks).")
@click.option("--browser/--no-browser", default=True, help="Fall back to headless Chromium when needed.")
@click.option("--no-transcribe", is_flag=True, help="Skip slide OCR and Whisper (the index still gets titles).")
@click.option(
    "--shard",
    "shard_spec",
    metavar="K/N|auto",
    help="Only the talks of shard K of N (0 <= K < N), with its own index; auto: from SLURM or Kubernetes.",
)
@click.option(
    "--shard-count",
    type=click.IntRange(1),
    metavar="N",
    help="How many shards, for --shard auto in a Kubernetes Indexed Job (or $SLIDEGRAB_SHARD_COUNT).",
)
@transcript_options
@network_options
@click.pass_context
def fetch(
    ctx,
    urls,
    output,
    jobs,
    referer,
    browser,
    no_transcribe,
    shard_spec,
    shard_count,
    proxy,
    ca_bundle,
    timeout,
    **whisper,
) -> None:
    """Fetch every talk: slides, audio, the synced MP4, the PDF, the transcript, the index. Resumable."""
    from slidegrab.pipeline import FetchOptions
    from slidegrab.pipeline import fetch as run_fetch
    from slidegrab.progress import choose_display
    from slidegrab.shard import parse_shard
    from slidegrab.urls import gather_urls, validate_url

    shard = parse_shard(shard_spec, shard_count, os.environ) if shard_spec else None
    if not urls and sys.stdin.isatty():
        raise UsageError("no URLs given", hint="give talk URLs, a file of URLs, or - to read them from stdin")
    talks = gather_urls(urls or ["-"], sys.stdin if "-" in urls or not urls else ())
    net = NetConfig(proxy=proxy, ca_bundle=ca_bundle, timeout=timeout)
    transcript = None if no_transcribe else _transcript(**whisper)
    referer = validate_url(referer) if referer else None
    options = FetchOptions(output, net, jobs, referer, browser, transcript, shard)
    results = run_fetch(talks, options, choose_display(ctx.find_root().obj["quiet"]))
    print_summary(results, output)
    ctx.exit(0 if all(r.status != "failed" for r in results) else 1)


@cli.command()
@verbosity_options
@fetch_options
@click.pass_context
def demo(ctx, output, jobs) -> None:
    """The whole pipeline, offline, on three talks of the bundled SlidesLive replica."""
    from slidegrab.pipeline import FetchOptions
    from slidegrab.pipeline import fetch as run_fetch
    from slidegrab.progress import choose_display
    from slidegrab.replica import Replica
    from slidegrab.replica.fixtures import demo_urls

    if output == Path("slidegrab-archive"):
        output = Path("slidegrab-demo")
    click.echo("Starting the offline SlidesLive replica (the first run generates its media) …", err=True)
    with Replica() as replica:
        net = NetConfig(proxy=replica.proxy_url, ca_bundle=replica.ca_path)
        results = run_fetch(demo_urls(), FetchOptions(output, net, jobs), choose_display(ctx.find_root().obj["quiet"]))
    print_summary(results, output)
    done = [r for r in results if r.folder and r.status != "failed"]
    if done:
        click.echo(f"\nOpen {done[0].folder / 'slides-video.mp4'} in a video player (chapters jump slide by slide),")
        click.echo(f"or look at {output}/*/talk.json, slides/ and slides.pdf.")
    ctx.exit(0 if len(done) == len(results) else 1)


@cli.command()
@verbosity_options
@click.argument("talk_dirs", nargs=-1, type=click.Path(exists=True, file_okay=False, path_type=Path))
@archive_option("Archive whose talks to transcribe when no TALK_DIR is given.")
@click.option("--force", is_flag=True, help="Transcribe again even when a transcript with this model exists.")
@transcript_options
@click.pass_context
def transcribe(ctx, talk_dirs, output, force, **whisper) -> None:
    """(Re)run transcription on talk folders, e.g. with a bigger model. Needs no network."""
    from slidegrab.progress import choose_display
    from slidegrab.retranscribe import transcribe_folders

    folders = list(talk_dirs) or sorted(p.parent for p in output.glob("*/talk.json"))
    if not folders:
        raise UsageError(f"no talk folders in {output}", hint="give TALK_DIRs, or the archive with -o")
    results = transcribe_folders(
        folders, _transcript(**whisper), choose_display(ctx.find_root().obj["quiet"]), force=force
    )
    print_summary(results, folders[0].parent)
    ctx.exit(0 if all(r.status != "failed" for r in results) else 1)


@cli.command()
@verbosity_options
@click.argument("query")
@archive_option("The archive to search.")
@click.option("-n", "--limit", type=click.IntRange(1, 1000), default=10, show_default=True, help="How many hits.")
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    type=click.Choice(["speech", "slide", "title"]),
    help="Only hits of this kind (repeatable).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the hits as JSON.")
def search(query, output, limit, kinds, as_json) -> None:
    """Search the archive's transcripts, slide text and titles (FTS5 syntax: "phrases", prefix*, NEAR)."""
    from slidegrab.library import Library, format_hit

    with Library.for_archive(output) as library:
        hits = library.search(query, limit=limit, kinds=kinds or None)
    if as_json:
        click.echo(json.dumps([h.to_dict() for h in hits], ensure_ascii=False, indent=2))
        return
    for hit in hits:
        click.echo(format_hit(hit) + "\n")
    click.echo(f"{len(hits)} hit(s) for {query!r} in {output}", err=True)


@cli.command()
@verbosity_options
@archive_option("The archive whose index to build.")
@click.option("--rebuild", is_flag=True, help="Rebuild library.db from the talk folders.")
@click.option(
    "--merge",
    "merge_from",
    is_flag=True,
    help="Fold shard indexes (SOURCES: library-shard-*.db files or archives; default: -o's) into library.db.",
)
@click.argument("sources", nargs=-1, type=click.Path(exists=True, path_type=Path))
def index(output, rebuild, merge_from, sources) -> None:
    """Build or update the archive's search index (library.db) from its talk folders, or merge shards'."""
    from slidegrab.library import Library, shard_indexes

    if sources and not merge_from:
        raise UsageError("index takes SOURCES only with --merge", hint="give the archive with -o")
    if merge_from and rebuild:
        raise UsageError("--merge and --rebuild: choose one")
    if merge_from:
        with Library(output / "library.db", derive=False) as library:
            count = library.merge(shard_indexes(sources or [output]))
    else:
        with Library.for_archive(output) as library:
            count = (
                library.rebuild()
                if rebuild
                else sum(1 for p in output.glob("*/talk.json") if library.add_talk(p.parent))
            )
    click.echo(f"indexed {count} talk(s) in {output / 'library.db'}")


class _NoBrowser:
    def __enter__(self):
        return None

    def __exit__(self, *exc) -> None:
        return None


def _browser(net: NetConfig, enabled: bool):
    if not enabled:
        return _NoBrowser()
    from slidegrab.resolve.browser import BrowserResolver

    return BrowserResolver(net)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and turn errors into one line and an exit status."""
    verbose = any(a in ("-v", "--verbose") for a in (argv if argv is not None else sys.argv[1:]))
    stop_on_sigterm()
    try:
        status = cli.main(args=argv, prog_name="slidegrab", standalone_mode=False)
        sys.exit(status if isinstance(status, int) else 0)  # click returns ctx.exit()'s code here
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.UsageError as e:  # a bad option value: one line, like every other error, and exit 2
        where = f" (see {e.ctx.command_path} --help)" if e.ctx else ""
        click.echo(f"slidegrab: error: {e.format_message().rstrip('.')}{where}", err=True)
        sys.exit(e.exit_code)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except click.Abort as e:  # click turns a KeyboardInterrupt into Abort
        stop(e.__cause__)
    except KeyboardInterrupt as e:
        stop(e)
    except SlidegrabError as e:
        if verbose:
            log.exception("failed")
        click.echo(f"slidegrab: error: {e}", err=True)
        sys.exit(e.code)
    except Exception as e:  # a bug: one line, and the traceback only with -v
        if verbose:
            raise
        click.echo(f"slidegrab: internal error: {type(e).__name__}: {e} (run with -v for details)", err=True)
        sys.exit(1)


def stop(error: BaseException | None) -> NoReturn:
    """Exit 130 with the interrupted line. A talk still blocked in a stalled request would hold the exit up
    to the read timeout: then the process leaves at once (it had written nothing yet; the browser's watchdog
    ends Chromium), rather than waiting on that thread."""
    click.echo(f"slidegrab: {interrupted(error)}", err=True)
    if getattr(error, "stuck", 0):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)
    sys.exit(130)


def stop_on_sigterm() -> None:
    """SIGTERM (what batch schedulers and ``kill`` send) stops slidegrab as Ctrl-C does: cleanly, resumable."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, signal.default_int_handler)


def interrupted(error: BaseException | None) -> str:
    """The line that ends a run stopped by Ctrl-C or SIGTERM: how far a batch got, and how to go on."""
    if (finished := getattr(error, "finished", None)) is None:
        return "interrupted"
    total = getattr(error, "total", "?")
    return f"interrupted: {finished} of {total} talks finished; run the same command again to resume"
