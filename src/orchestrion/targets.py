"""What a workflow does to a subscription; decides its wrapper steps and where it may run."""

from pydantic_forms.types import strEnum


class Target(strEnum):
    CREATE = "CREATE"
    MODIFY = "MODIFY"
    TERMINATE = "TERMINATE"
    SYSTEM = "SYSTEM"
    VALIDATE = "VALIDATE"
    RECONCILE = "RECONCILE"
