"""The scheduler: starts tasks (SYSTEM workflows) on cron or interval schedules stored in the database.

``runner.Scheduler`` is the loop; only the holder of the database lease (``leader``) fires. The
built-in tasks live in ``tasks`` and are registered with the other workflows (``orchestrion.workflows``).
"""
