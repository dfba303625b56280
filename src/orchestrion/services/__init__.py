"""Operations on processes and the engine, for Python callers and the REST API alike."""
