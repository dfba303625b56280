"""Workflows, with their steps and whether the caller may start them."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import strawberry
from starlette.concurrency import run_in_threadpool

from orchestrion.auth import authorize
from orchestrion.config.assignee import Assignee
from orchestrion.engine.registry import loaded_workflow
from orchestrion.errors import NotAuthorizedError
from orchestrion.graphql.loaders import load
from orchestrion.graphql.schemas.product import ProductType
from orchestrion.graphql.types import OrchestratorInfo
from orchestrion.storage.workflow_search import products_of_workflows
from orchestrion.targets import Target


@strawberry.type(description="A step of a workflow, in order")
class Step:
    name: str
    assignee: Assignee | None


@strawberry.type
class Workflow:
    workflow_id: UUID
    name: str
    target: Target
    is_task: bool
    description: str | None
    created_at: datetime

    @strawberry.field(description="The products whose subscriptions this workflow runs on")
    async def products(self, info: OrchestratorInfo) -> list[ProductType]:
        return [ProductType.of(values) for values in await load(info, products_of_workflows, self.workflow_id, list)]

    @strawberry.field(description="The workflow's steps, in order (none when its code cannot be loaded)")
    def steps(self) -> list[Step] | None:
        wf = loaded_workflow(self.name)
        if wf is None:
            return None
        return [Step(name=s.name, assignee=Assignee(s.assignee)) for s in wf.steps]

    @strawberry.field(description="Whether the caller may start this workflow")
    async def is_allowed(self, info: OrchestratorInfo) -> bool:
        wf = loaded_workflow(self.name)
        if wf is None:
            return False
        user = info.context.user

        def allowed() -> bool:
            try:
                authorize(wf, "start_workflow", getattr(user, "name", "SYSTEM"), user_model=user)
            except NotAuthorizedError:
                return False
            return True

        return await run_in_threadpool(allowed)

    @classmethod
    def of(cls, values: dict[str, Any]) -> Workflow:
        return cls(
            workflow_id=values["workflow_id"],
            name=values["name"],
            target=Target(values["target"]),
            is_task=values["is_task"],
            description=values["description"],
            created_at=values["created_at"],
        )
