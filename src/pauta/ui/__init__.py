"""The web UI: server-rendered pages and vendored static files, served beside the API."""
