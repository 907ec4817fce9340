"""Contains all the data models used in inputs/outputs"""

from .complete_task import CompleteTask
from .create_task import CreateTask
from .database_health import DatabaseHealth
from .field_error import FieldError
from .liveness import Liveness
from .login_request import LoginRequest
from .login_response import LoginResponse
from .pool_health import PoolHealth
from .priority import Priority
from .probe import Probe
from .problem import Problem
from .readiness import Readiness
from .ready_status import ReadyStatus
from .register_request import RegisterRequest
from .schema_health import SchemaHealth
from .sort_field import SortField
from .sort_order import SortOrder
from .task import Task
from .token_type import TokenType
from .update_task import UpdateTask
from .user import User

__all__ = (
    "CompleteTask",
    "CreateTask",
    "DatabaseHealth",
    "FieldError",
    "Liveness",
    "LoginRequest",
    "LoginResponse",
    "PoolHealth",
    "Priority",
    "Probe",
    "Problem",
    "Readiness",
    "ReadyStatus",
    "RegisterRequest",
    "SchemaHealth",
    "SortField",
    "SortOrder",
    "Task",
    "TokenType",
    "UpdateTask",
    "User",
)
