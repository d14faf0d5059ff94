"""docker/chromium-seccomp.json is Docker's default profile, byte for byte, plus the rules that
scripts/make_seccomp_profile.py adds for Chromium's sandbox, and nothing else (issue 7).

Docker's default.json is not in the repository; the script checks its SHA-256. Taking the added rules off
the shipped profile and writing the rest as the script writes JSON must give that very file back.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROFILE = ROOT / "docker" / "chromium-seccomp.json"


def _script():
    spec = importlib.util.spec_from_file_location("make_seccomp_profile", ROOT / "scripts" / "make_seccomp_profile.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_profile_is_dockers_default_plus_the_chromium_rules():
    script = _script()
    profile = json.loads(PROFILE.read_text())
    added = script.chromium_rules()
    assert profile["syscalls"][-len(added) :] == added
    docker = {**profile, "syscalls": profile["syscalls"][: -len(added)]}
    assert hashlib.sha256(json.dumps(docker, indent="\t").encode()).hexdigest() == script.DOCKER_DEFAULT_SHA256


def test_the_added_rules_allow_only_user_pid_and_network_namespaces():
    rules = _script().chromium_rules()
    clone_masks = {rule["args"][0]["value"] for rule in rules if rule["names"] == ["clone"]}
    assert clone_masks == {0x0E020000}  # CLONE_NEWNS|CLONE_NEWCGROUP|CLONE_NEWUTS|CLONE_NEWIPC must stay 0
    (unshare,) = (rule for rule in rules if rule["names"] == ["unshare"])
    assert unshare["args"] == [{"index": 0, "value": 0x10000000, "op": "SCMP_CMP_EQ"}]  # CLONE_NEWUSER alone
    assert {name for rule in rules for name in rule["names"]} == {"clone", "unshare"}
