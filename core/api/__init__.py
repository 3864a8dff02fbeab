"""The public HTTP API, ``/api/v1``: keys, rate limits, problem+json errors and the FastAPI app (``core.api.app``)."""
