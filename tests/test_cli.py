"""The ``tactful`` command line: each command is imported only when it runs, and its summary stays true."""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys

import pytest

from tactful import cli


@pytest.mark.parametrize("name", list(cli.COMMANDS))
def test_each_commands_summary_is_the_help_its_module_registers(name: str) -> None:
    module, summary = cli.COMMANDS[name]
    subparsers = argparse.ArgumentParser().add_subparsers()
    importlib.import_module(module).register(subparsers)
    helps = {action.dest: action.help for action in subparsers._choices_actions}
    assert helps[name] == summary


def test_help_lists_every_command_without_importing_any() -> None:
    code = (
        "import sys; from tactful.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in ('sklearn', 'langgraph', 'fastapi', 'torch') if m in sys.modules)\n"
        "print('HEAVY', heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    for name in cli.COMMANDS:
        assert name in out
    assert "HEAVY []" in out


def test_an_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["bogus"])
    assert exit_.value.code == 2
    assert "invalid choice: 'bogus'" in capsys.readouterr().err


def test_python_dash_m_tactful_is_the_same_command_line() -> None:
    ok = subprocess.run([sys.executable, "-m", "tactful", "--help"], capture_output=True, text=True)
    assert ok.returncode == 0 and all(name in ok.stdout for name in cli.COMMANDS)
    bad = subprocess.run([sys.executable, "-m", "tactful", "bogus"], capture_output=True, text=True)
    assert bad.returncode == 2 and "invalid choice: 'bogus'" in bad.stderr
