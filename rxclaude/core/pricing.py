"""What a request costs in US dollars, from its usage (list prices; pass your own table).

Example:
    >>> from rxclaude.core.message import Usage
    >>> round(cost_of("claude-sonnet-4-5", Usage(input_tokens=1_000_000, output_tokens=100_000)), 2)
    4.5
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rxclaude.core.message import Usage

__all__ = ["PRICES", "Price", "cost_of", "price_of"]


@dataclass(frozen=True, slots=True)
class Price:
    """US dollars per million tokens: input and output (cache writes cost 1.25x input for 5
    minutes, 2x for an hour; cache reads 0.1x; the Batches API halves everything).

    Example:
        >>> Price(3.0, 15.0).output
        15.0
    """

    input: float
    output: float


#: List prices by model-id prefix (the longest matching prefix wins), as published in late 2025.
PRICES: Mapping[str, Price] = {
    "claude-opus-4-5": Price(5.0, 25.0),
    "claude-opus-4-6": Price(5.0, 25.0),
    "claude-opus-4": Price(15.0, 75.0),
    "claude-3-opus": Price(15.0, 75.0),
    "claude-sonnet-4": Price(3.0, 15.0),
    "claude-3-7-sonnet": Price(3.0, 15.0),
    "claude-3-5-sonnet": Price(3.0, 15.0),
    "claude-haiku-4-5": Price(1.0, 5.0),
    "claude-3-5-haiku": Price(0.8, 4.0),
    "claude-3-haiku": Price(0.25, 1.25),
}


def price_of(model: str, prices: Mapping[str, Price] = PRICES) -> Price | None:
    """The price of ``model`` (longest matching prefix), or ``None`` if unknown.

    Example:
        >>> price_of("claude-opus-4-1-20250805")
        Price(input=15.0, output=75.0)
    """
    best = None
    for prefix, price in prices.items():
        if model.startswith(prefix) and (best is None or len(prefix) > len(best[0])):
            best = (prefix, price)
    return best[1] if best is not None else None


def cost_of(model: str, usage: Usage, *, batch: bool = False, prices: Mapping[str, Price] = PRICES) -> float:
    """Dollars for one request's ``usage`` (0.0 for a model not in ``prices``).

    Example:
        >>> cost_of("claude-haiku-4-5", Usage(input_tokens=0, output_tokens=1_000_000), batch=True)
        2.5
    """
    price = price_of(model, prices)
    if price is None:
        return 0.0
    cache = usage.cache_creation_input_tokens or 0
    read = usage.cache_read_input_tokens or 0
    dollars = ((usage.input_tokens or 0) + 1.25 * cache + 0.1 * read) * price.input
    dollars += (usage.output_tokens or 0) * price.output
    return dollars / 1e6 * (0.5 if batch else 1.0)
