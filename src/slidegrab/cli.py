"""The command line: each command parses, calls one library function, and prints.

Expected failures (slidegrab.errors) become one line on stderr and their exit code; anything else is a
bug: one line asking for ``-v``, which shows the traceback.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

from slidegrab import __version__
from slidegrab.errors import SlidegrabError
from slidegrab.net import NetConfig
from slidegrab.output import print_talk, print_urls

log = logging.getLogger("slidegrab")


def network_options(fn):
    """--proxy and --ca-bundle, shared by every command that goes online."""
    fn = click.option(
        "--ca-bundle",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Extra CA certificates to trust (PEM), e.g. a TLS-inspecting proxy's.",
    )(fn)
    fn = click.option("--proxy", metavar="URL", help="HTTP(S) proxy for every request (default: $HTTPS_PROXY).")(fn)
    return fn


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log every request; show tracebacks.")
@click.option("-q", "--quiet", is_flag=True, help="No progress display.")
@click.version_option(__version__, prog_name="slidegrab")
@click.pass_context
def cli(ctx: click.Context, verbose: bool, quiet: bool) -> None:
    """Archive SlidesLive conference talks: slides, audio, a synced MP4, transcripts, search."""
    ctx.obj = {"verbose": verbose, "quiet": quiet}
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not verbose:
        logging.getLogger("urllib3").setLevel(logging.ERROR)
        logging.getLogger("selenium").setLevel(logging.ERROR)


@cli.command()
@click.argument("url")
@click.option("--json", "as_json", is_flag=True, help="Print the Talk as JSON.")
@click.option("--referer", metavar="URL", help="The page that embeds the talk (for embed-only talks).")
@click.option("--browser/--no-browser", default=True, help="Fall back to headless Chromium when needed.")
@network_options
def resolve(url: str, as_json: bool, referer: str | None, browser: bool, proxy: str | None, ca_bundle) -> None:
    """Print what a talk URL resolves to; download nothing."""
    from slidegrab.resolve import resolve as resolve_url

    net = NetConfig(proxy=proxy, ca_bundle=ca_bundle)
    with _browser(net, browser) as chromium:
        talk = resolve_url(url, net, referer=referer, browser=chromium)
    if as_json:
        click.echo(json.dumps(talk.to_dict(), ensure_ascii=False, indent=2))
    else:
        print_talk(talk)


@cli.command()
@click.argument("page_url")
@click.option("--json", "as_json", is_flag=True, help="Print the URLs as a JSON list.")
@network_options
def discover(page_url: str, as_json: bool, proxy: str | None, ca_bundle) -> None:
    """List the SlidesLive talks a conference page shows once its JavaScript has run."""
    from slidegrab.resolve.browser import BrowserResolver
    from slidegrab.urls import validate_url

    validate_url(page_url)
    with BrowserResolver(NetConfig(proxy=proxy, ca_bundle=ca_bundle)) as chromium:
        urls = chromium.discover(page_url)
    if as_json:
        click.echo(json.dumps(urls, indent=2))
    else:
        print_urls(page_url, urls)


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
    try:
        cli.main(args=argv, prog_name="slidegrab", standalone_mode=False)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except click.Abort:
        click.echo("slidegrab: interrupted", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("slidegrab: interrupted", err=True)
        sys.exit(130)
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
