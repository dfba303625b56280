"""The application's Alembic environment, written as orchestrator-core applications write theirs.

It knows nothing of orchestrion beyond the two imports an orchestrator-core application makes
(with the prefix renamed): it takes the URL from the settings and builds its own engine.
"""

from alembic import context
from sqlalchemy import engine_from_config, pool

from orchestrion.db.database import BaseModel
from orchestrion.settings import app_settings

config = context.config
config.set_main_option("sqlalchemy.url", app_settings.DATABASE_URI.get_secret_value())
target_metadata = BaseModel.metadata


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    section = config.get_section(config.config_ini_section) or {}
    engine = engine_from_config(section, prefix="sqlalchemy.", poolclass=pool.NullPool)
    connection = engine.connect()
    context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
    try:
        with context.begin_transaction():
            context.run_migrations()
    finally:
        connection.close()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
