"""Every code sample in README.md and notebooks/README.md runs, literally, against the embedded mock.

The convention for samples (keep to it when adding a section):

* A ```python block is a whole program, run as its own script (``python -W error block.py``)
  in a fresh folder that holds ``photo.jpg``, ``report.pdf`` and a ``tests`` link to the
  repository's tests (for fixtures). It must exit 0 and print nothing on stderr: no warning, no
  unclosed session. Top-level ``await`` / ``async with`` / ``async for`` is allowed and runs
  as in Jupyter or ``python -m asyncio`` (inside a running loop); names a block uses must be
  defined in the block.
* Code that needs a real API key runs as written: the test sets ``ANTHROPIC_BASE_URL`` and
  ``ANTHROPIC_API_KEY`` to a mock server (``rxclaude.testing.MockServer`` on 127.0.0.1), so
  ``rxclaude.Client()`` talks to the mock.
* In a ```bash block, every line that starts with ``rxclaude`` or ``jupyter nbconvert`` runs
  (``bash -c``, same folder, which also links ``notebooks/``, same environment, except that
  ``jupyter`` runs without ``ANTHROPIC_*`` so the notebooks start their own mock) and must
  exit 0. ``--provider bedrock`` lines talk to the mock Bedrock server (``ANTHROPIC_BEDROCK_BASE_URL``
  and a bearer key in ``AWS_BEARER_TOKEN_BEDROCK``); other ``--provider`` lines are not run
  (they need that cloud's credentials); set-up lines (``python3 -m venv``, ``pip install``) and other
  programs are not run either.
* A block that cannot follow this must say why, in an HTML comment on the line just before its
  fence: ``<!-- sample: not run: <reason> -->``. The reason is required.
* Blocks in other languages (```js) and diagrams (no language) are not run.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from rxclaude.testing import MockBedrockServer, MockServer, Reply

ROOT = Path(__file__).resolve().parent.parent
DOCS = ("README.md", "notebooks/README.md")
TIMEOUT = 120
_FENCE = re.compile(r"^```(\w*)\s*$")
_SKIP = re.compile(r"<!--\s*sample:\s*not run:\s*(\S.*?)\s*-->")
_ASYNC_MAIN = """\
import ast, asyncio, sys
path = sys.argv[1]
with open(path, encoding="utf-8") as f:
    source = f.read()
