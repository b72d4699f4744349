"""`campaign run`: the scheduler and the tracking endpoints in one event loop, stopped by SIGINT."""

from __future__ import annotations

import asyncio
import os
import signal

import httpx
import uvicorn

from campaign_engine.config import Settings
from campaign_engine.db import Database
from campaign_engine.scheduler import run_forever
from campaign_engine.tracking import PIXEL_GIF, create_app
from tests.conftest import SmtpSink, free_port


def test_run_serves_the_tracking_endpoints_and_stops_cleanly_on_sigint(
    db: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/o/not-a-token.gif"

    async def main() -> tuple[httpx.Response, bool]:
        web = uvicorn.Config(
            create_app(settings, db), host="127.0.0.1", port=port, log_level="warning"
        )
        running = asyncio.create_task(run_forever(settings, db, web=web))
        async with httpx.AsyncClient() as client:
            for _ in range(200):
                try:
                    response = await client.get(url)
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.05)
            os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C does
            await asyncio.wait_for(running, timeout=10)
            try:
                await client.get(url)
                still_up = True
            except httpx.ConnectError:
                still_up = False
        return response, still_up

    response, still_up = asyncio.run(main())
    assert (response.status_code, response.content) == (200, PIXEL_GIF)
    assert not still_up
