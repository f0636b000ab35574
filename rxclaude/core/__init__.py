"""The sans-I/O core: bytes in, typed values out. Imports only the standard library and orjson.

* :mod:`~rxclaude.core.sse`: the SSE decoder (bytes -> :class:`~rxclaude.core.frame.Frame`).
* :mod:`~rxclaude.core.parse`: frame -> typed event.
* :mod:`~rxclaude.core.accumulate`: events -> the message, linear in the bytes received.
* :mod:`~rxclaude.core.partial_json`: JSON prefixes (streamed tool input).
* :mod:`~rxclaude.core.json_builder`: JSON built as its text arrives, linear (structured output);
  :mod:`~rxclaude.core.output`: its request format and validation (pydantic, jsonschema: lazily).
* The values, one module per noun: :mod:`~rxclaude.core.frame`, :mod:`~rxclaude.core.events`,
  :mod:`~rxclaude.core.blocks`, :mod:`~rxclaude.core.deltas`, :mod:`~rxclaude.core.citations`,
  :mod:`~rxclaude.core.message`, on the shared base :mod:`~rxclaude.core.values`.
* :mod:`~rxclaude.core.errors` (the exception tree), :mod:`~rxclaude.core.recording` (the recording
  format), :mod:`~rxclaude.core.ratelimit`, :mod:`~rxclaude.core.retry`, :mod:`~rxclaude.core.media`.
"""
