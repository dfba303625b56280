"""The scheduler: starts tasks (SYSTEM workflows) on cron or interval schedules stored in the database.

Importing this package registers the built-in tasks (imported lazily, when they first run).
``runner.Scheduler`` is the loop; only the holder of the database lease (``leader``) fires.
"""

from orchestrion.workflows import LazyWorkflowInstance

BUILT_IN_TASKS = (
    "task_resume_workflows",
    "task_validate_awaiting_callbacks",
    "task_clean_up_tasks",
    "task_validate_products",
)

for _name in BUILT_IN_TASKS:
    LazyWorkflowInstance("orchestrion.scheduler.tasks", _name)
