"""What an application's own Alembic migrations import from orchestrion (``orchestrion.migrations.helpers``)."""
