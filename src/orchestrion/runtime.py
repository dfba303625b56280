"""The runtime: the settings, database, executor and clock one orchestrion application runs with.

``OrchestratorCore`` creates one, and so do ``init_database()`` (the CLI's commands, scripts) and
the test kit. The code below it finds it as the *current* runtime: the one a request, a worker
thread or the scheduler works for (``activate``), else the process's default (``install``).
``get_database()``, ``get_executor()`` and ``db.session`` are facades over it, so two applications
in one Python process each see their own database, executor, settings and clock.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

from orchestrion.engine.clock import Clock, set_process_clock, system_clock, using_clock
from orchestrion.engine.registry import ALL_WORKFLOWS, LazyWorkflowInstance
from orchestrion.engine.retry import RetryPolicy
from orchestrion.settings import AppSettings, app_settings

if TYPE_CHECKING:
    from orchestrion.db.database import Database
    from orchestrion.executors import Executor
    from orchestrion.storage.protocol import ProcessStore


class Runtime:
    """What runs processes for one application; the executor is made from the settings when first needed."""

    def __init__(
        self,
        database: Database,
        settings: AppSettings = app_settings,
        *,
        executor: Executor | None = None,
        store: ProcessStore | None = None,
        clock: Clock = system_clock,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        self.database = database
        self.settings = settings
        self.clock = clock
        self._executor = executor
        self._store = store
        self._retry_policy = retry_policy
        _runtimes[database] = self
        _register_built_ins()

    @property
    def store(self) -> ProcessStore:
        """The process store: the SQL one on ``database`` unless another was given."""
        if self._store is None:
            from orchestrion.storage.sql_store import SqlProcessStore

            self._store = SqlProcessStore(self.database)
        return self._store

    @property
    def retry_policy(self) -> RetryPolicy:
        """``retrystep`` backoff: the one given, else the settings' (read at each use: a changed setting applies)."""
        return self._retry_policy or RetryPolicy.from_settings(self.settings)

    @retry_policy.setter
    def retry_policy(self, policy: RetryPolicy | None) -> None:
        self._retry_policy = policy

    @property
    def executor(self) -> Executor:
        if self._executor is None:
            from orchestrion.executors import executor_from_settings

            self._executor = executor_from_settings(self)
        return self._executor

    def set_executor(self, executor: Executor | None) -> Executor | None:
        """Use ``executor`` from now on; returns the one it replaces, which the caller shuts down."""
        previous, self._executor = self._executor, executor
        return previous

    def close(self) -> None:
        """Shut the executor down (running processes stop at their next step boundary)."""
        executor = self.set_executor(None)
        if executor is not None:
            executor.shutdown(wait=True)


# Built-in workflows that are not tasks, by the module that defines each (imported on first use).
BUILT_IN_WORKFLOWS = {"modify_note": "orchestrion.workflows.modify_note"}


def _register_built_ins() -> None:
    """The tasks of the initial schedules and the built-in workflows are workflows like any other:
    registered when a runtime is made, so they exist wherever processes can run. An application's own
    workflow of the same name, registered first, is left in place."""
    from orchestrion.scheduler.tasks import register_built_in_tasks

    register_built_in_tasks()
    for name, module in BUILT_IN_WORKFLOWS.items():
        if name not in ALL_WORKFLOWS:
            LazyWorkflowInstance(module, name)


_current: ContextVar[Runtime | None] = ContextVar("orchestrion_runtime", default=None)
_default: list[Runtime | None] = [None]
_runtimes: weakref.WeakKeyDictionary[Database, Runtime] = weakref.WeakKeyDictionary()


def current() -> Runtime:
    """The runtime this code works for: the active one, else the process's default."""
    found = _current.get() or _default[0]
    if found is None:
        raise RuntimeError(
            "orchestrion is not set up: create an OrchestratorCore, or call orchestrion.db.init_database()"
        )
    return found


def is_set_up() -> bool:
    return (_current.get() or _default[0]) is not None


def of_database(database: Database) -> Runtime | None:
    """The runtime that owns ``database``, if one does."""
    return _runtimes.get(database)


def install(runtime: Runtime | None) -> Runtime | None:
    """Make ``runtime`` the process's default (for contexts that activated none); returns the previous one."""
    previous, _default[0] = _default[0], runtime
    set_process_clock(runtime.clock if runtime is not None else system_clock)
    return previous


@contextmanager
def activate(runtime: Runtime) -> Iterator[Runtime]:
    """Work for ``runtime`` in this context (a request, a worker thread) for a block."""
    token = _current.set(runtime)
    try:
        with using_clock(runtime.clock):
            yield runtime
    finally:
        _current.reset(token)
