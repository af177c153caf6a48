"""Production mode for real: worker processes (`chatshop run`) sharing one PostgreSQL and one
Redis, both bots on webhooks, the fake Bot API server in the test process.

Each worker listens on a port of its own here, so the test decides which worker gets each
update (the fake delivers to the URL the bot's webhook points at when it delivers)."""

from __future__ import annotations

import asyncio
import os
import re
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from shop.bootstrap import Shop
from shop.catalog.models import Variant
from shop.demo.loader import load_demo
from shop.orders.models import Order
from tests.conftest import Database
from tests.fakes.telegram_server import FakeTelegram
from tests.fakes.telegram_users import TelegramUser
from tests.support.admin import ADMIN_TOKEN, MANAGER_ID, OWNER_ID, paid_order
from tests.support.postgres import free_port
from tests.support.redis import RedisServer
from tests.support.shop import Clock, make_shop
from tests.support.telegram import CUSTOMER_TOKEN
from tests.support.waiting import eventually
from tests.support.webhooks import webhook_settings
from tests.test_telegram_journeys import checkout_with_test_provider
from tests.test_workers import Process, chatshop_run, child_env

pytestmark = [pytest.mark.slow,
              pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)]
LEASE_S = 3  # EVENT_LEASE_SECONDS: how soon a dead worker's events are taken over


class Worker:
    """One `chatshop run` process on a port of its own."""

    def __init__(self, number: int, port: int, process: Process) -> None:
        self.number, self.port, self.process = number, port, process

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def handled(self) -> set[int]:
        return set(self.process.handled())


class Cluster:
    """Workers started on demand against one fake server, database and Redis."""

    def __init__(self, server: FakeTelegram, database: Database, redis_url: str,
                 tmp_path: Path, stack: AsyncExitStack) -> None:
        self.server, self.database, self.redis_url = server, database, redis_url
        self.tmp_path, self.stack = tmp_path, stack
        self.workers: list[Worker] = []

    async def start(self) -> Worker:
        number, port = len(self.workers) + 1, free_port()
        settings = webhook_settings(self.server, port, redis_url=self.redis_url,
                                    event_lease_seconds=LEASE_S)
        env = child_env({**settings, "database_url": self.database.url,
                         "chatshop_worker": number})
        process = await self.stack.enter_async_context(
            chatshop_run(env, self.tmp_path, "--worker"))
        worker = Worker(number, port, process)
        self.workers.append(worker)
        await self.server.wait_for(lambda: process.process.returncode is not None or all(
            self._webhook_of(token) == f"{worker.base_url}/telegram/{name}"
            for token, name in ((CUSTOMER_TOKEN, "customer"), (ADMIN_TOKEN, "staff"))),
            60, what=f"worker {number} listening", describe=lambda: process.log[-3000:])
        assert process.process.returncode is None, process.log[-3000:]
        return worker

    def _webhook_of(self, token: str) -> str:
        return str(self.server.bot(token).webhook.get("url", ""))

    def route(self, worker: Worker) -> None:
        """Deliver the next updates of both bots to this worker."""
        for token, name in ((CUSTOMER_TOKEN, "customer"), (ADMIN_TOKEN, "staff")):
            self.server.bot(token).webhook["url"] = f"{worker.base_url}/telegram/{name}"

    def log(self) -> str:
        return "\n".join(f"--- worker {w.number}\n{w.process.log[-2500:]}" for w in self.workers)


@asynccontextmanager
async def cluster(database: Database, redis_url: str, tmp_path: Path
                  ) -> AsyncIterator[tuple[Cluster, Shop]]:
    async with FakeTelegram(allow_http_webhooks=True) as server, AsyncExitStack() as stack:
        server.add_bot(CUSTOMER_TOKEN, "chatshop_test_bot")
        server.add_bot(ADMIN_TOKEN, "chatshop_staff_bot")
        for staff_id, name in ((OWNER_ID, "Olga"), (MANAGER_ID, "Maria")):
            server.user(staff_id, name, bot=ADMIN_TOKEN)  # they have opened the staff bot
        # The test's own view of the shop: the same database, no relay of its own running.
        shop = make_shop(database, Clock(), staff_ids=webhook_settings(server, 1)["staff_ids"])
        await load_demo(shop)
        yield Cluster(server, database, redis_url, tmp_path, stack), shop
        # The exit stack kills the workers still running.


