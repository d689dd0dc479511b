"""The REST API: FastAPI app under /api/v1, authentication, /health and /metrics."""
