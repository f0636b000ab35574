"""Test helpers: fixture paths and chunkings."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
SSE_FIXTURES = sorted(FIXTURES.glob("*.sse"))


def chunkings(data: bytes, seed: int = 0) -> Iterator[tuple[str, list[bytes]]]:
    """The same bytes cut several ways: whole, byte by byte, random splits."""
    yield "whole", [data]
    yield "bytewise", [data[i : i + 1] for i in range(len(data))]
    rnd = random.Random(seed)
    for k in range(3):
        cuts = sorted(rnd.sample(range(1, max(2, len(data))), min(len(data) - 1, rnd.randint(1, 40))))
        pieces, last = [], 0
        for c in cuts:
            pieces.append(data[last:c])
            last = c
        pieces.append(data[last:])
        yield f"random{k}", pieces
