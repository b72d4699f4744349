"""A long upload's progress, shown while it runs, without JavaScript (the pages allow none).

The response is streamed: the page's top, then one line per progress step as the file is read
(CSS shows only the newest), then a link to the result and a refresh that opens it. A short
upload answers with its result page at once instead.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import AsyncIterator, Callable
from html import escape

import anyio
from anyio.streams.memory import MemoryObjectSendStream

from campaign_engine.audience.csvfile import Progress
from campaign_engine.core.errors import CampaignEngineError

__all__ = ["MARK", "PROGRESS_FROM_BYTES", "stream_progress"]

PROGRESS_FROM_BYTES = 256 * 1024  # an upload this large shows its progress (~5,000 rows)
MARK = "<!--progress-->"  # where the progress page's template takes the progress lines


def stream_progress(
    page: str,
    work: Callable[[Progress], str],
    back: str,
) -> AsyncIterator[str]:
    """Stream `page` (split at MARK) around the progress lines of `work`, run in a thread;
    `work` returns the URL of its result, or raises CampaignEngineError (shown, with `back`)."""
    top, bottom = page.split(MARK, 1)

    async def lines() -> AsyncIterator[str]:
        send, receive = anyio.create_memory_object_stream[str](max_buffer_size=64)
        yield top
        async with anyio.create_task_group() as group:
            group.start_soon(_run, work, send, back)
            async with receive:
                async for line in receive:
                    yield line
        yield bottom

    return lines()


async def _run(
    work: Callable[[Progress], str], send: MemoryObjectSendStream[str], back: str
) -> None:
    def progress(done: int, total: int) -> None:
        percent = math.floor(100 * done / total) if total else 100
        # the browser may have gone away: the upload still finishes, and is listed
        with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
            anyio.from_thread.run(send.send, _step(percent, done, total))

    async with send:
        try:
            url = await anyio.to_thread.run_sync(lambda: work(progress))
        except CampaignEngineError as exc:
            end = (
                f'<p class="error" role="alert">{escape(str(exc))}</p>'
                f'<p><a href="{escape(back)}">Back</a></p>'
            )
        else:
            target = escape(url)
            end = (
                f'<p class="step done">Done. <a id="result" href="{target}">See the result</a>'
                f'</p><meta http-equiv="refresh" content="0;url={target}">'
            )
        with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
            await send.send(end)


def _step(percent: int, done: int, total: int) -> str:
    return (
        f'<p class="step"><progress max="100" value="{percent}"></progress> {percent}%'
        f" ({_size(done)} of {_size(total)} read)</p>"
    )


def _size(count: int) -> str:
    """Bytes as people read them: 410 KB, 12.5 MB."""
    return f"{count / 1e6:.1f} MB" if count >= 1_000_000 else f"{math.ceil(count / 1000)} KB"
