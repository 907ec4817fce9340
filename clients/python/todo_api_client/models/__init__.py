"""Contains all the data models used in inputs/outputs"""

from .changes import Changes
from .complete_task import CompleteTask
from .create_task import CreateTask
from .create_task_priority import CreateTaskPriority
from .database_health import DatabaseHealth
from .field_error import FieldError
from .legacy_message import LegacyMessage
from .legacy_registration import LegacyRegistration
from .legacy_token import LegacyToken
from .list_tasks_order import ListTasksOrder
from .list_tasks_priority import ListTasksPriority
from .list_tasks_sort import ListTasksSort
from .liveness import Liveness
from .login_request import LoginRequest
from .login_response import LoginResponse
from .password_form import PasswordForm
from .pool_health import PoolHealth
from .priority import Priority
from .probe import Probe
from .problem import Problem
from .readiness import Readiness
from .ready_status import ReadyStatus
from .register_request import RegisterRequest
from .schema_health import SchemaHealth
from .task import Task
from .token_type import TokenType
from .update_task import UpdateTask
from .update_task_priority import UpdateTaskPriority
from .user import User

__all__ = (
    "Changes",
    "CompleteTask",
    "CreateTask",
    "CreateTaskPriority",
    "DatabaseHealth",
    "FieldError",
    "LegacyMessage",
    "LegacyRegistration",
    "LegacyToken",
    "ListTasksOrder",
    "ListTasksPriority",
    "ListTasksSort",
    "Liveness",
    "LoginRequest",
    "LoginResponse",
    "PasswordForm",
    "PoolHealth",
    "Priority",
    "Probe",
    "Problem",
    "Readiness",
    "ReadyStatus",
    "RegisterRequest",
    "SchemaHealth",
    "Task",
    "TokenType",
    "UpdateTask",
    "UpdateTaskPriority",
    "User",
)
