"""orchestrion: a workflow engine for the lifecycle of customer subscriptions."""

__version__ = "0.1.0"
