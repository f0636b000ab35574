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
        "annotations",
        "client",
        "content",
        "core",
        "plumbing",
        "relay",
        "stream",
        "transport",
        "version",
    }
    public = {n for n in public if not isinstance(getattr(rxclaude, n), type(rxclaude)) or n == "operators"}
    assert public <= set(rxclaude.__all__), public - set(rxclaude.__all__)


def test_core_is_sans_io_at_run_time() -> None:
    """Every module of ``rxclaude.core`` imports with aiohttp, reactivex and asyncio blocked."""
    modules = sorted(p.stem for p in (ROOT / "rxclaude" / "core").glob("*.py") if p.stem != "__init__")
    code = (
        (
            "import sys, importlib\n"
            "class Block:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] in ('aiohttp', 'reactivex', 'asyncio'):\n"
            "            raise ImportError('blocked ' + name)\n"
            "sys.meta_path.insert(0, Block())\n"
            "import types\n"
            "pkg = types.ModuleType('rxclaude'); pkg.__path__ = [PKG]; sys.modules['rxclaude'] = pkg\n"
            "for m in MODULES:\n"
            "    importlib.import_module('rxclaude.core.' + m)\n"
            "print('ok')\n"
        )
        .replace("PKG", repr(str(ROOT / "rxclaude")))
        .replace("MODULES", repr(modules))
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.stdout.strip() == "ok", out.stderr
    assert {"sse", "parse", "accumulate", "events", "errors"} <= set(modules)


def test_import_contracts_hold() -> None:
    """The layers, the sans-I/O core, the testing leaf and no cycles: setup.cfg's import-linter contracts."""
    lint_imports = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    if not Path(lint_imports).exists():
        pytest.skip("import-linter is not installed (it is in the [test] extra)")
    out = subprocess.run([lint_imports, "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-4000:]
    assert "0 broken" in out.stdout and "BROKEN" not in out.stdout


@pytest.mark.skipif(
    shutil.which("ruff") is None and not (Path(sys.executable).parent / "ruff").exists(), reason="ruff not installed"
)
def test_ruff_clean() -> None:
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    out = subprocess.run([ruff, "check", "rxclaude", "tests", "bench"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:]


@pytest.mark.skipif(
    shutil.which("ruff") is None and not (Path(sys.executable).parent / "ruff").exists(), reason="ruff not installed"
)
def test_ruff_format_clean() -> None:
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    out = subprocess.run(
        [ruff, "format", "--check", "rxclaude", "tests", "bench"], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout[-3000:]


def test_mypy_clean() -> None:
    pytest.importorskip("mypy")
    out = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:]


def test_mypy_clean_without_the_optional_extras(tmp_path: Path) -> None:
    """mypy finds only the core dependencies (and what they need): the extras' imports must type-check too."""
    pytest.importorskip("mypy")
    import importlib.metadata as metadata
    import re
    import sysconfig
    import venv

    def closure(name: str, seen: set[str]) -> set[str]:
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen:
            return seen
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:  # a requirement for another Python (its marker says so)
            return seen
        seen.add(key)
        for req in requires:
            if "extra ==" not in req:
                closure(re.split(r"[ ;<>=!~\[(]", req, maxsplit=1)[0], seen)
        return seen

    core = closure("rxclaude", set()) - {"rxclaude"}
    venv.create(tmp_path / "core", with_pip=False)
    python = tmp_path / "core" / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    ours = Path(sysconfig.get_paths()["purelib"])
    linked = set()
    for dist in metadata.distributions():
        if re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower() not in core:
            continue
        for file in dist.files or []:
            top = file.parts[0]
            if top.endswith((".dist-info", ".pth")) or top in linked or top == "..":
                continue
            linked.add(top)
            target = ours / top
            if target.exists():
                (site / top).symlink_to(target)
    assert {"reactivex", "aiohttp", "orjson"} <= {name.split(".")[0] for name in linked}
    assert not {"PIL", "rich", "botocore", "jiter"} & linked
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "--python-executable", str(python), "--no-incremental"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout[-3000:]
