"""Imports fine but names a string where pauta expects a router."""

router = "not a router"
