"""House rules: exports, layering, mypy and ruff."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import rxclaude

ROOT = Path(__file__).resolve().parent.parent


def test_all_is_sorted_and_complete() -> None:
    assert rxclaude.__all__ == sorted(rxclaude.__all__)
    for name in rxclaude.__all__:
        assert hasattr(rxclaude, name), name
    public = {n for n in vars(rxclaude) if not n.startswith("_")} - {
        "annotations", "client", "errors", "events", "providers", "stream", "transport", "content",
    }
    public = {n for n in public if not isinstance(getattr(rxclaude, n), type(rxclaude)) or n == "operators"}
    assert public <= set(rxclaude.__all__), public - set(rxclaude.__all__)


def test_core_is_sans_io() -> None:
    """The core (events, errors, decoder, parser, accumulator) imports no aiohttp, reactivex or asyncio."""
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('aiohttp', 'reactivex', 'asyncio'):\n"
        "            raise ImportError('blocked ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import types, importlib.util\n"
        "pkg = types.ModuleType('rxclaude'); pkg.__path__ = [PKG]; sys.modules['rxclaude'] = pkg\n"
        "for m in ('errors', 'events', '_sse', '_parse', '_partial_json', '_accumulate', '_ratelimit', '_retry'):\n"
        "    importlib.import_module('rxclaude.' + m)\n"
        "print('ok')\n"
    ).replace("PKG", repr(str(ROOT / "rxclaude")))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.stdout.strip() == "ok", out.stderr


def test_testing_is_not_imported_by_the_package() -> None:
    for path in (ROOT / "rxclaude").rglob("*.py"):
        if "testing" in path.parts or path.name == "cli.py":
            continue
        assert "from .testing" not in path.read_text() and "rxclaude.testing" not in path.read_text(), path


@pytest.mark.skipif(shutil.which("ruff") is None and not (Path(sys.executable).parent / "ruff").exists(),
                    reason="ruff not installed")
def test_ruff_clean() -> None:
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    out = subprocess.run([ruff, "check", "rxclaude", "tests", "bench"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:]


def test_mypy_clean() -> None:
    pytest.importorskip("mypy")
    out = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:]
