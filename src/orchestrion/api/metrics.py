"""``/api/metrics``: Prometheus metrics in the text format (see ``orchestrion.metrics``)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST

from orchestrion.metrics import render

router = APIRouter()


@router.get("", response_class=Response, include_in_schema=False)  # for Prometheus, in its text format: not the API
def metrics() -> Response:
    """Processes by status, step durations, queue depths (Celery), and this server process's own."""
    return Response(render(), media_type=CONTENT_TYPE_LATEST)
