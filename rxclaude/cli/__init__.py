"""The ``rxclaude`` command line (``rxclaude --help``)."""

from rxclaude.cli.main import main

__all__ = ["main"]
