"""Teams' rate limits, kept on our side: about 50 sends a second per tenant, and per
conversation 7 a second, 8 per 2 s, 60 per 30 s and 1,800 an hour (DESIGN.md)."""

from __future__ import annotations

import asyncio
import bisect
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence


class RateLimiter:
    """Sliding windows per key: a send waits until every window for its keys has room."""

    def __init__(
        self,
        tenant: Sequence[tuple[float, float]],
        conversation: Sequence[tuple[float, float]],
        clock: Callable[[], float] = time.monotonic,
        margin: float = 1.03,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        # A little slack on each window so jitter between here and Teams never adds up to
        # one send too many in Teams' own count.
        # A share of a limit (one of several dispatchers) is rounded down to whole sends.
        self.tenant = [(max(1, int(n)), p * margin) for n, p in tenant]
        self.conversation = [(max(1, int(n)), p * margin) for n, p in conversation]
        # Tenant sends are spaced evenly rather than let through in bursts: a burst leaves
        # here inside the window but can arrive bunched.
        self.gap = max((p / n for n, p in self.tenant), default=0.0)
        self._slot: dict[str, float] = {}  # each tenant's last timetabled send
        self.clock = clock
        self.sleep = sleep
        self._sent: dict[str, deque[float]] = {}

    def _delay(self, key: str, windows: list[tuple[int, float]], now: float) -> float:
        sent = self._sent.setdefault(key, deque())
        longest = max((p for _, p in windows), default=0)
        while sent and sent[0] <= now - longest:
            sent.popleft()
        wait = 0.0
        for limit, period in windows:
            first = bisect.bisect_right(sent, now - period)  # send times are in order
            if len(sent) - first >= limit:
                wait = max(wait, sent[len(sent) - limit] + period - now)
        return wait

    async def acquire(self, tenant: str, conversation: str) -> None:
        while True:
            now = self.clock()
            slot = self._slot.get(tenant)
            wait = max(
                slot + self.gap - now if slot is not None else 0.0,
                self._delay(f"tenant:{tenant}", self.tenant, now),
                self._delay(f"conversation:{conversation}", self.conversation, now),
            )
            if wait <= 0:
                self._sent[f"tenant:{tenant}"].append(now)
                self._sent[f"conversation:{conversation}"].append(now)
                # The even spacing keeps to its timetable: a wake-up a little late is not
                # carried into the next gap (it would add up to a few percent of the rate);
                # after a pause longer than a gap the timetable starts again from now.
                due = slot + self.gap if slot is not None else now
                self._slot[tenant] = due if now - due < self.gap else now
                return
            await self.sleep(wait)
