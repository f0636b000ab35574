"""Collection for the doctest run over ``rxclaude/``: modules of an optional extra that is not
installed are left out (their tests skip the same way)."""

from __future__ import annotations

import importlib.util

collect_ignore = [] if importlib.util.find_spec("opentelemetry") else ["rxclaude/otel.py"]
