"""The engine: drives flow bodies, tracks task calls, dispatches them, and records every step."""
