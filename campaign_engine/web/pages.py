"""The ops/rep web app (Starlette, mounted at /app beside tracking): one mixin per area.

| route | who | module |
|---|---|---|
| `GET/POST /login`, `POST /logout`, `GET /` | anyone / users | `session_pages` |
| `GET /exclusions`, `POST /exclusions/upload`, `POST /exclusions/remove` | ops | `exclusion_pages` |
| `GET /drafts`, `GET /drafts/{id}`, `POST /drafts/{id}/edit`, `POST /drafts/{id}/send` | ops: all; reps: their own | `draft_pages` |
| `GET /contacts?email=`, `GET/POST /contacts/{email}/mode` | ops: all; reps: their own | `contact_pages` |
| `GET /dashboard[?campaign=NAME]` | ops | `dashboard_page` |
| `GET /campaigns/new`, `POST /rehearsals`, `GET /rehearsals/{id}[/...]`, `POST /rehearsals/{id}/launch` | ops | `launch_pages` |
| `GET /inbox-review`, `POST /inbox-review/{review_id}/apply`, `POST /inbox-review/{review_id}/dismiss` | ops | `inbox_review_page` |
| `GET /unassigned`, `POST /unassigned/assign`, `POST /requests/{id}/handled` | ops; reps: handled, their own | `request_pages` |

Every page needs a session (else a redirect to the login page); every POST needs the session's
CSRF token (else 403). The work is done by the services; the page modules only check who may do
what and render the answer (`base.WebBase` holds what they share).
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException

from campaign_engine.core.config import Settings
from campaign_engine.sending.transport import Transport, make_transport
from campaign_engine.store.db import Database
from campaign_engine.web.auth import session_middleware
from campaign_engine.web.base import Clock, LoginNeeded
from campaign_engine.web.campaign_pages import CampaignPages
from campaign_engine.web.contact_pages import ContactPages
from campaign_engine.web.dashboard_page import DashboardPage
from campaign_engine.web.draft_pages import DraftPages
from campaign_engine.web.exclusion_pages import ExclusionPages
from campaign_engine.web.inbox_review_page import InboxReviewPage
from campaign_engine.web.launch_pages import LaunchPages
from campaign_engine.web.rep_day_page import RepDayPage
from campaign_engine.web.request_pages import RequestPages
from campaign_engine.web.session_pages import SessionPages
from campaign_engine.web.user_pages import UserPages

__all__ = ["MAX_UPLOAD_BYTES", "MOUNT", "create_webapp"]

MOUNT = "/app"  # where create_app mounts this app
MAX_UPLOAD_BYTES = 64 * 1024 * 1024  # request bodies under MOUNT (exclusion files) up to this


class _Web(
    SessionPages,
    RepDayPage,
    CampaignPages,
    LaunchPages,
    DashboardPage,
    ExclusionPages,
    InboxReviewPage,
    DraftPages,
    ContactPages,
    UserPages,
    RequestPages,
):
    """Every area of the app on one shared `WebBase`."""


def create_webapp(
    settings: Settings,
    db: Database,
    *,
    clock: Clock,
    transport_factory: Callable[[], Transport] | None = None,
) -> Starlette:
    web = _Web(settings, db, clock, transport_factory or (lambda: make_transport(settings)))
    return Starlette(
        routes=[
            *web.session_routes(),
            *web.rep_day_routes(),
            *web.campaign_routes(),
            *web.launch_routes(),
            *web.exclusion_routes(),
            *web.inbox_review_routes(),
            *web.draft_routes(),
            *web.contact_routes(),
            *web.dashboard_routes(),
            *web.user_routes(),
            *web.request_routes(),
        ],
        middleware=[session_middleware(settings)],
        exception_handlers={
            LoginNeeded: web.login_needed,
            HTTPException: web.http_error,
            Exception: web.crash,
        },
    )
