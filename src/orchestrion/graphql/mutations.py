"""The mutations orchestrator-core's schema has: start a process, pause the engine, customer descriptions.

orchestrator-ui itself writes through the REST API; these are for other clients. Refusals come
back as a ``MutationError`` (or ``NotFoundError``) value, not as GraphQL errors.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import strawberry
from pydantic_forms.exceptions import FormException
from starlette.concurrency import run_in_threadpool

from orchestrion.errors import InvalidInputError, OrchestrionError
from orchestrion.errors import NotFoundError as NotFound
from orchestrion.graphql.schemas.customer_description import CustomerDescription
from orchestrion.graphql.schemas.settings import EngineSettingsType, GlobalStatusEnum
from orchestrion.graphql.types import JSON, MutationError, NotFoundError, OrchestratorInfo
from orchestrion.services import audit, caches, customer_descriptions, engine, processes


@strawberry.input
class Payload:
    payload: JSON


@strawberry.type
class ProcessCreated:
    id: UUID


@strawberry.type
class CacheClearSuccess:
    deleted: int


@strawberry.interface
class BaseError:
    message: str


@strawberry.type
class Error(BaseError):
    pass


ProcessCreatedMutationError = Annotated[ProcessCreated | MutationError, strawberry.union("ProcessCreatedMutationError")]
StatusUpdateResponse = Annotated[EngineSettingsType | Error, strawberry.union("StatusUpdateResponse")]
CacheClearResponse = Annotated[CacheClearSuccess | Error, strawberry.union("CacheClearResponse")]
CustomerDescriptionNotFoundErrorMutationError = Annotated[
    CustomerDescription | NotFoundError | MutationError,
    strawberry.union("CustomerDescriptionNotFoundErrorMutationError"),
]


def _user(info: OrchestratorInfo) -> str:
    return getattr(info.context.user, "name", "SYSTEM")


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Start a process; payload: the form pages")
    async def start_process(
        self, info: OrchestratorInfo, name: str, payload: Payload, reporter: str | None = None
    ) -> ProcessCreatedMutationError:
        pages = payload.payload if isinstance(payload.payload, list) else [payload.payload]
        try:
            process_id = await run_in_threadpool(
                processes.start_process, name, pages, reporter or _user(info), info.context.user
            )
        except (OrchestrionError, FormException) as error:
            return MutationError(message=type(error).__name__, details=str(error))
        return ProcessCreated(id=process_id)

    @strawberry.mutation(description="Pause (globalLock: true) or continue the engine")
    async def update_status(self, info: OrchestratorInfo, global_lock: bool) -> StatusUpdateResponse:
        request = info.context.request
        client = request.client.host if request is not None and request.client else None
        with audit.acting_as(_user(info), client):  # the audit log names the caller, as for the REST route
            await run_in_threadpool(engine.pause_engine if global_lock else engine.unpause_engine)
        status = await run_in_threadpool(engine.engine_status)
        return EngineSettingsType(
            global_lock=bool(status["global_lock"]),
            global_status=GlobalStatusEnum(status["global_status"]),
            running_processes=int(status["running_processes"]),  # type: ignore[call-overload]
        )

    @strawberry.mutation(description="Flush a cache (orchestrion keeps none)")
    def clear_cache(self, name: str) -> CacheClearResponse:
        try:
            return CacheClearSuccess(deleted=caches.clear_cache(name))
        except InvalidInputError as error:
            return Error(message=str(error))

    @strawberry.mutation(description="Create or change a customer's description of a subscription")
    async def upsert_customer_description(
        self, customer_id: str, subscription_id: UUID, description: str, version: int | None = None
    ) -> CustomerDescriptionNotFoundErrorMutationError:
        def upsert() -> dict[str, object]:
            try:
                return customer_descriptions.update_description(
                    customer_id, subscription_id, description, version=version
                )
            except customer_descriptions.CustomerDescriptionNotFoundError:
                return customer_descriptions.create_description(customer_id, subscription_id, description)

        try:
            return CustomerDescription(**await run_in_threadpool(upsert))  # type: ignore[arg-type]
        except NotFound as error:
            return NotFoundError(message=str(error))
        except OrchestrionError as error:
            return MutationError(message=type(error).__name__, details=str(error))

    @strawberry.mutation(description="Delete a customer's description of a subscription")
    async def remove_customer_description(
        self, customer_id: str, subscription_id: UUID
    ) -> CustomerDescriptionNotFoundErrorMutationError:
        try:
            found = await run_in_threadpool(customer_descriptions.description_of, customer_id, subscription_id)
            await run_in_threadpool(customer_descriptions.delete_description, found["id"])
        except NotFound as error:
            return NotFoundError(message=str(error))
        return CustomerDescription(**found)
