"""Example products and workflows (a small network catalogue), registered when this package is imported.

``CATALOGUE`` is the example product catalogue; ``orchestrion run --import examples --catalogue
examples/catalogue.yaml`` (what ``scripts/run`` does) loads it.
"""

from pathlib import Path

from examples import products, workflows  # noqa: F401 - registers the domain models and workflows

CATALOGUE = Path(__file__).with_name("catalogue.yaml")