class Alternating:
    """A customer whose every action goes to the next worker in turn."""

    def __init__(self, user: TelegramUser, cluster: Cluster) -> None:
        self.user, self.cluster, self.turn = user, cluster, 0

    def _next(self) -> None:
        workers = self.cluster.workers
        self.cluster.route(workers[self.turn % len(workers)])
        self.turn += 1

    async def send(self, *args: Any, **kwargs: Any) -> Any:
        self._next()
        return await self.user.send(*args, timeout=20, **kwargs)

    async def press(self, *args: Any, **kwargs: Any) -> Any:
        self._next()
        return await self.user.press(*args, timeout=20, **kwargs)


def alerts_about(server: FakeTelegram, chat_id: int, number: int) -> list[str]:
    return [m.body for m in server.chat(chat_id, bot=ADMIN_TOKEN)
            if f"New paid order #{number}" in m.body]


async def test_two_workers_share_carts_orders_and_alerts(
        database: Database, redis_url: str, tmp_path: Path) -> None:
    async with cluster(database, redis_url, tmp_path) as (nodes, shop):
        first, second = await nodes.start(), await nodes.start()
        server = nodes.server
        customers = [server.user(6101, "Ada", bot=CUSTOMER_TOKEN),
                     server.user(6102, "Bob", bot=CUSTOMER_TOKEN)]
        stock_before = await _stock(database, "TEE-CLS-BLK-M")

        # Both customers shop at once, each update of each going to the other worker than
        # the one before: the conversation state, the cart and the order are shared.
        pay_steps = await asyncio.gather(*(
            checkout_with_test_provider(Alternating(c, nodes))  # type: ignore[arg-type]
            for c in customers))
        for customer, step in zip(customers, pay_steps, strict=True):
            assert "Order #" in step.text, customer.describe() + nodes.log()
        nodes.route(first)
        for customer in customers:
            paid = await customer.press(re.compile("^💳"), timeout=20)
            assert "is paid" in paid.text, customer.describe()

        assert first.handled() and second.handled(), nodes.log()
        assert not first.handled() & second.handled()  # an update handled by one worker only
        async with database.sessions() as session:
            orders = (await session.scalars(select(Order).order_by(Order.number))).all()
        assert [(o.number, o.status) for o in orders] == [(1001, "paid"), (1002, "paid")]
        assert await _stock(database, "TEE-CLS-BLK-M") == stock_before - 2
        for customer in customers:  # each cart was emptied by its order, once
            info = await shop.customers.get_or_create("telegram", str(customer.id))
            assert (await shop.carts.view(info.id)).is_empty

        # One alert per order per staff member, though both workers run the alert consumer.
        for number in (1001, 1002):
            for staff in (OWNER_ID, MANAGER_ID):
                await server.wait_for(lambda n=number, s=staff: alerts_about(server, s, n), 20,
                                      what=f"alert of #{number} for {staff}",
                                      describe=nodes.log)
        assert await _never(server, lambda: any(
            len(alerts_about(server, staff, number)) > 1
            for number in (1001, 1002) for staff in (OWNER_ID, MANAGER_ID)))


async def test_a_worker_killed_during_an_alert_leaves_it_to_another(
        database: Database, redis_url: str, tmp_path: Path) -> None:
    async with cluster(database, redis_url, tmp_path) as (nodes, shop):
        server = nodes.server
        doomed = await nodes.start()
        held = server.hold("sendMessage", bot=ADMIN_TOKEN)
        order = await paid_order(shop, "6201", {"TEE-CLS-BLK-M": 1})

        # The worker took the event and is in the middle of telling staff: kill it there.
        await asyncio.wait_for(held.arrived.wait(), 30)
        os.kill(doomed.process.process.pid, signal.SIGKILL)
        await asyncio.wait_for(doomed.process.process.wait(), 10)
        held.release()
        await eventually(_now(lambda: held.dropped == held.waiting), within=10)
        assert not alerts_about(server, OWNER_ID, order.number)

        # Another worker takes the abandoned entry over once its lease has run out.
        await nodes.start()
        for staff in (OWNER_ID, MANAGER_ID):
            await server.wait_for(lambda s=staff: alerts_about(server, s, order.number),
                                  LEASE_S + 30, what=f"the alert for {staff}",
                                  describe=nodes.log)
        assert await _never(server, lambda: any(
            len(alerts_about(server, staff, order.number)) > 1
            for staff in (OWNER_ID, MANAGER_ID)))


