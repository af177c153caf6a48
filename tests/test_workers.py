"""`chatshop run --workers N`: the option's checks, the supervisor (restarts, giving up,
stopping), and two real worker processes serving both bots' webhooks on one port."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.handlers.webhook import bot_secret as derive_secret
from shop.cli import cli
from shop.cli.workers import Supervisor
from shop.demo.loader import load_demo
from tests.conftest import Database
from tests.fakes.telegram_server import FakeTelegram
from tests.support.admin import ADMIN_TOKEN, MANAGER_ID
from tests.support.postgres import free_port
from tests.support.shop import Clock, make_shop
from tests.support.telegram import CUSTOMER_TOKEN
from tests.support.waiting import eventually
from tests.support.webhooks import WEBHOOK_SECRET, post, start_update, webhook_settings

HANDLED = re.compile(r"aiogram\.event: Update id=(?P<update>\d+) is handled.*"
                     r"\[worker=(?P<worker>\d) pid=(?P<pid>\d+)")
STARTED = re.compile(r"worker (\d) started \(pid (\d+)\)")


# -- the option's checks ----------------------------------------------------------------------
@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/shop.db")
    for name in ("WEBHOOK_BASE_URL", "WEBHOOK_SECRET", "REDIS_URL", "BOT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return CliRunner()


def test_several_workers_need_webhooks_and_redis(cli_env: CliRunner,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    result = cli_env.invoke(cli, ["run", "--workers", "2"])
    assert result.exit_code == 2
    assert "--workers 2 needs webhook mode (set WEBHOOK_BASE_URL)" in result.output
    monkeypatch.setenv("WEBHOOK_BASE_URL", "https://shop.example")
    result = cli_env.invoke(cli, ["run", "--workers", "2"])
    assert result.exit_code == 1 and "WEBHOOK_SECRET: is required" in result.output
    monkeypatch.setenv("WEBHOOK_SECRET", "s3cret")
    result = cli_env.invoke(cli, ["run", "--workers", "3"])
    assert result.exit_code == 2 and "--workers 3 needs REDIS_URL" in result.output
    result = cli_env.invoke(cli, ["run", "--workers", "0"])
    assert result.exit_code == 2 and "0 is not in the range" in result.output


def test_a_port_in_use_is_said_plainly(cli_env: CliRunner, monkeypatch: pytest.MonkeyPatch
                                       ) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setenv("WEBHOOK_BASE_URL", "https://shop.example")
        monkeypatch.setenv("WEBHOOK_SECRET", "s3cret")
        monkeypatch.setenv("HTTP_PORT", str(port))
        result = cli_env.invoke(cli, ["run"])
    assert result.exit_code == 1, result.output
    assert f"cannot listen on 127.0.0.1:{port} (HTTP_HOST, HTTP_PORT)" in result.output


# -- the supervisor ---------------------------------------------------------------------------
async def test_a_worker_that_keeps_failing_at_start_is_given_up() -> None:
    supervisor = Supervisor([sys.executable, "-c", "raise SystemExit(3)"], 2,
                            restart_delays=(0.01, 0.02), max_start_failures=3)
    assert await asyncio.wait_for(supervisor.run(), 30) == 1


WORKER_SCRIPT = """
import os, pathlib, signal, sys, time
here = pathlib.Path(sys.argv[1])
n = os.environ["CHATSHOP_WORKER"]
if not (here / f"crashed-{n}").exists():
    (here / f"crashed-{n}").touch()
    sys.exit(1)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
(here / f"ready-{n}-{os.getpid()}").touch()
while True:
    time.sleep(1)
"""


async def test_a_crashed_worker_is_restarted_and_the_stop_is_forwarded(tmp_path: Path) -> None:
    supervisor = Supervisor([sys.executable, "-c", WORKER_SCRIPT, str(tmp_path)], 2,
                            restart_delays=(0.05,))
    running = asyncio.create_task(supervisor.run())

    await eventually(_async(lambda: len(_names(tmp_path, "ready-*")) == 2), within=30)
    assert _names(tmp_path, "crashed-*") == ["crashed-1", "crashed-2"]
    supervisor.stop(signal.SIGTERM)
    assert await asyncio.wait_for(running, 30) == 0


# -- two real workers -------------------------------------------------------------------------
class Process:
    """`chatshop run --workers 2` as a child process, its stderr collected line by line."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.process.stderr is not None
        async for line in self.process.stderr:
            self.lines.append(line.decode(errors="replace").rstrip())

    @property
    def log(self) -> str:
        return "\n".join(self.lines)

    def handled(self) -> dict[int, int]:
        """update_id → pid of the worker that handled it."""
        return {int(m["update"]): int(m["pid"]) for m in map(HANDLED.search, self.lines) if m}

    def started(self) -> list[tuple[int, int]]:
        """(worker number, pid) of every start, in order."""
        return [(int(m[1]), int(m[2])) for m in map(STARTED.search, self.lines) if m]

    async def finish(self, within: float) -> int:
        code = await asyncio.wait_for(self.process.wait(), within)
        await self._reader
        return code


