"""Run the replica by hand: ``python -m slidegrab.replica [--port N] [--cache-dir DIR] [--fault SPEC]...``

It prints the proxy URL, the CA to trust, an example slidegrab command and the talks it serves, then runs
until Ctrl-C or SIGTERM. ``python -m slidegrab.replica [OPTIONS] run -- COMMAND ARG...`` instead runs one
command against it, with ``{proxy}`` and ``{ca}`` in its arguments replaced, and exits with its status.
``--fault HOST:PATH:KIND[:ARG]`` adds a fault rule (globs for HOST and PATH):
``slideslive.com:/player/*:status:503``, ``*.b-cdn.net:*:reset``, ``s.slideslive.com:*:stall:5``,
``s.slideslive.com:*:redirect:http://127.0.0.1:9/`` (the location may hold colons), ``*:*.vtt:endless:0.5``.
``--extra-talks N`` also serves N generated plain talks (``fixtures.generated``), e.g. for benchmarks that need
more distinct talks than the catalogue has.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import threading
from pathlib import Path

from slidegrab.replica import Replica
from slidegrab.replica.faults import KINDS
from slidegrab.replica.fixtures import CATALOGUE, generated


def parse_fault(spec: str) -> dict:
    """``HOST:PATH:KIND[:ARG]`` → keywords for ``FaultPlan.add`` (ARG: the status, the stall's seconds, the
    redirect's location, or the endless body's pause)."""
    parts = spec.split(":", 3)
    if len(parts) not in (3, 4) or parts[2] not in KINDS:
        raise argparse.ArgumentTypeError(f"{spec!r}: expected HOST:PATH:KIND[:ARG] with KIND one of {', '.join(KINDS)}")
    host, path, kind, *arg = parts
    rule: dict = {"host": host or "*", "path": path or "*", "kind": kind}
    try:
        if arg and kind == "status":
            rule["status"] = int(arg[0])
        elif arg and kind == "stall":
            rule["seconds"] = float(arg[0])
        elif arg and kind == "redirect":
            rule["location"] = arg[0]
        elif arg and kind == "endless":
            rule["pause"] = float(arg[0])
        elif kind == "redirect":
            raise argparse.ArgumentTypeError(f"{spec!r}: a redirect fault needs a location")
        elif arg:
            raise argparse.ArgumentTypeError(f"{spec!r}: a {kind} fault takes no argument")
    except ValueError:
        raise argparse.ArgumentTypeError(f"{spec!r}: {arg[0]!r} is not a number") from None
    return rule


def describe(replica: Replica) -> str:
    proxy, ca = replica.proxy_url, replica.ca_path
    lines = [f"proxy:  {proxy}", f"CA:     {ca}", ""]
    if replica.catalogue:
        first = replica.catalogue[0].id
        lines += [
            "try:",
            f"  slidegrab resolve https://slideslive.com/{first} --proxy {proxy} --ca-bundle {ca}",
            "",
            "talks:",
        ]
        for fixture in replica.catalogue:
            page = fixture.conference
            where = f"  (on https://{page.host}{page.path})" if page else ""
            lines.append(f"  https://slideslive.com/{fixture.id}  {fixture.title}{where}")
    return "\n".join(lines)


def split_run(argv: list[str]) -> tuple[list[str], list[str]]:
    """``[OPTIONS] run [--] COMMAND…`` → (OPTIONS, COMMAND); no ``run`` → (argv, [])."""
    if "run" not in argv:
        return argv, []
    at = argv.index("run")
    command = argv[at + 1 :]
    return argv[:at], command[1:] if command[:1] == ["--"] else command


def run_command(replica: Replica, command: list[str]) -> int:
    """Run one command (an argument list, no shell) with {proxy} and {ca} filled in; its exit status."""
    values = {"{proxy}": replica.proxy_url, "{ca}": str(replica.ca_path)}
    for key, value in values.items():
        command = [arg.replace(key, value) for arg in command]
    print(f"replica: {replica.proxy_url} (CA {replica.ca_path}); running: {' '.join(command)}", flush=True)
    try:
        return subprocess.run(command, check=False).returncode
    except FileNotFoundError:
        print(f"replica: {command[0]}: command not found", file=sys.stderr)
        return 127


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m slidegrab.replica", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: a free one)")
    parser.add_argument("--cache-dir", type=Path, default=None, help="where the CA and generated media live")
    parser.add_argument("--fault", type=parse_fault, action="append", default=[], metavar="HOST:PATH:KIND[:ARG]")
    parser.add_argument("--extra-talks", type=int, default=0, metavar="N", help="also serve N generated plain talks")
    options, command = split_run(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(options)
    if "run" in (sys.argv[1:] if argv is None else argv) and not command:
        parser.error("run needs a command: run -- slidegrab resolve URL --proxy {proxy} --ca-bundle {ca}")
    if args.extra_talks < 0:
        parser.error("--extra-talks must be 0 or more")

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    catalogue = CATALOGUE + generated(args.extra_talks)
    with Replica(port=args.port, cache_dir=args.cache_dir, catalogue=catalogue) as replica:
        for rule in args.fault:
            replica.faults.add(**rule)
        if command:
            return run_command(replica, command)
        print(describe(replica), flush=True)
        print("\nrunning; Ctrl-C to stop", flush=True)
        while not stop.wait(0.5):
            pass
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
