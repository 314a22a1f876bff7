"""``tactful marketing batch IN OUT``: one decision per line, bad lines reported and skipped, resumable."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from tactful.commands import marketing as command
from tactful.graphs.marketing_service import MarketingService
from tests.marketing_helpers import CAMPAIGNS, finished_customer, lost_power_user, request


def run(*args: str) -> int:
    """The command through a parser holding only it (independent of the other sub-commands' imports)."""
    parser = argparse.ArgumentParser()
    command.register(parser.add_subparsers())
    ns = parser.parse_args(["marketing", "batch", *args])
    code: int = ns.func(ns)
    return code


def write_requests(path: Path, count: int, *, with_ids: bool = True) -> list[str]:
    people = [lost_power_user(), finished_customer(), request(), request(inquiry="SOC 2 report please")]
    lines = []
    for i in range(count):
        data = people[i % len(people)].model_dump(mode="json", exclude_none=True)
        if with_ids:
            data["request_id"] = f"r{i}"
        else:
            data.pop("request_id", None)
        lines.append(json.dumps(data))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return lines


def read_out(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_every_input_line_gets_one_decision_with_its_id_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_requests(src, 12)
    assert run(str(src), str(out), "--concurrency", "3", "--no-progress") == 0
    rows = read_out(out)
    assert sorted(r["line"] for r in rows) == list(range(1, 13))  # type: ignore[type-var]
    assert sorted(r["request_id"] for r in rows) == sorted(f"r{i}" for i in range(12))  # type: ignore[type-var]
    assert {r["action"] for r in rows} == {"send", "route_to_rep"}
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["written"] == 12 and summary["bad_lines"] == 0


def test_bad_lines_are_reported_with_their_line_number_and_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    good = write_requests(src, 3)
    broken = json.loads(good[0])
    broken["profile"]["timezone"] = "Nowhere/Land"
    src.write_text(
        "\n".join([good[0], "{not json", json.dumps(broken), "", good[1], '{"campaign": 1}', good[2]]) + "\n"
    )
    assert run(str(src), str(out), "--no-progress") == 0
    err = capsys.readouterr().err
    assert f"{src}:2:" in err and f"{src}:3: profile.timezone" in err and f"{src}:6:" in err
    assert sorted(r["line"] for r in read_out(out)) == [1, 5, 7]  # type: ignore[type-var]


def test_strict_mode_exits_non_zero_after_bad_lines(tmp_path: Path) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text("{bad\n" + write_requests(tmp_path / "x.jsonl", 1)[0] + "\n")
    assert run(str(src), str(out), "--no-progress", "--strict") == 1
    assert len(read_out(out)) == 1


def test_resume_after_an_interrupted_run_skips_done_lines_and_redoes_a_cut_off_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_requests(src, 10)
    assert run(str(src), str(out), "--no-progress") == 0
    rows = out.read_text(encoding="utf-8").splitlines(keepends=True)
    out.write_text("".join(rows[:4]) + rows[4][: len(rows[4]) // 2], encoding="utf-8")  # killed mid-write
    capsys.readouterr()
    assert run(str(src), str(out), "--no-progress") == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out.strip().splitlines()[-1])
    assert (summary["skipped_done"], summary["written"]) == (4, 6)
    assert "partial last line" in captured.err
    ids = [r["request_id"] for r in read_out(out)]
    assert sorted(ids) == sorted(f"r{i}" for i in range(10))  # type: ignore[type-var]


def test_resume_after_a_keyboard_interrupt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_requests(src, 9)
    real = MarketingService.decide
    calls = {"n": 0}

    async def flaky(self: MarketingService, req: object, *, tenant: str = "default") -> object:
        calls["n"] += 1
        if calls["n"] == 6:
            raise KeyboardInterrupt
        return await real(self, req, tenant=tenant)  # type: ignore[arg-type]

    monkeypatch.setattr(MarketingService, "decide", flaky)
    with pytest.raises(KeyboardInterrupt):
        run(str(src), str(out), "--no-progress", "--concurrency", "1")
    done_first = len(read_out(out))
    assert 0 < done_first < 9
    monkeypatch.setattr(MarketingService, "decide", real)
    capsys.readouterr()
    assert run(str(src), str(out), "--no-progress") == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["skipped_done"] == done_first
    assert sorted(r["line"] for r in read_out(out)) == list(range(1, 10))  # type: ignore[type-var]


def test_requests_without_an_id_resume_by_line_number(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_requests(src, 5, with_ids=False)
    assert run(str(src), str(out), "--no-progress") == 0
    rows = out.read_text(encoding="utf-8").splitlines(keepends=True)
    out.write_text("".join(rows[:2]), encoding="utf-8")
    capsys.readouterr()
    assert run(str(src), str(out), "--no-progress") == 0
    assert sorted(r["line"] for r in read_out(out)) == [1, 2, 3, 4, 5]  # type: ignore[type-var]


def test_progress_bar_run_writes_the_same_decisions(tmp_path: Path) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_requests(src, 4)
    assert run(str(src), str(out)) == 0
    assert len(read_out(out)) == 4


def test_missing_input_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tactful.cli import main

    code = main(["marketing", "batch", str(tmp_path / "nope.jsonl"), str(tmp_path / "out.jsonl")])
    assert code == 2
    assert "input file not found" in capsys.readouterr().err


def test_an_unwritable_output_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tactful.cli import main

    src = tmp_path / "in.jsonl"
    write_requests(src, 1)
    code = main(["marketing", "batch", str(src), str(tmp_path / "missing-dir" / "out.jsonl")])
    assert code == 2
    assert "cannot write" in capsys.readouterr().err


def test_concurrency_must_be_positive(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        run("a.jsonl", "b.jsonl", "--concurrency", "0")
    assert "at least 1" in capsys.readouterr().err


def test_population_generator_makes_valid_requests() -> None:
    import importlib.util

    from tactful.agents.marketing.models import MarketingRequest
    from tests import REPO_ROOT

    spec = importlib.util.spec_from_file_location(
        "gen", REPO_ROOT / "scripts" / "gen_marketing_population.py"
    )
    assert spec and spec.loader
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    people = gen.generate(200, seed=3)
    assert len({MarketingRequest.model_validate(p).request_id for p in people}) == 200
    assert CAMPAIGNS  # the helpers' campaigns and the generator's share one schema
