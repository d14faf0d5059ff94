"""A Chromium that finds no usable sandbox gives an error that names the fix (issue 7).

Under Docker's default seccomp profile the image's uid 1000 may not create user namespaces, and Chromium
exits with "No usable sandbox!". Without Docker the same refusal is made real with the kernel's own limit:
a user namespace (root inside, so it may set ``user.max_user_namespaces`` for itself) allows one more, in
which the launch runs as uid 1000; Chromium's sandbox then gets ENOSPC where Docker's profile gives EPERM.
The same setup with room for namespaces must start Chromium, sandboxed, so the limit is what is tested.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import slidegrab
from slidegrab.resolve.chromium import CHROMIUM, SANDBOX_HINT

pytestmark = pytest.mark.browser

SRC = Path(slidegrab.__file__).resolve().parents[1]
LAUNCH = """
print("launching", flush=True)
from slidegrab.errors import BrowserError
from slidegrab.net import NetConfig
from slidegrab.resolve.chromium import Chromium
try:
    Chromium(NetConfig(), timeout=30).quit()
    print("started")
except BrowserError as e:
    print(e)
"""
# Runs in the outer namespace (as its root): limit the namespaces below it, then launch as uid 1000 in one.
LIMIT_THEN_LAUNCH = """
import os, sys
with open("/proc/sys/user/max_user_namespaces", "w") as f:
    f.write(sys.argv[1])
inner = ["unshare", "--user", "--map-user=1000", "--map-group=1000", "--", sys.executable, "-c", sys.argv[2]]
os.execvp("unshare", inner)
"""


def _launch_in_namespaces(allowed: int) -> str:
    """What a Chromium launch as uid 1000 prints when ``allowed`` user namespaces may exist below its parent's."""
    command = ["unshare", "--user", "--map-root-user", "--", sys.executable, "-c", LIMIT_THEN_LAUNCH]
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    done = subprocess.run([*command, str(allowed), LAUNCH], capture_output=True, text=True, timeout=120, env=env)
    if not done.stdout.startswith("launching"):
        pytest.skip(f"cannot limit user namespaces in one of its own here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    return done.stdout.removeprefix("launching").strip()


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare (util-linux)")
def test_no_usable_sandbox_names_the_seccomp_profile():
    # With one namespace allowed, the one the launch runs in uses it up: Chromium's sandbox cannot have its own.
    chromium = os.environ.get("SLIDEGRAB_CHROMIUM") or CHROMIUM
    expected = f"could not start Chromium ({chromium}): No usable sandbox! ({SANDBOX_HINT})"
    assert _launch_in_namespaces(allowed=1) == expected
    assert "--security-opt seccomp=docker/chromium-seccomp.json" in SANDBOX_HINT
    # With room for namespaces the same launch starts: the limit, nothing else, made it fail.
    assert _launch_in_namespaces(allowed=50) == "started"
