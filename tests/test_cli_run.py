"""``rxclaude run`` and ``rxclaude batch`` against the mock server (rxclaude.cli.run, rxclaude.cli.batch)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from rxclaude import Limits
from rxclaude.cli.main import main
from rxclaude.cli.run import finished_ids
from rxclaude.testing import MockClock, MockLimits, MockServer, Reply

MODEL = "claude-sonnet-4-6"


def write_requests(path: Path, n: int) -> list[str]:
    ids = [f"p{i:03d}" for i in range(n)]
    with path.open("wb") as f:
        for i, custom_id in enumerate(ids):
            params = {"model": MODEL, "max_tokens": 32, "messages": [{"role": "user", "content": f"reply {i}"}]}
            f.write(orjson.dumps({"custom_id": custom_id, "params": params}) + b"\n")
    return ids


def read_results(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


@pytest.fixture
def server() -> Iterator[MockServer]:
    mock = MockServer(default_reply=Reply.echo().with_faults(delay=0.02))
    with mock.running_in_thread() as running:
        yield running


def env_for(server: MockServer) -> dict[str, str]:
    env = dict(os.environ)
    env["ANTHROPIC_API_KEY"] = server.api_key
    env["ANTHROPIC_BASE_URL"] = server.url
    return env


def test_run_writes_batch_results(
    tmp_path: Path, server: MockServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", server.api_key)
    source, target = tmp_path / "prompts.jsonl", tmp_path / "results.jsonl"
    ids = write_requests(source, 12)
    assert main(["run", str(source), "-o", str(target), "--base-url", server.url, "-c", "4"]) == 0
    results = read_results(target)
    assert sorted(r["custom_id"] for r in results) == ids
    for line in results:
        assert line["result"]["type"] == "succeeded"
        number = int(line["custom_id"][1:])
        assert line["result"]["message"]["content"][0]["text"] == f"reply {number}"
    progress = capsys.readouterr().err.strip().splitlines()[-1]
    assert "12/12" in progress and "tok/s" in progress and "429s 0" in progress and "$" in progress


def test_run_resumes_after_ctrl_c_without_redoing_finished_ids(tmp_path: Path, server: MockServer) -> None:
    source, target = tmp_path / "prompts.jsonl", tmp_path / "results.jsonl"
    ids = write_requests(source, 40)
    command = [
        sys.executable,
        "-c",
        "import sys; from rxclaude.cli.main import main; sys.exit(main(sys.argv[1:]))",
        "run",
        str(source),
        "-o",
        str(target),
        "-c",
        "2",
    ]
    process = subprocess.Popen(command, env=env_for(server), stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (not target.exists() or len(target.read_bytes().splitlines()) < 6):
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130, err.decode()[-2000:]
    first = read_results(target)  # every line whole
    done = {line["custom_id"] for line in first}
    assert 6 <= len(done) < 40 and len(done) == len(first)
    sent_before = len(server.requests)

    second = subprocess.run(command, env=env_for(server), capture_output=True, timeout=60)
    assert second.returncode == 0, second.stderr.decode()[-2000:]
    results = read_results(target)
    assert sorted(r["custom_id"] for r in results) == ids  # each id once
    asked_again = [r.json["messages"][0]["content"] for r in server.requests[sent_before:]]
    assert len(asked_again) == 40 - len(done)
    assert not {f"p{int(text.split()[1]):03d}" for text in asked_again} & done


def test_a_line_cut_short_by_a_crash_is_dropped_and_redone(
    tmp_path: Path, server: MockServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", server.api_key)
    source, target = tmp_path / "prompts.jsonl", tmp_path / "results.jsonl"
    write_requests(source, 3)
    whole = {"custom_id": "p000", "result": {"type": "succeeded", "message": {"id": "msg_1", "content": []}}}
    target.write_bytes(orjson.dumps(whole) + b"\n" + b'{"custom_id": "p001", "result": {"ty')
    assert finished_ids(target) == {"p000"}
    assert target.read_bytes().endswith(b"\n")
    assert main(["run", str(source), "-o", str(target), "--base-url", server.url, "--no-progress"]) == 0
    assert read_results(target)[0]["custom_id"] == "p000"
    assert sorted(r["custom_id"] for r in read_results(target)) == ["p000", "p001", "p002"]
    assert len(server.requests) == 2


def test_errored_results_and_redo_errors(tmp_path: Path, server: MockServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", server.api_key)
    source, target = tmp_path / "prompts.jsonl", tmp_path / "results.jsonl"
    write_requests(source, 3)
    server.enqueue(Reply.error(400, message="nope"))
    args = ["run", str(source), "-o", str(target), "--base-url", server.url, "--no-progress", "-c", "1"]
    assert main(args) == 1
    errored = [r for r in read_results(target) if r["result"]["type"] == "errored"]
    assert len(errored) == 1 and errored[0]["result"]["error"]["error"]["message"] == "nope"
    assert main(args) == 0 and len(server.requests) == 3  # nothing to do
    assert main([*args, "--redo-errors"]) == 0 and len(server.requests) == 4
    last = {r["custom_id"]: r["result"]["type"] for r in read_results(target)}
    assert set(last.values()) == {"succeeded"}


def test_run_stays_under_the_mock_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    limits = MockLimits(Limits(requests=1_000, input_tokens=100_000, output_tokens=400), period=2.0, round_tokens=1)
    mock = MockServer(limits=limits, default_reply=Reply.echo().with_faults(delay=0.01))
    with mock.running_in_thread() as server:
        monkeypatch.setenv("ANTHROPIC_API_KEY", server.api_key)
        source, target = tmp_path / "prompts.jsonl", tmp_path / "results.jsonl"
        write_requests(source, 30)
        args = ["run", str(source), "-o", str(target), "--base-url", server.url, "--no-progress", "--period", "2"]
        assert main(args) == 0
    assert limits.rate_limited == 0 and len(read_results(target)) == 30


def test_bad_input_is_refused_before_anything_is_sent(
    tmp_path: Path, server: MockServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", server.api_key)
    source = tmp_path / "prompts.jsonl"
    source.write_bytes(b'{"custom_id": "a", "params": {}}\n{"custom_id": 3}\n')
    assert main(["run", str(source), "-o", str(tmp_path / "out.jsonl"), "--base-url", server.url]) == 2
    assert f"{source}:2" in capsys.readouterr().err
    assert server.requests == []


def test_batch_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    clock = MockClock(speed=0)
    with MockServer(clock=clock).running_in_thread() as server:
        monkeypatch.setenv("ANTHROPIC_API_KEY", server.api_key)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
        source = tmp_path / "prompts.jsonl"
        ids = write_requests(source, 5)
        assert main(["batch", "submit", str(source)]) == 0
        batch_id = capsys.readouterr().out.strip()
        assert batch_id.startswith("msgbatch_")
        assert main(["batch", "status", batch_id]) == 0
        assert "in_progress" in capsys.readouterr().out
        assert main(["batch", "results", batch_id]) == 1
        assert "no results yet" in capsys.readouterr().err
        clock.advance(hours=1)
        assert main(["batch", "status", batch_id, "--wait", "--interval", "0.01"]) == 0
        status = capsys.readouterr().out
        assert "ended" in status and "succeeded=5" in status
        out = tmp_path / "results.jsonl"
        assert main(["batch", "results", batch_id, "-o", str(out)]) == 0
        assert sorted(r["custom_id"] for r in read_results(out)) == ids
        assert main(["batch", "list"]) == 0
        assert batch_id in capsys.readouterr().out
        assert main(["batch", "delete", batch_id]) == 0
        assert main(["batch", "status", batch_id]) == 1
        assert "not found" in capsys.readouterr().err.lower()
