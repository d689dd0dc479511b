"""The ``pauta`` command line."""

from pauta.cli.main import entry, main

__all__ = ["entry", "main"]
