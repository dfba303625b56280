"""Small helpers orchestrator-core applications import."""

from orchestrion.names import camel_to_snake, to_camel

__all__ = ["camel_to_snake", "to_camel"]
