"""Teams' windows kept on a starved machine: the limiter's yes is checked again when the
message really goes, and a message counts until a period after its answer, so however late
the sender or the receiver runs, no window Teams counts by arrival holds one too many."""

import asyncio
import heapq
import itertools
import random

import pytest

from bot.delivery import RateLimiter

TEAMS_CHAT = [(7, 1.0), (8, 2.0), (60, 30.0)]


class VirtualTime:
    """A clock shared by several coroutines: it moves on to the next sleeper's wake-up only
    when every coroutine is waiting, and jumps when the process is starved (nothing runs
    meanwhile, so whoever was due wakes late)."""

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        woken = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + max(0.0, seconds), next(self._order), woken))
        await woken

    def starve(self, seconds: float) -> None:
        self.now += seconds

    def run(self, workers: list) -> None:
        async def drive() -> None:
            tasks = [asyncio.create_task(w) for w in workers]
            while not all(t.done() for t in tasks):
                for _ in range(50):  # everything that can run, runs
                    await asyncio.sleep(0)
                if self._sleepers:
                    when, _, woken = heapq.heappop(self._sleepers)
                    self.now = max(self.now, when)
                    woken.set_result(None)
                elif not all(t.done() for t in tasks):
                    raise AssertionError("every worker is waiting and nobody will wake them")
            for task in tasks:
                task.result()

        asyncio.run(drive())


def most_in(times: list[float], seconds: float) -> int:
    """The most arrivals in any window of ``seconds`` (open at its start, as Teams counts)."""
    times = sorted(times)
    return max(
        (sum(1 for t in times if start - seconds < t <= start) for start in times), default=0
    )


def starved_run(checked_at_sending: bool, conversations: list[str], seed: int = 5) -> dict:
    """Eight workers sending through one limiter on a machine that is starved now and then:
    after the limiter's yes the process may be held up to 150 ms before the request goes,
    the receiver sees a message up to 60 ms after it went and answers up to 60 ms later.
    Returns each conversation's arrival times (and the tenant's, under "tenant")."""
    clock = VirtualTime()
    rng = random.Random(seed)
    limiter = RateLimiter([(50, 1.0)], TEAMS_CHAT, clock=clock, sleep=clock.sleep, margin=1.0)
    queue = list(reversed(conversations))
    arrivals: dict[str, list[float]] = {"tenant": []}

    async def request(conversation: str) -> None:
        await clock.sleep(rng.uniform(0, 0.06))  # on its way, and the receiver is late
        arrivals["tenant"].append(clock.now)
        arrivals.setdefault(conversation, []).append(clock.now)
        await clock.sleep(rng.uniform(0, 0.06))  # the answer on its way back

    async def worker() -> None:
        while queue:
            conversation = queue.pop()
            permit = await limiter.acquire("tenant", conversation)
            if rng.random() < 0.05:
                clock.starve(rng.uniform(0, 0.15))  # the process held between yes and send
            if checked_at_sending:
                async with limiter.sending(permit):
                    await request(conversation)
            else:
                await request(conversation)

    clock.run([worker() for _ in range(8)])
    return arrivals


def test_a_starved_sender_never_puts_more_than_50_a_second_into_the_tenants_window():
    chats = [f"a:{n}" for n in range(400)]
    arrivals = starved_run(checked_at_sending=True, conversations=chats)
    assert len(arrivals["tenant"]) == 400
    assert most_in(arrivals["tenant"], 1.0) <= 50
    assert max(arrivals["tenant"]) < 400 / 50 * 1.25  # and not much slower than 50 a second
    # The same run counted only when the limiter said yes goes over: the test can tell.
    assert most_in(starved_run(checked_at_sending=False, conversations=chats)["tenant"], 1.0) > 50


def test_a_starved_sender_keeps_each_chat_within_7_a_second_8_in_two_and_60_in_thirty():
    chats = [f"a:{n % 3}" for n in range(210)] + [f"a:{n}" for n in range(3, 200)]
    arrivals = starved_run(checked_at_sending=True, conversations=chats)
    for chat in ("a:0", "a:1", "a:2"):
        assert len(arrivals[chat]) == 70
        assert most_in(arrivals[chat], 1.0) <= 7
        assert most_in(arrivals[chat], 2.0) <= 8
        assert most_in(arrivals[chat], 30.0) <= 60
    assert most_in(arrivals["tenant"], 1.0) <= 50
    unchecked = starved_run(checked_at_sending=False, conversations=chats)
    assert any(most_in(unchecked[chat], 2.0) > 8 for chat in ("a:0", "a:1", "a:2"))


def test_sends_whose_slots_slipped_go_a_gap_apart_rather_than_together():
    clock = VirtualTime()
    limiter = RateLimiter([(50, 1.0)], [(7, 1.0)], clock=clock, sleep=clock.sleep, margin=1.0)
    went: list[float] = []

    async def two_sends() -> None:
        first = await limiter.acquire("tenant", "a:1")
        second = await limiter.acquire("tenant", "a:2")  # 20 ms later, on the timetable
        clock.starve(0.1)  # both held up: they reach the network together

        async def send(permit) -> None:
            async with limiter.sending(permit):
                went.append(clock.now)

        await asyncio.gather(send(first), send(second))

    clock.run([two_sends()])
    assert went == pytest.approx([0.12, 0.14])


def test_a_send_waits_while_its_chats_window_is_full_of_messages_not_yet_answered():
    clock = VirtualTime()
    limiter = RateLimiter([(50, 1.0)], [(2, 1.0)], clock=clock, sleep=clock.sleep, margin=1.0)
    went: list[float] = []

    async def send(slow: float) -> None:
        permit = await limiter.acquire("tenant", "a:1")
        async with limiter.sending(permit):
            went.append(clock.now)
            await clock.sleep(slow)  # the answer takes this long to come back

    clock.run([send(3.0), send(3.0), send(0.0)])
    # The third fits only a second after the first two were answered (they might have
    # arrived at any moment until then), not a second after they were let through.
    assert went[:2] == pytest.approx([0.0, 0.02])
    assert went[2] >= 4.0