code = compile(source, path, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
async def main():
    result = eval(code, {"__name__": "__main__"})
    if result is not None:
        await result
asyncio.run(main())
"""


@dataclass(frozen=True)
class Sample:
    doc: str
    line: int
    language: str
    code: str
    skip: str | None

    @property
    def id(self) -> str:
        return f"{self.doc}:{self.line}:{self.language}"


def samples(doc: str) -> Iterator[Sample]:
    """The fenced blocks of ``doc``, with the line of their opening fence."""
    lines = (ROOT / doc).read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if m is None:
            i += 1
            continue
        start, language = i, m.group(1)
        i += 1
        body: list[str] = []
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i])
            i += 1
        i += 1
        skip = _SKIP.search(lines[start - 1]) if start > 0 else None
        yield Sample(doc, start + 1, language, "\n".join(body) + "\n", skip.group(1) if skip else None)


ALL = [s for doc in DOCS for s in samples(doc)]
PYTHON = [s for s in ALL if s.language == "python"]
BASH = [s for s in ALL if s.language == "bash"]


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer(default_reply=Reply.echo()).running_in_thread() as running:
        yield running


@pytest.fixture(scope="module")
def bedrock() -> Iterator[MockBedrockServer]:
    with MockBedrockServer(text="Hola from the Bedrock mock.", api_key=_BEDROCK_KEY).running_in_thread() as running:
        yield running


_BEDROCK_KEY = "bedrock-key-for-the-readme-test"


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    from PIL import Image

    Image.new("RGB", (64, 48), (200, 120, 40)).save(tmp_path / "photo.jpg", "JPEG")
    (tmp_path / "report.pdf").write_bytes(_PDF)
    (tmp_path / "tests").symlink_to(ROOT / "tests", target_is_directory=True)
    (tmp_path / "notebooks").symlink_to(ROOT / "notebooks", target_is_directory=True)
    return tmp_path


def _env(server: MockServer) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "RXCLAUDE_"))}
    env["ANTHROPIC_BASE_URL"] = server.url
    env["ANTHROPIC_API_KEY"] = server.api_key
    env["PYTHONPATH"] = str(ROOT)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _needs_loop(code: str) -> bool:
    try:
        compile(code, "<sample>", "exec")
    except SyntaxError:
        compile(code, "<sample>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)  # a real syntax error raises
        return True
    return False


def test_docs_have_samples() -> None:
    assert len(PYTHON) >= 8 and BASH
    for sample in ALL:
        assert sample.skip is None or sample.skip.strip(), sample.id


@pytest.mark.parametrize("sample", PYTHON, ids=[s.id for s in PYTHON])
def test_python_sample(sample: Sample, server: MockServer, workdir: Path) -> None:
    if sample.skip:
        pytest.skip(sample.skip)
    script = workdir / "sample.py"
    script.write_text(sample.code, encoding="utf-8")
    args = [sys.executable, "-W", "error"]
    if _needs_loop(sample.code):
        (workdir / "run_async.py").write_text(_ASYNC_MAIN, encoding="utf-8")
        args += [str(workdir / "run_async.py"), str(script)]
    else:
        args.append(str(script))
    done = subprocess.run(args, cwd=workdir, env=_env(server), capture_output=True, timeout=TIMEOUT)
    where = f"{sample.id}\n--- stdout\n{done.stdout.decode()}\n--- stderr\n{done.stderr.decode()}"
    assert done.returncode == 0, where
    assert done.stderr == b"", where
    assert done.stdout.strip(), where  # every sample shows something


def _commands(sample: Sample) -> list[str]:
    return [
        line.strip()
        for line in sample.code.splitlines()
        if line.strip().startswith(("rxclaude ", "jupyter nbconvert ")) or line.strip() == "rxclaude"
        if "--provider" not in line or "--provider bedrock" in line
    ]


@pytest.mark.parametrize("sample", BASH, ids=[s.id for s in BASH])
def test_bash_sample(sample: Sample, server: MockServer, bedrock: MockBedrockServer, workdir: Path) -> None:
    if sample.skip:
        pytest.skip(sample.skip)
    commands = _commands(sample)
    if not commands:
        pytest.skip("no rxclaude command in this block (set-up or other programs)")
    for program in {command.split()[0] for command in commands}:
        if shutil.which(program, path=_env(server)["PATH"]) is None:
            pytest.skip(f"{program} is not installed (pip install -e '.[test]')")
    for command in commands:
        env = _env(server)
        if command.startswith("jupyter"):  # the notebooks start their own scripted mock when no key is set
            env = {k: v for k, v in env.items() if not k.startswith("ANTHROPIC_")}
        if "--provider bedrock" in command:
            env.update(ANTHROPIC_BEDROCK_BASE_URL=bedrock.url, AWS_BEARER_TOKEN_BEDROCK=_BEDROCK_KEY)
        done = subprocess.run(["bash", "-c", command], cwd=workdir, env=env, capture_output=True, timeout=TIMEOUT)
        where = f"{sample.id}: {command}\n--- stdout\n{done.stdout.decode()}\n--- stderr\n{done.stderr.decode()}"
        assert done.returncode == 0, where
        assert b"Traceback" not in done.stderr, where


def test_replay_sample_prints_in_a_plain_script(server: MockServer, workdir: Path) -> None:
    """The issue's case: a recording, then ``replay(...).subscribe(print)`` with no loop running."""
    record = next(s for s in PYTHON if "rxclaude.replay(" in s.code and "sinks.record(" in s.code)
    (workdir / "sample.py").write_text(record.code, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-W", "error", "sample.py"], cwd=workdir, env=_env(server), capture_output=True, timeout=60
    )
    assert done.returncode == 0 and done.stderr == b"", done.stderr
    frames = (workdir / "run.jsonl").read_text().splitlines()
    assert len(frames) > 5 and frames[-1].endswith('"end":"completed"}')  # the frames were recorded
    out = done.stdout.decode()
    echoed = out.split("frames recorded]\n", 1)[1]  # what replay printed, after the live part
    assert echoed.strip(), out


# A one-page PDF (the smallest a parser accepts), so the document sample has a real file.
_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)
