"""`campaign serve --workers N`: N uvicorn worker processes sharing one listening socket.

Each worker builds its own app (and database connections) from the config file named in
$CAMPAIGN_CONFIG; the parent has migrated the database already, so workers never race to.
The bot rules hold across workers: the recorder checks bursts against the database.
"""

from __future__ import annotations

import os

from starlette.applications import Starlette

from campaign_engine.core.config import Settings, load_settings
from campaign_engine.store.db import Database
from campaign_engine.web.app import create_app

__all__ = ["app_from_env", "run_workers"]

ENV_CONFIG = "CAMPAIGN_CONFIG"


def app_from_env() -> Starlette:
    """The ASGI app of one worker (uvicorn calls this in each worker process)."""
    settings = load_settings()
    return create_app(settings, Database(settings.database_url, migrate=False))


def run_workers(settings: Settings, host: str, port: int, workers: int, verbose: bool) -> None:
    import uvicorn

    os.environ[ENV_CONFIG] = str(settings.config_path)  # inherited by every worker
    uvicorn.run(
        f"{__name__}:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info" if verbose else "warning",
        proxy_headers=True,
        lifespan="on",
    )
