"""The command line: offline demo, prompt, record/replay, one-line errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rxclaude.cli.main import main
from rxclaude.testing import MockServer, Reply

from .helpers import FIXTURES


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[MockServer]:
    mock = MockServer(require_key=True, default_reply=Reply.text("Hello from the CLI test.", thinking="Plan."))
    with mock.running_in_thread() as running:
        monkeypatch.setenv("ANTHROPIC_API_KEY", running.api_key)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", running.url)
        yield running


def test_demo_runs_offline(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    assert main(["demo", "--fast"]) == 0
    out = capsys.readouterr().out
    assert "Reactive streams let one request feed many consumers." in out
    assert "[fan-out] one request" in out and "stop_reason=end_turn" in out


def test_prompt_streams_and_shows_usage(server: MockServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["Say hello", "--show", "usage,thinking", "--max-tokens", "50", "--system", "be brief"]) == 0
    out = capsys.readouterr().out
    assert "Hello from the CLI test." in out and "[usage] input=" in out and "Plan." in out
    body = server.requests[-1].json
    assert body["system"] == "be brief" and body["max_tokens"] == 50 and body["stream"] is True


def test_errors_are_one_line_and_nonzero(
    server: MockServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "wrong-key-value")
    assert main(["hi"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("rxclaude: AuthenticationError:") and "\n" not in err
    assert "wrong-key-value" not in err


def test_missing_key(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
    assert main(["hi"]) == 1
    assert "ANTHROPIC_API_KEY" in capsys.readouterr().err


def test_record_then_replay(server: MockServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "run.jsonl"
    assert main(["record", "hi", "-o", str(path)]) == 0
    assert path.read_text().startswith('{"rxclaude_recording":1')
    capsys.readouterr()
    assert main(["replay", str(path), "--speed", "0", "--show", "usage"]) == 0
    out = capsys.readouterr().out
    assert "Hello from the CLI test." in out and "stop=end_turn" in out


def test_replay_sse_fixture_and_typed_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(FIXTURES / "tool-use-single-sonnet4.sse"), "--speed", "0"]) == 0
    assert "Florence, Italy" in capsys.readouterr().out
    assert main(["replay", str(FIXTURES / "docs-error-overloaded.sse"), "--speed", "0"]) == 1
    assert "OverloadedError: Overloaded" in capsys.readouterr().err


def test_no_arguments_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "rxclaude" in capsys.readouterr().out


def test_attachments_image_pdf_and_file_id(
    server: MockServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from .test_files import PDF, png

    photo = tmp_path / "photo.jpg"  # really a PNG: the media type comes from the bytes
    photo.write_bytes(png(4, 3))
    report = tmp_path / "report.pdf"
    report.write_bytes(PDF)
    uploaded_png = server.files.add(png(2, 2), "chart.png")["id"]
    uploaded_pdf = server.files.add(PDF, "paper.pdf")["id"]
    assert (
        main(["Describe", "--image", str(photo), "--pdf", str(report), "--file", uploaded_png, "--file", uploaded_pdf])
        == 0
    )
    blocks = server.requests[-1].json["messages"][0]["content"]
    assert [b["type"] for b in blocks] == ["image", "document", "image", "document", "text"]
    assert blocks[0]["source"]["media_type"] == "image/png"
    assert blocks[1]["source"]["media_type"] == "application/pdf"
    assert blocks[2]["source"] == {"type": "file", "file_id": uploaded_png}
    assert "files-api-2025-04-14" in server.requests[-1].headers["anthropic-beta"]
    capsys.readouterr()


def test_bad_attachment_is_one_line(server: MockServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "photo.png"
    bad.write_bytes(b"not an image at all")
    assert main(["Describe", "--image", str(bad)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("rxclaude: UnsupportedMediaError") or err.startswith("rxclaude: CorruptMediaError"), err
    assert main(["Describe", "--image", str(tmp_path / "missing.png")]) == 1
    assert "missing.png" in capsys.readouterr().err


def test_provider_bedrock_and_vertex(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from rxclaude.testing import MockBedrockServer, MockVertexServer

    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", "bedrock-key-for-tests")
    with MockBedrockServer(text="Hola from Bedrock.", api_key="bedrock-key-for-tests").running_in_thread() as server:
        assert (
            main(
                [
                    "Hi",
                    "--provider",
                    "bedrock",
                    "--region",
                    "us-east-1",
                    "--base-url",
                    server.url,
                    "-m",
                    "us.anthropic.claude-haiku-4-5-20251001-v1:0",
                ]
            )
            == 0
        )
        assert "Hola from Bedrock." in capsys.readouterr().out

    class Credentials:  # what google.auth.default() gives, without any network
        token = ""
        expired = False

        def refresh(self, request: object) -> None:
            self.token = "fresh-token"

    import google.auth

    monkeypatch.setattr(google.auth, "default", lambda scopes=None: (Credentials(), "proj-from-adc"))
    with MockVertexServer(access_token="fresh-token", text="Hello from Vertex.").running_in_thread() as server:
        assert (
            main(
                [
                    "Hi",
                    "--provider",
                    "vertex",
                    "--region",
                    "us-east5",
                    "--base-url",
                    server.url,
                    "-m",
                    "claude-haiku-4-5@20251001",
                ]
            )
            == 0
        )
        assert "Hello from Vertex." in capsys.readouterr().out
    # the first-party default model is no model id on these platforms: say so instead of a 400
    assert main(["Hi", "--provider", "bedrock"]) == 2
    assert "--model" in capsys.readouterr().err
