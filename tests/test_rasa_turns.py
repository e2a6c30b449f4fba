"""The gateway's limit of messages inside Rasa at once (``HOTLINE_RASA_MAX_INFLIGHT``):
never more than the limit at Rasa, the rest served in arrival order, none lost; a message
that gets no turn within the timeout is told apart from one Rasa took and did not answer."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from bot.metrics import RASA_WAIT
from bot.rasa_client import RasaClient, RasaUnavailable


class SlowRasa:
    """A REST webhook that holds each message ``delay`` seconds and notes how many it held."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.inside = 0
        self.most = 0
        self.arrived: list[str] = []

    async def webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.arrived.append(body["message"])
        self.inside += 1
        self.most = max(self.most, self.inside)
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.inside -= 1
        return web.json_response([{"recipient_id": body["sender"], "text": "答:" + body["message"]}])


async def _serve(rasa: SlowRasa) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_post("/webhooks/rest/webhook", rasa.webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


def _waits() -> float:
    return next(s.value for m in RASA_WAIT.collect() for s in m.samples
                if s.name.endswith("_count"))


@pytest.mark.parametrize("limit, expected_most", [(3, 3), (0, 12)])
def test_at_most_the_limit_inside_rasa_in_arrival_order(limit: int, expected_most: int) -> None:
    async def scenario() -> None:
        rasa = SlowRasa(0.05)
        runner, url = await _serve(rasa)
        client = RasaClient(url, 5, max_inflight=limit)
        waits = _waits()
        try:
            sends = []
            for i in range(12):
                sends.append(asyncio.create_task(client.send(f"web:c{i}", f"问题{i}")))
                await asyncio.sleep(0)  # each one queued before the next is sent
            answers = await asyncio.gather(*sends)
        finally:
            await client.aclose()
            await runner.cleanup()
        assert [a[0].text for a in answers] == [f"答:问题{i}" for i in range(12)]
        assert rasa.most == expected_most
        if limit:
            assert rasa.arrived == [f"问题{i}" for i in range(12)]  # first come, first served
            assert _waits() - waits == 12
        else:
            assert _waits() == waits  # no limit: nothing queued, nothing observed

    asyncio.run(scenario())


def test_no_turn_within_the_timeout_is_not_a_rasa_timeout() -> None:
    async def scenario() -> None:
        rasa = SlowRasa(0.7)
        runner, url = await _serve(rasa)
        client = RasaClient(url, 1.0, max_inflight=1)
        try:
            first = asyncio.create_task(client.send("web:a", "一"))
            second = asyncio.create_task(client.send("web:b", "二"))  # its turn at 0.7 s
            await asyncio.sleep(0.05)
            with pytest.raises(RasaUnavailable) as queued:  # its turn not before 1.4 s
                await client.send("web:c", "三")
            answers = await asyncio.gather(first, second)
        finally:
            await client.aclose()
            await runner.cleanup()
        assert [a[0].text for a in answers] == ["答:一", "答:二"]  # each had its full timeout
        assert rasa.arrived == ["一", "二"]  # the third never reached Rasa …
        assert not queued.value.timed_out  # … so nothing may be acting on it

    asyncio.run(scenario())
