#!/usr/bin/env python3
"""Write docker/chromium-seccomp.json: Docker's default seccomp profile plus what Chromium's sandbox needs.

    python3 scripts/make_seccomp_profile.py DOCKER_DEFAULT.json [-o docker/chromium-seccomp.json]

Chromium (as the image's uid 1000) sandboxes its renderers in new user, PID and network namespaces: it
clones with CLONE_NEWUSER|CLONE_NEWPID|CLONE_NEWNET and unshares CLONE_NEWUSER. Docker's default profile
allows neither to a container without CAP_SYS_ADMIN, and Chromium exits with "No usable sandbox!". This
script appends exactly two kinds of rule and changes nothing else: clone may also create those three
namespaces (mount, UTS, IPC and cgroup namespaces stay forbidden) and unshare may create a user namespace
and nothing else. setns, mount and the rest stay as Docker has them, and clone3 keeps answering ENOSYS
(glibc then falls back to clone, which these rules see).

DOCKER_DEFAULT.json is the profile the Docker engine builds in: seccomp/default.json of moby/profiles at
tag seccomp/v0.2.3 (commit 836ae4d37ef2ec995c77c99fc55f5b5f3af3a897), which moby/moby vendors as
vendor/github.com/moby/profiles/seccomp/default.json. Another version is accepted with a warning.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

DOCKER_DEFAULT_SHA256 = "536529b665dd0972c37bfb569f5d4ac8a53592e7b00752bc39ff063ca9864c74"
OUT = Path(__file__).resolve().parents[1] / "docker" / "chromium-seccomp.json"

CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x02000000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
STILL_FORBIDDEN = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC
WHY = "Chromium's sandbox: new user, PID and network namespaces without CAP_SYS_ADMIN (slidegrab)"


def chromium_rules() -> list[dict]:
    """The rules added to Docker's: clone's flags sit in argument 0, or in argument 1 on s390."""
    s390 = ["s390", "s390x"]
    return [
        _clone_rule(0, {"excludes": {"caps": ["CAP_SYS_ADMIN"], "arches": s390}}),
        _clone_rule(1, {"includes": {"arches": s390}, "excludes": {"caps": ["CAP_SYS_ADMIN"]}}),
        {
            "names": ["unshare"],
            "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 0, "value": CLONE_NEWUSER, "op": "SCMP_CMP_EQ"}],
            "comment": WHY,
            "excludes": {"caps": ["CAP_SYS_ADMIN"]},
        },
    ]


def _clone_rule(index: int, scope: dict) -> dict:
    """clone is allowed when no flag of STILL_FORBIDDEN is set (Docker's own rule forbids all CLONE_NEW*)."""
    condition = {"index": index, "value": STILL_FORBIDDEN, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}
    return {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [condition], "comment": WHY, **scope}


def write_atomically(path: Path, text: str) -> None:
    """A reader never sees half a profile."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("docker_default", type=Path, help="Docker's default.json (moby/profiles seccomp/v0.2.3)")
    parser.add_argument("-o", "--output", type=Path, default=OUT, help=f"default: {OUT}")
    args = parser.parse_args(argv)
    raw = args.docker_default.read_bytes()
    if hashlib.sha256(raw).hexdigest() != DOCKER_DEFAULT_SHA256:
        print(f"warning: {args.docker_default} is not moby/profiles seccomp/v0.2.3's default.json", file=sys.stderr)
    profile, added = json.loads(raw), chromium_rules()
    docker_rules = len(profile["syscalls"])
    profile["syscalls"] += added
    write_atomically(args.output, json.dumps(profile, indent="\t") + "\n")
    print(f"wrote {args.output}: Docker's {docker_rules} rules, then {len(added)} for Chromium's sandbox")
    return 0


if __name__ == "__main__":
    sys.exit(main())
