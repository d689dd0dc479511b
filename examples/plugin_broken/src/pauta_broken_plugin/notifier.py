"""Raises on import, as a package with a missing dependency would."""

raise ImportError("pauta_broken_plugin needs a library that is not installed")
