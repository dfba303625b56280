"""The REST API (FastAPI routers), mounted under ``/api`` by ``orchestrion.app.OrchestratorCore``."""
