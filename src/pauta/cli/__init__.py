"""The ``pauta`` command line."""

from pauta.cli.main import main

__all__ = ["main"]
