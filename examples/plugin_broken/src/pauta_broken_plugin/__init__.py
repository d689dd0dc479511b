"""A plugin package whose entry points name a module that fails on import."""
