"""Foundations every layer may use: states, errors, the clock, settings, resources."""
