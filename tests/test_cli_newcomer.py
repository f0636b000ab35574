"""The command line as a newcomer meets it: help, flag checks, errors on their own line, tool
calls, thinking budgets, and cancelled or failed recordings that replay as what happened."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from rxclaude.cli.main import main
from rxclaude.core.models import DEFAULT_MODEL
from rxclaude.core.recording import recorded_end
from rxclaude.testing import MockServer, Reply

from .helpers import FIXTURES

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-c", "import sys; from rxclaude.cli import main; sys.exit(main())"]


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[MockServer]:
    mock = MockServer(require_key=True, default_reply=Reply.text("Hello from the CLI test.", thinking="Plan."))
    with mock.running_in_thread() as running:
        monkeypatch.setenv("ANTHROPIC_API_KEY", running.api_key)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", running.url)
        yield running


def test_help_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for command in ("rxclaude demo", "rxclaude record", "rxclaude replay", "rxclaude files"):
        assert command in out


@pytest.mark.parametrize("args", [["hi", "--show", "bogus"], ["hi", "--show", "usage,nope"]])
def test_unknown_show_values_are_a_usage_error(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 2
    assert "choose from usage, thinking, raw" in capsys.readouterr().err


def test_replay_rejects_unknown_show_values_too(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["replay", str(FIXTURES / "tool-use-single-sonnet4.sse"), "--show", "raw,bogus"])
    assert exit_.value.code == 2


def test_base_url_must_be_a_url(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["hi", "--base-url", "notaurl"])
    assert exit_.value.code == 2
    assert "'notaurl' is not an http(s) URL" in capsys.readouterr().err


@pytest.mark.parametrize("url", ["https://api.example.com/v1", "https://api.example.com/v1/"])
def test_base_url_ending_in_v1_gets_a_hint(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["hi", "--base-url", url])
    assert exit_.value.code == 2
    assert "use --base-url https://api.example.com" in capsys.readouterr().err


def test_env_base_url_ending_in_v1_gets_the_same_hint(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9/v1")
    with pytest.raises(SystemExit) as exit_:
        main(["hi"])
    assert exit_.value.code == 2
    assert "ANTHROPIC_BASE_URL= http://127.0.0.1:9" in capsys.readouterr().err


def test_error_after_partial_text_starts_on_its_own_line(
    server: MockServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server.enqueue(Reply.text("Partial words then trouble").with_faults(error_after=6))
    assert main(["hi"]) == 1
    captured = capsys.readouterr()
    assert captured.out and captured.out.endswith("\n") and not captured.out.endswith("\n\n")
    assert captured.err.startswith("rxclaude: OverloadedError:")


def test_a_tool_call_is_shown_with_its_input(server: MockServer, capsys: pytest.CaptureFixture[str]) -> None:
    server.enqueue(Reply.from_sse(FIXTURES / "tool-use-single-sonnet4.sse"))
    assert main(["What's the weather in Florence?"]) == 0
    out = capsys.readouterr().out
    assert '[tool] weather {"location":"Florence,Italy"}\n' in out


def test_replay_shows_tool_calls(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(FIXTURES / "tool-use-single-sonnet4.sse"), "--speed", "0"]) == 0
    assert '[tool] weather {"location":"Florence,Italy"}' in capsys.readouterr().out
    assert main(["replay", str(FIXTURES / "web-search-citations-sonnet4.sse"), "--speed", "0"]) == 0
    assert '[tool] web_search (server tool) {"query":"Tokyo population 2026 current"}' in capsys.readouterr().out


def test_thinking_budget_raises_max_tokens(server: MockServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["Why is the sky blue?", "-m", "claude-haiku-4-5", "--thinking", "2000", "--show", "thinking"]) == 0
    body = server.requests[-1].json
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2000}
    assert body["max_tokens"] == 2000 + 1024  # the budget plus the reply's own room
    assert "--max-tokens raised to 3024" in capsys.readouterr().err


def test_thinking_budget_within_the_model_limit(server: MockServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hi", "-m", "claude-haiku-4-5", "--thinking", "63000", "--max-tokens", "5000"]) == 0
    assert server.requests[-1].json["max_tokens"] == 64000
    with pytest.raises(SystemExit) as exit_:
        main(["hi", "-m", "claude-haiku-4-5", "--thinking", "64000"])
    assert exit_.value.code == 2 and "leaves no room" in capsys.readouterr().err


def test_thinking_modes_follow_the_model(server: MockServer, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["hi", "--thinking", "2000"])  # the default model thinks adaptively only
    assert exit_.value.code == 2 and "use --thinking adaptive" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["hi", "-m", "claude-haiku-4-5", "--thinking", "adaptive"])
    assert exit_.value.code == 2
    with pytest.raises(SystemExit) as exit_:
        main(["hi", "--thinking", "500", "-m", "claude-haiku-4-5"])
    assert exit_.value.code == 2 and "at least 1024" in capsys.readouterr().err
    assert main(["hi", "--thinking", "adaptive", "--show", "thinking"]) == 0
    body = server.requests[-1].json
    assert body["thinking"] == {"type": "adaptive"} and body["model"] == DEFAULT_MODEL


def test_failed_recording_ends_with_the_error_and_replays_the_partial(
    server: MockServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "run.jsonl"
    server.enqueue(Reply.text("Some words before the failure").with_faults(error_after=6))
    assert main(["record", "hi", "-o", str(path)]) == 1
    end = recorded_end(path)
    assert end is not None and end["end"] == "error" and end["error"]["type"] == "OverloadedError"
    capsys.readouterr()
    # replay: the in-stream error frame is replayed as it came (a typed error, exit 1)
    assert main(["replay", str(path), "--speed", "0"]) == 1
    assert "OverloadedError" in capsys.readouterr().err


def test_truncated_recording_replays_as_a_partial_message(
    server: MockServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "run.jsonl"
    server.enqueue(Reply.text("The body ends before message_stop").with_faults(close_after=6))
    assert main(["record", "hi", "-o", str(path)]) == 1
    end = recorded_end(path)
    assert end is not None and end["end"] == "incomplete"
    capsys.readouterr()
    assert main(["replay", str(path), "--speed", "0"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("The body")
    assert "[incomplete] the recorded stream ended before message_stop (incomplete)" in captured.err


def _run_until(args: list[str], marker: bytes, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    """Run the CLI, press Ctrl-C once ``marker`` was printed, and collect what it printed."""
    proc = subprocess.Popen(
        [*CLI, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=cwd,
    )
    assert proc.stdout is not None
    seen = b""
    deadline = time.monotonic() + 30
    os.set_blocking(proc.stdout.fileno(), False)
    while marker not in seen and time.monotonic() < deadline and proc.poll() is None:
        chunk = proc.stdout.read(4096)
        if chunk:
            seen += chunk
        else:
            time.sleep(0.02)
    assert marker in seen, seen
    proc.send_signal(signal.SIGINT)
    os.set_blocking(proc.stdout.fileno(), True)
    out, err = proc.communicate(timeout=30)
    return subprocess.CompletedProcess(proc.args, proc.returncode, seen + out, err)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def test_ctrl_c_in_demo_prints_the_kept_partial(tmp_path: Path) -> None:
    done = _run_until(["demo", "--tokens-per-second", "20"], b"Reactive streams", _env(), tmp_path)
    assert done.returncode == 130
    out = done.stdout.decode()
    assert "[cancelled] kept the partial message:" in out and "incomplete=True" in out
    assert "[cancelled]" in done.stderr.decode()


def test_cancelled_recording_ends_cancelled_and_replays_the_partial(tmp_path: Path) -> None:
    reply = Reply.text("One two three four five six seven eight nine ten " * 20).with_faults(tokens_per_second=40)
    with MockServer(default_reply=reply).running_in_thread() as server:
        env = _env(ANTHROPIC_API_KEY=server.api_key, ANTHROPIC_BASE_URL=server.url)
        done = _run_until(["record", "hi", "-o", "run.jsonl"], b"three", env, tmp_path)
    assert done.returncode == 130, done.stderr
    assert "(cancelled)" in done.stderr.decode()
    lines = [orjson.loads(line) for line in (tmp_path / "run.jsonl").read_bytes().splitlines()]
    assert lines[-1]["end"] == "cancelled" and "error" not in lines[-1]
    assert all("event" in line for line in lines[1:-1]) and len(lines) > 4
    replayed = subprocess.run(
        [*CLI, "replay", "run.jsonl", "--speed", "0"],
        capture_output=True,
        env=_env(),
        cwd=tmp_path,
        timeout=60,
    )
    assert replayed.returncode == 0, replayed.stderr
    assert replayed.stdout.decode().startswith("One two three")
    assert "ended before message_stop (cancelled)" in replayed.stderr.decode()


def test_recorded_end_reads_the_last_line_only(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    big = {"t": 0.1, "event": "content_block_delta", "data": "x" * 200_000}
    path.write_bytes(b'{"rxclaude_recording":1}\n' + orjson.dumps(big) + b"\n" + b'{"t":0.2,"end":"cancelled"}\n')
    assert recorded_end(path) == {"t": 0.2, "end": "cancelled"}
    assert recorded_end(path.read_bytes()[:-30]) is None  # cut off: no end line
    assert recorded_end(b"event: ping\ndata: {}\n\n") is None  # a raw SSE body has none
    assert recorded_end(b'{"rxclaude_recording":1}\n') is None


async def test_message_operator_can_give_the_partial_of_a_replayed_recording(tmp_path: Path) -> None:
    from rxclaude import IncompleteStreamError, replay
    from rxclaude import operators as ops

    path = tmp_path / "r.jsonl"
    lines = [b'{"rxclaude_recording":1}']
    sse = (FIXTURES / "text-basic-sonnet4.sse").read_bytes().split(b"\n\n")[:6]  # no message_stop
    for i, frame in enumerate(sse):
        event, _, data = frame.partition(b"\ndata: ")
        lines.append(
            orjson.dumps({"t": i / 1000, "event": event.removeprefix(b"event: ").decode(), "data": data.decode()})
        )
    lines.append(b'{"t":0.01,"end":"cancelled"}')
    path.write_bytes(b"\n".join(lines) + b"\n")
    partial = await replay(path, None).pipe(ops.parse(), ops.message(incomplete="emit"))
    assert partial.incomplete and partial.text
    with pytest.raises(IncompleteStreamError) as caught:
        await replay(path, None).pipe(ops.parse(), ops.message())
    assert caught.value.partial == partial
