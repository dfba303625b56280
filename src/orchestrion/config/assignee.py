"""Who is expected to act on a process when it stops for a person."""

from pydantic_forms.types import strEnum


class Assignee(strEnum):
    SYSTEM = "SYSTEM"
    NOC = "NOC"
    CHANGES = "CHANGES"
    KLANTSUPPORT = "KLANTSUPPORT"
