"""Persistence adapters around the engine core."""
