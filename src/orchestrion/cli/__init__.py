"""The ``orchestrion`` command line; its Typer app is ``orchestrion.cli.main.app`` (a ``main.py`` can extend it)."""
