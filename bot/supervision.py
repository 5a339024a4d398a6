"""Process supervision for `perfbot serve`: the extra dispatchers (PERFBOT_DISPATCHERS), each
in a process of its own, kept running while the server runs and stopped gently with it."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from typing import Any

log = logging.getLogger("perfbot")

STOP_SECONDS = 20.0  # a dispatcher's sends in flight end within their own timeout (15 s)


async def keep_running(command: list[str], stopping: asyncio.Event) -> None:
    """One more dispatcher, in a process of its own, started again if it ends by itself (a
    little later each time it ends soon after starting), and stopped as gently as the
    server's own when the server stops."""
    pause = 1.0
    while not stopping.is_set():
        started = time.monotonic()
        process = await asyncio.create_subprocess_exec(*command, stdin=asyncio.subprocess.DEVNULL)
        ended = asyncio.ensure_future(process.wait())
        told = asyncio.ensure_future(stopping.wait())
        await asyncio.wait({ended, told}, return_when=asyncio.FIRST_COMPLETED)
        told.cancel()
        if not stopping.is_set():
            pause = 1.0 if time.monotonic() - started > 60 else min(pause * 2, 60.0)
            log.warning(
                "a dispatcher process ended (exit %s); starting it again in %.0f s",
                process.returncode,
                pause,
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), pause)
            continue
        if process.returncode is None:
            process.terminate()  # it finishes its sends in flight, then exits
            try:
                await asyncio.wait_for(asyncio.shield(ended), STOP_SECONDS)
            except TimeoutError:
                process.kill()
        await ended


def settle_memory() -> None:
    """Take what start-up made out of the garbage collector's way (Python's ``gc.freeze``):
    the modules, mappings, templates and engine, about 100,000 objects that live as long as
    the process, which each of the collector's full passes read through again, in the
    middle of whichever requests were under way. Those passes were the slow one in a
    hundred of a person's requests: ``my measures`` for 50 measures, p99 75 -> 30 ms in one
    process on its own, 116 -> 45 ms in bench/sweep.py. Called once, when `perfbot serve` (or a dispatcher) has started: not
    by create_app, whose tests start hundreds of apps in one process."""
    gc.collect()  # what start-up left as garbage is freed, not kept for ever
    gc.freeze()


async def settled(_app: Any) -> None:
    """``settle_memory`` as an aiohttp start-up step: appended after the app's own (its
    database, adapter and bot, made by its cleanup contexts), so what they made is kept."""
    settle_memory()
