"""The wheel is the product: built from this tree, installed (not editable) into a fresh virtual environment next
to the OpenAI Agents SDK, it must serve, chat and eval from its own package resources, and install no import name
outside ``tactful``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests import REPO_ROOT
from tests.server_helpers import ServerProcess, clean_env

pytestmark = pytest.mark.slow


def _isolated_env() -> dict[str, str]:
    """No PYTHONPATH: a source tree on it (with its egg-info) would make pip think tactful is already installed."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # No build isolation: the build backend is already installed, and tests never reach a package index.
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), "."],
        cwd=REPO_ROOT, check=True, capture_output=True, timeout=300, env=_isolated_env(),
    )
    (built,) = out.glob("tactful-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh venv holding only the wheel; its dependencies (and openai-agents) come from this environment's
    site-packages through a .pth line, which does not run this environment's editable-install hooks."""
    root = tmp_path_factory.mktemp("venv") / "v"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(root)], check=True, timeout=120, env=_isolated_env()
    )
    python = root / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(site) / "deps-from-test-env.pth").write_text("\n".join(sorted(ours)) + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q",
         str(wheel)],
        check=True, capture_output=True, timeout=300, env=_isolated_env(),
    )
    yield root


def _run(venv: Path, args: list[str], cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = clean_env(TACTFUL_DATA_DIR=str(cwd / "var"))
    env.pop("PYTHONPATH", None)
    return subprocess.run(args, cwd=cwd, env=env, input=stdin, capture_output=True, text=True, timeout=300)


def test_wheel_installs_only_the_tactful_import_name_and_ships_its_data(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith((".dist-info", ".data"))}
    assert tops == {"tactful"}
    for resource in ("tactful/policies/taxonomy.yaml", "tactful/prompts/replies.yaml",
                     "tactful/prompts/system/support.md", "tactful/evals/gates.yaml",
                     "tactful/service/static/console/index.html", "tactful/py.typed"):
        assert resource in names, resource
    assert any(n.startswith("tactful/evals/scenarios/support/") for n in names)


def test_installed_wheel_chats_and_evals_beside_the_openai_agents_sdk(venv: Path, tmp_path: Path) -> None:
    python = str(venv / "bin" / "python")
    probe = _run(venv, [python, "-c", (
        "import agents, tactful, tactful.agents.intent.node;"
        "print(agents.__file__); print(tactful.__file__); print(hasattr(agents, 'Agent'))"
    )], tmp_path)
    assert probe.returncode == 0, probe.stderr
    sdk, ours, has_agent = probe.stdout.split()
    assert has_agent == "True", "import agents must be the OpenAI Agents SDK"
    assert str(REPO_ROOT) not in sdk and str(REPO_ROOT) not in ours
    assert ours.startswith(str(venv))

    chat = _run(venv, [str(venv / "bin" / "tactful"), "chat", "--json"], tmp_path, stdin="I forgot my password\n")
    assert chat.returncode == 0, chat.stderr
    turn = json.loads(chat.stdout.splitlines()[0])
    assert turn["action"] == "respond" and turn["intent"]["label"] == "password_reset"

    report = tmp_path / "report"
    done = _run(venv, [str(venv / "bin" / "tactful"), "eval", "--report", str(report), "--quiet"], tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads((report / "report.json").read_text())
    assert summary["metrics"]["scenarios"] > 50


def test_installed_wheel_serves_a_turn(venv: Path, tmp_path: Path) -> None:
    env = clean_env(TACTFUL_DATA_DIR=str(tmp_path / "var"))
    env.pop("PYTHONPATH", None)
    server = ServerProcess(env, log_path=tmp_path / "serve.log", command=[str(venv / "bin" / "tactful")],
                           cwd=tmp_path).start()
    try:
        answer = httpx.post(f"{server.url}/v1/conversations/w1/messages",
                            json={"text": "I forgot my password", "message_id": "m-1"}, timeout=30)
        assert answer.status_code == 200, answer.text
        assert answer.json()["action"] == "respond"
    finally:
        server.stop()
    assert os.path.exists(tmp_path / "var")


def test_wheel_metadata_names_the_license_and_ships_type_information(wheel: Path) -> None:
    archive = zipfile.ZipFile(wheel)
    (meta,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
    metadata = archive.read(meta).decode("utf-8").splitlines()
    assert "License-Expression: MIT" in metadata
    assert "Classifier: Typing :: Typed" in metadata
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in archive.namelist())
    assert "tactful/py.typed" in archive.namelist()
