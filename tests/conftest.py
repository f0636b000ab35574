"""Shared pytest fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import FIXTURES, SSE_FIXTURES


@pytest.fixture(params=[p.name for p in SSE_FIXTURES])
def sse_fixture(request: pytest.FixtureRequest) -> Path:
    return FIXTURES / request.param