@asynccontextmanager
async def chatshop_run(env: dict[str, str], cwd: Path, *args: str) -> AsyncIterator[Process]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "shop.cli", "run", *args, env=env, cwd=cwd,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    running = Process(process)
    try:
        yield running
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def child_env(settings: dict[str, object]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WHATSAPP_", "STRIPE_"))}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    env.update({name.upper(): str(value) for name, value in settings.items()})
    return env


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # what several workers use
async def test_two_workers_serve_both_bots_and_stop_gracefully(
        database: Database, redis_url: str, tmp_path: Path) -> None:
    async with FakeTelegram(allow_http_webhooks=True) as server:
        server.add_bot(CUSTOMER_TOKEN, "chatshop_test_bot")
        server.add_bot(ADMIN_TOKEN, "chatshop_staff_bot")
        port = free_port()
        settings = webhook_settings(server, port, redis_url=redis_url)
        shop = make_shop(database, Clock(), **settings)
        await load_demo(shop)
        env = child_env({**settings, "database_url": database.url})
        async with chatshop_run(env, tmp_path, "--workers", "2") as run:

            def webhook_calls(at_least: int) -> bool:
                return run.process.returncode is not None or all(
                    len(server.calls("setWebhook", bot=token, ok=True)) >= at_least
                    for token in (CUSTOMER_TOKEN, ADMIN_TOKEN))

            # Each worker sets both webhooks once it listens.
            await server.wait_for(lambda: webhook_calls(2), 60, what="two workers listening",
                                  describe=lambda: run.log[-3000:])
            assert run.process.returncode is None, run.log
            url = f"http://127.0.0.1:{port}/telegram/customer"
            secret = bot_secret("customer")

            # Customers on connections of their own, until both workers took some: the kernel
            # spreads connections by a hash, so this ends in a few rounds.
            customers = []
            for round_ in range(10):
                batch = [server.user(5000 + 4 * round_ + i, f"C{round_}{i}", bot=CUSTOMER_TOKEN)
                         for i in range(4)]
                customers += batch
                statuses = await asyncio.gather(*(
                    post(url, start_update(server, c.id, 80_000 + c.id), secret)
                    for c in batch))
                assert statuses == [200] * 4
                await server.wait_for(lambda b=batch: all("Welcome to" in c.text() for c in b),
                                      30, what="every customer of the round has the menu")
                await eventually(_async(lambda b=batch: all(
                    80_000 + c.id in run.handled() for c in b)), within=10)
                if len(set(run.handled().values())) == 2:
                    break
            assert len(set(run.handled().values())) == 2, run.handled()
            # Through the fake's own webhook delivery too, for both bots.
            alice = server.user(4501, "Alice", bot=CUSTOMER_TOKEN)
            assert "Welcome to" in (await alice.send("/start", timeout=20)).text
            manager = server.user(MANAGER_ID, "Maria", bot=ADMIN_TOKEN)
            assert (await manager.send("/start", timeout=20)).messages

            # A worker killed outright is started again.
            (first, pid), *_ = run.started()
            os.kill(pid, signal.SIGKILL)
            await server.wait_for(lambda: webhook_calls(3), 60, what="the worker restarted",
                                  describe=lambda: run.log[-3000:])
            assert [n for n, _ in run.started()].count(first) == 2

            # An update still in hand at SIGTERM (waiting out a 429) gets its answer.
            late = server.user(4502, "Late", bot=CUSTOMER_TOKEN)
            server.fail_next("sendMessage", 429, "Too Many Requests: retry after 2",
                             retry_after=2, bot=CUSTOMER_TOKEN, chat_id=late.id)
            assert await post(url, start_update(server, late.id, 90_001), secret) == 200
            await server.wait_for(lambda: server.calls("sendMessage", chat_id=late.id),
                                  20, what="the update in hand")
            run.process.send_signal(signal.SIGTERM)
            assert await run.finish(60) == 0, run.log[-3000:]
            assert "Welcome to" in late.text(), run.log[-3000:]
        assert not server.calls("deleteWebhook")
        assert not server.calls("getUpdates")
        for secret_value in (WEBHOOK_SECRET, secret, bot_secret("staff")):
            assert secret_value not in run.log



def bot_secret(name: str) -> str:
    return derive_secret(WEBHOOK_SECRET, name)


def _async(check: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def condition() -> bool:
        return check()
    return condition


def _names(directory: Path, pattern: str) -> list[str]:
    return sorted(p.name for p in directory.glob(pattern))
