"""Processes: a run of a workflow, its steps, its form and what the caller may do with it."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any
from uuid import UUID

import strawberry
from sqlalchemy.orm import Session

from orchestrion.auth import authorize
from orchestrion.config.assignee import Assignee
from orchestrion.engine.registry import loaded_workflow
from orchestrion.engine.status import ProcessStatus
from orchestrion.engine.workflow import decode_branch
from orchestrion.errors import NotAuthorizedError
from orchestrion.graphql.loaders import load
from orchestrion.graphql.pagination import EMPTY_PAGE, Connection
from orchestrion.graphql.schemas.customer import CustomerType, default_customer
from orchestrion.graphql.schemas.product import ProductType, products_by_id
from orchestrion.graphql.types import JSON, FormUserPermissionsType, GraphqlFilter, GraphqlSort, OrchestratorInfo
from orchestrion.services.process_views import process_details
from orchestrion.storage.process_search import subscription_ids_of
from orchestrion.targets import Target

if TYPE_CHECKING:
    from orchestrion.graphql.schemas.subscription import SubscriptionInterface

_RETRYABLE = {
    ProcessStatus.FAILED,
    ProcessStatus.WAITING,
    ProcessStatus.API_UNAVAILABLE,
    ProcessStatus.INCONSISTENT_DATA,
}


@strawberry.type(description="A step of a process: one history row, or a step still to run (pending)")
class ProcessStepType:
    step_id: UUID | None
    name: str
    status: str
    created_by: str | None = strawberry.field(description="Who caused the run that wrote the row")
    action: str | None = strawberry.field(
        description="How: start, resume, retry, callback, abort, takeover, automatic retry, children or callback "
        "timeout (orchestrion's own)"
    )
    executed: datetime | None = strawberry.field(deprecation_reason="Use 'started' and 'completed'")
    started: datetime | None
    completed: datetime | None
    commit_hash: str | None
    state: JSON | None
    state_delta: JSON | None

    @classmethod
    def of(cls, values: dict[str, Any]) -> ProcessStepType:
        return cls(
            step_id=values.get("step_id"),
            name=values["name"],
            status=values["status"],
            created_by=values.get("created_by"),
            action=values.get("action"),
            executed=values.get("executed"),
            started=values.get("started"),
            completed=values.get("completed"),
            commit_hash=None,
            state=values.get("state"),
            state_delta=values.get("state_delta"),
        )


def _details(session: Session, ids: list[UUID]) -> dict[UUID, dict[str, Any]]:
    return process_details(session, ids)


@strawberry.federation.type(keys=["processId"])
class ProcessType:
    process_id: UUID
    workflow_id: UUID
    workflow_name: str
    workflow_target: Target | None
    is_task: bool
    created_by: str | None
    failed_reason: str | None
    started_at: datetime
    last_status: ProcessStatus
    last_step: str | None
    assignee: Assignee
    last_modified_at: datetime
    product_id: UUID | None
    customer_id: str | None
    note: str | None
    traceback: str | None
    parent_process_id: UUID | None = strawberry.field(default=None, description="The process whose step started it")
    branch: list[str] | None = strawberry.field(
        default=None, description="The parallel branch it runs: [fork, branch, ...] from the top workflow"
    )

    @strawberry.field(description="The processes (and parallel branches) its steps started, oldest first")
    async def children(self, info: OrchestratorInfo) -> list[ProcessType]:
        detail = await load(info, _details, self.process_id)
        default = default_customer(info).customer_id
        return [ProcessType.of(c, default) for c in detail["children"]] if detail else []

    @strawberry.field(description="The process's steps: the ones run, then the ones to come")
    async def steps(self, info: OrchestratorInfo) -> list[ProcessStepType] | None:
        detail = await load(info, _details, self.process_id)
        return [ProcessStepType.of(s) for s in detail["steps"]] if detail else None

    @strawberry.field(description="The form (JSON schema) a suspended process waits for")
    async def form(self, info: OrchestratorInfo) -> JSON | None:
        detail = await load(info, _details, self.process_id)
        return detail["form"] if detail else None

    @strawberry.field(description="The state the process continues from")
    async def current_state(self, info: OrchestratorInfo) -> JSON | None:
        detail = await load(info, _details, self.process_id)
        return detail["current_state"] if detail else None

    @strawberry.field(description="The product of the subscription the process works on")
    async def product(self, info: OrchestratorInfo) -> ProductType | None:
        if self.product_id is None:
            return None
        values = await load(info, products_by_id, self.product_id)
        return ProductType.of(values) if values else None

    @strawberry.field(description="The customer of the process's subscription")
    def customer(self, info: OrchestratorInfo) -> CustomerType:
        return default_customer(info)

    @strawberry.field(description="What the caller may do with the process now")
    async def user_permissions(self, info: OrchestratorInfo) -> FormUserPermissionsType:
        detail = await load(info, _details, self.process_id)
        wf = loaded_workflow(self.workflow_name)
        if detail is None or wf is None:
            return FormUserPermissionsType(retryAllowed=False, resumeAllowed=False)
        user = info.context.user
        try:
            step = wf.step_at(tuple(detail["cursor"])) if detail["cursor"] else None
        except KeyError:
            step = None

        def allowed(action: Any) -> bool:
            try:
                authorize(wf, action, getattr(user, "name", "SYSTEM"), step=step, user_model=user)
            except NotAuthorizedError:
                return False
            return True

        return FormUserPermissionsType(
            retryAllowed=self.last_status in _RETRYABLE and allowed("retry_workflow"),
            resumeAllowed=self.last_status == ProcessStatus.SUSPENDED and allowed("resume_workflow"),
        )

    @strawberry.field(description="The subscriptions the process worked on")
    async def subscriptions(
        self,
        info: OrchestratorInfo,
        filter_by: list[GraphqlFilter] | None = None,
        sort_by: list[GraphqlSort] | None = None,
        first: int = 10,
        after: int = 0,
    ) -> Connection[Annotated[SubscriptionInterface, strawberry.lazy("orchestrion.graphql.schemas.subscription")]]:
        from orchestrion.graphql.resolvers.subscription import resolve_subscriptions, subscriptions_of_ids

        ids = await load(info, subscription_ids_of, self.process_id, list)
        if not ids:
            return EMPTY_PAGE
        if filter_by or sort_by:
            own = GraphqlFilter(field="subscriptionId", value="|".join(map(str, ids)))
            return await resolve_subscriptions(info, [*(filter_by or []), own], sort_by, first, after)
        return await subscriptions_of_ids(info, ids, first, after)

    @classmethod
    def of(cls, values: dict[str, Any], default_customer_id: str) -> ProcessType:
        target = values.get("workflow_target")
        return cls(
            process_id=values["process_id"],
            workflow_id=values["workflow_id"],
            workflow_name=values["workflow_name"],
            workflow_target=Target(target) if target else None,
            is_task=values["is_task"],
            created_by=values["created_by"],
            failed_reason=values["failed_reason"],
            started_at=values["started_at"],
            last_status=ProcessStatus(values["last_status"]),
            last_step=values["last_step"],
            assignee=Assignee(values["assignee"]),
            last_modified_at=values["last_modified_at"],
            product_id=values.get("product_id"),
            customer_id=values.get("customer_id") or default_customer_id,
            note=values.get("note"),
            traceback=values.get("traceback"),
            parent_process_id=values.get("parent_process_id"),
            branch=_branch(values.get("branch")),
        )


def _branch(value: str | list[str] | None) -> list[str] | None:
    """The branch as a path, whether the values hold it stored (JSON text) or already read."""
    return (decode_branch(value) if isinstance(value, str) else value) or None
