"""Does the catalogue in the database match the code? The check behind ``task_validate_products``.

The model is declared twice (Python classes and workflow registrations; product and workflow rows
loaded from a catalogue file), so the two can drift apart after a deploy or a partial catalogue load.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrion.db.domain_models import ProductTable
from orchestrion.domain.catalogue_diff import catalogue_mismatches
from orchestrion.engine.workflow import Workflow
from orchestrion.storage.workflow_rows import workflow_rows


@dataclass
class CatalogueCheck:
    """``problems`` make the task end ``inconsistent_data``; ``notes`` are for information only."""

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def check_catalogue(
    session: Session, workflows: Mapping[str, Workflow | Exception], models: Mapping[str, Any]
) -> CatalogueCheck:
    """Compare workflow rows with ``workflows`` (name to workflow, or the error loading it raised) and
    product rows with ``models`` (product name to domain model class)."""
    check = CatalogueCheck()
    rows = {name: row for name, row in workflow_rows(session).items() if not row.deleted}
    for name, wf in sorted(workflows.items()):
        if isinstance(wf, Exception):
            check.problems.append(f"Workflow {name!r} is registered but cannot be loaded: {wf}")
        elif name not in rows:
            check.notes.append(f"Workflow {name!r} has no workflows row yet; it gets one when it first runs")
        elif rows[name].target != wf.target.value:  # is_task is the row's to say (a VALIDATE workflow may be a task)
            check.problems.append(
                f"Workflow {name!r} has target {rows[name].target} in the database but {wf.target.value} in the code"
            )
    for name in sorted(set(rows) - set(workflows)):
        check.problems.append(f"Workflow {name!r} is in the database but not registered in the code")
    products = {p.name: p.status for p in session.execute(select(ProductTable)).scalars()}
    for name, status in sorted(products.items()):
        if name not in models and status != "end of life":
            check.problems.append(f"Product {name!r} has no domain model registered in the code")
    check.problems += catalogue_mismatches(session, dict(models))
    return check
