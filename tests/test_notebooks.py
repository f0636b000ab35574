"""The notebooks in ``notebooks/``: committed clean, and each runs top to bottom offline.

Every notebook is executed with nbclient in a fresh kernel started from *this* interpreter
(``sys.executable``, via a kernelspec written to a temp dir), with ``ANTHROPIC_API_KEY`` removed
so the setup cell picks the embedded mock server, and ``MPLBACKEND=Agg``. The test fails when a
cell raises (the notebooks assert their key facts), when a cell writes to stderr (the kernel
runs with ``PYTHONWARNINGS=default``, so warnings and logged callback errors land there), and
when an aiohttp session or a mock server is still open after the last cell (checked by a cell
the test appends; the committed notebooks are not changed).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
kernelspec = pytest.importorskip("ipykernel.kernelspec")
pytest.importorskip("jupyter_client")

from jupyter_client.kernelspec import KernelSpecManager  # noqa: E402
from jupyter_client.manager import AsyncKernelManager  # noqa: E402
from traitlets import default  # noqa: E402

NOTEBOOKS_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
MAX_BYTES = 300 * 1024
CELL_TIMEOUT = 60  # seconds per cell; each notebook takes a few seconds in all
KERNEL = "python3"

# Appended to each notebook when it runs: everything the notebook opened is closed again.
LEAK_CHECK = """\
import gc as _gc

import aiohttp as _aiohttp
from rxclaude.testing import MockServer as _MockServer


def _serving(server):
    try:
        server.port
    except RuntimeError:  # not started, or closed
        return False
    return True


_gc.collect()
_open = [o for o in _gc.get_objects() if isinstance(o, _aiohttp.ClientSession) and not o.closed]
_open += [o for o in _gc.get_objects() if isinstance(o, _MockServer) and _serving(o)]
assert not _open, f"still open after the last cell: {_open}"
"""


def _ids(path: Path) -> str:
    return path.name


def test_there_are_notebooks() -> None:
    assert len(NOTEBOOKS) >= 4, f"expected at least four notebooks in {NOTEBOOKS_DIR}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_committed_clean(path: Path) -> None:
    """Small, valid, and with no outputs or execution counts."""
    size = path.stat().st_size
    assert size < MAX_BYTES, f"{path.name} is {size} bytes"
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name} cell {i} has outputs: clear them before committing"
            assert cell.execution_count is None, f"{path.name} cell {i} has an execution count"


def test_same_setup_and_teardown_everywhere() -> None:
    """The first code cell (mock server or real API) and the last (closing both) are shared verbatim."""
    firsts, lasts = set(), set()
    for path in NOTEBOOKS:
        code = [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
        firsts.add(code[0])
        lasts.add(code[-1])
    assert len(firsts) == 1, "the setup cells differ"
    assert len(lasts) == 1, "the teardown cells differ"
    assert "ANTHROPIC_API_KEY" in firsts.pop() and "await client.close()" in lasts.pop()


@pytest.fixture(scope="module")
def kernel_manager_class(tmp_path_factory: pytest.TempPathFactory) -> type[AsyncKernelManager]:
    """A kernel manager that starts ``python3`` as *this* interpreter (``sys.executable``).

    The kernelspec is written to a temp dir, so neither the user's nor the venv's kernelspecs
    matter. nbclient makes the manager from this class, so it also shuts the kernel down and
    closes its channels after each notebook.
    """
    root = tmp_path_factory.mktemp("kernels")
    spec_dir = kernelspec.write_kernel_spec(root / KERNEL)
    with open(Path(spec_dir) / "kernel.json") as f:
        assert json.load(f)["argv"][0] == sys.executable
    kernel_dirs = [str(root)]

    class ThisInterpreterKernelManager(AsyncKernelManager):
        @default("kernel_spec_manager")
        def _kernel_spec_manager_default(self) -> KernelSpecManager:
            return KernelSpecManager(kernel_dirs=kernel_dirs)

    return ThisInterpreterKernelManager


def _kernel_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("ANTHROPIC_API_KEY", None)  # the mock server, always
    env.pop("ANTHROPIC_AUTH_TOKEN", None)
    env.pop("ANTHROPIC_BASE_URL", None)
    env["MPLBACKEND"] = "Agg"
    env["PYTHONWARNINGS"] = "default"  # show every warning (on stderr, which fails the test)
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"  # no debugger warning on stderr
    return env


def _stderr(nb: Any) -> list[str]:
    found = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                found.append(f"cell {i}: {out.get('text', '')}")
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_runs_offline(path: Path, kernel_manager_class: type[AsyncKernelManager]) -> None:
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(LEAK_CHECK))
    client = nbclient.NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name=KERNEL,
        kernel_manager_class=kernel_manager_class,
        allow_errors=False,
        resources={"metadata": {"path": str(NOTEBOOKS_DIR)}},
    )
    started = time.monotonic()
    client.execute(env=_kernel_env())  # raises CellExecutionError on the first failing cell
    elapsed = time.monotonic() - started
    assert not _stderr(nb), "\n".join(_stderr(nb))
    assert elapsed < 60, f"{path.name} took {elapsed:.1f}s"
