"""Async Python SDK for the Bangwo8 (帮我吧) outbound-call-task API.

>>> import bangwo8_async as bw
>>> async with bw.Session(bw.BasicAuth("admin@example.com", "...")) as session:
...     async for task in bw.iter_call_tasks(session):
...         print(task.call_task_id, task.task_name)
"""

from ._http.session import DEFAULT_BASE_URL, Session, SessionStats
from ._version import __version__
from .auth import BasicAuth, ClientCredentials
from .backoff import Backoff
from .call_tasks import (
    create_call_task,
    delete_call_task,
    get_call_task,
    list_call_tasks,
    list_task_users,
)
from .converter import to_dict
from .errors import (
    APIError,
    AuthenticationError,
    Bangwo8Error,
    DecodeError,
    InconsistentPagesError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    TransportError,
    ValidationError,
)
from .models import (
    Assignment,
    CallTask,
    CallTaskDetail,
    CreatedCallTask,
    DataSource,
    NewCallTask,
    Page,
    Progress,
    TaskStatus,
    TaskUser,
)
from .paging import (
    OnPage,
    PageStats,
    TaskUserPage,
    UsersCursor,
    iter_all_task_user_pages,
    iter_all_task_users,
    iter_call_task_pages,
    iter_call_tasks,
    iter_task_user_pages,
    iter_task_users,
    row_identity,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "APIError",
    "Assignment",
    "AuthenticationError",
    "Backoff",
    "Bangwo8Error",
    "BasicAuth",
    "CallTask",
    "CallTaskDetail",
    "ClientCredentials",
    "CreatedCallTask",
    "DataSource",
    "DecodeError",
    "InconsistentPagesError",
    "NewCallTask",
    "NotFoundError",
    "OnPage",
    "Page",
    "PageStats",
    "PermissionDeniedError",
    "Progress",
    "RateLimitError",
    "ServerError",
    "Session",
    "SessionStats",
    "TaskStatus",
    "TaskUser",
    "TaskUserPage",
    "TransportError",
    "UsersCursor",
    "ValidationError",
    "__version__",
    "create_call_task",
    "delete_call_task",
    "get_call_task",
    "iter_all_task_user_pages",
    "iter_all_task_users",
    "iter_call_task_pages",
    "iter_call_tasks",
    "iter_task_user_pages",
    "iter_task_users",
    "list_call_tasks",
    "list_task_users",
    "row_identity",
    "to_dict",
]
