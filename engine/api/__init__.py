"""HTTP API (FastAPI): ingest, channels, health."""