async def test_a_worker_killed_while_handling_an_update_leaves_it_to_another(
        database: Database, redis_url: str, tmp_path: Path) -> None:
    async with cluster(database, redis_url, tmp_path) as (nodes, _):
        server = nodes.server
        doomed = await nodes.start()
        customer = server.user(6401, "Ida", bot=CUSTOMER_TOKEN)
        held = server.hold("sendMessage", bot=CUSTOMER_TOKEN)
        answered = asyncio.create_task(customer.send("/start", timeout=120))

        # The worker is in the middle of answering /start: kill it there. Telegram never got
        # the webhook's answer, so the update stays queued and is delivered again.
        await asyncio.wait_for(held.arrived.wait(), 30)
        os.kill(doomed.process.process.pid, signal.SIGKILL)
        await asyncio.wait_for(doomed.process.process.wait(), 10)
        held.release()
        await eventually(_now(lambda: held.dropped == held.waiting), within=10)
        assert not customer.messages() and not answered.done()

        # The next worker handles it once the dead worker's claims on the update and on the
        # customer's chat (the conversation lock) have run out: within the lease, not a
        # minute.
        survivor = await nodes.start()
        reply = await asyncio.wait_for(answered, LEASE_S + 15)
        assert "Welcome to" in reply.text, customer.describe() + nodes.log()
        assert list(survivor.handled()) == [reply.update_id]
        assert await _never(server, lambda: len(customer.messages()) > 1), customer.describe()


async def test_workers_recover_when_redis_restarts_empty(
        database: Database, redis_server: RedisServer, redis_url: str, tmp_path: Path) -> None:
    async with cluster(database, redis_url, tmp_path) as (nodes, shop):
        server = nodes.server
        workers = [await nodes.start(), await nodes.start()]
        before = await paid_order(shop, "6301", {"TEE-CLS-BLK-M": 1})
        await server.wait_for(lambda: alerts_about(server, MANAGER_ID, before.number), 20,
                              describe=nodes.log)

        redis_server.restart()  # an empty Redis on the same port

        # Both workers say they are healthy again, serve customers, and alert staff once.
        async with aiohttp.ClientSession() as http:
            for worker in workers:
                await eventually(lambda w=worker: _healthy(http, w), within=30)
        for worker in workers:
            nodes.route(worker)
            shopper = server.user(6310 + worker.number, "Eve", bot=CUSTOMER_TOKEN)
            assert "Welcome to" in (await shopper.send("/start", timeout=20)).text
        after = await paid_order(shop, "6302", {"TEE-CLS-BLK-M": 1})
        for number in (before.number, after.number):
            await server.wait_for(lambda n=number: alerts_about(server, MANAGER_ID, n), 30,
                                  what=f"the alert of #{number}", describe=nodes.log)
        assert await _never(server, lambda: any(
            len(alerts_about(server, MANAGER_ID, number)) > 1
            for number in (before.number, after.number))), nodes.log()


async def _healthy(http: aiohttp.ClientSession, worker: Worker) -> bool:
    async with http.get(f"{worker.base_url}/healthz") as response:
        body = await response.json()
        return response.status == 200 and body.get("redis") == "ok"


async def _stock(database: Database, sku: str) -> int:
    async with database.sessions() as session:
        return int(await session.scalar(select(func.sum(Variant.stock))
                                        .where(Variant.sku == sku)) or 0)


async def _never(server: FakeTelegram, happens: Callable[[], bool],
                 seconds: float = 2.0) -> bool:
    """True when `happens()` stays false for `seconds` (a doubled alert would show by then)."""
    return not await server.wait_until(happens, seconds)


def _now(check: Callable[[], bool]) -> Callable[[], Any]:
    async def condition() -> bool:
        return check()
    return condition
