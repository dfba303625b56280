"""The engine core: step DSL, outcomes, typed state and the runner. It knows nothing of HTTP or SQL."""
