"""Example workflows, registered when this package is imported (``orchestrion run`` loads them)."""

from examples import workflows  # noqa: F401 - registers the example workflows
