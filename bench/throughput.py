"""Updates a second one worker handles, against a bare aiogram echo bot, over real HTTP.

    python bench/throughput.py [--customers 200] [--updates 3000] [--rate 100] [--duration 20]
                               [--max-connections 40] [--redis-url URL|auto] [--postgres]
                               [--row-echo] [--profile-worker FILE] [--rounds 1]

One worker process, ``chatshop run`` in webhook mode on a throwaway SQLite database holding the
demo catalog (no staff bot, no Redis unless ``--redis-url``), talks to the fake Bot API server
(tests/fakes) in this process over loopback, flood limits off. This process plays Telegram: it
reads the webhook URL and secret from the worker's ``setWebhook`` and POSTs the updates of
``--customers`` simulated customers itself, at most ``--max-connections`` at a time (Telegram's
``max_connections``), each customer waiting for the answer to its update before sending the
next, as a person does. Each runs a script with the keyboards the bot really sent: /start, a
search with a typo, a product from the results, its options until "Add to cart", the cart
(/cart or the Cart button); and again. A missing button is an error and that customer starts
over. An update is answered when the webhook request has returned and the bot has shown a
screen (sent or edited a message) and, for a button, answered the callback query.

Two measurements per bot, after a warm-up (excluded):
  1. max throughput: ``--updates`` updates as fast as the customers go (closed loop);
  2. paced: updates at ``--rate`` a second for ``--duration`` s whatever the answers (open
     loop); latency is from the moment an update is due to the fake server receiving the
     bot's first answering call (sendMessage, sendPhoto, editMessage*, answerCallbackQuery).
Then the same load against ``bench/echo_bot.py`` (aiogram's SimpleRequestHandler, an echo for
messages, answer + sendMessage for presses, each a request of its own; like the worker, it
answers the webhook once the update was handled), in its own process, in the same run. The echo bot
sends no keyboards, so its customers press a fixed set of callback data in the same order.
With ``--row-echo``, a third bot in the same run: the echo reading and writing one SQLite row
per update (``echo_bot.py --database-url``), the least any database-backed bot does; the JSON
line then adds row_echo_updates_per_s, row_echo_cpu_ms_per_update and ratio_to_row_echo.
With ``--rounds N``, the worker and the echo are measured N times, alternating, each round on
a fresh database (and Redis database): one round's ratio moves by several percent with this
machine's noise, mostly the echo's own. The figures reported are those of the round with the
median ratio; the JSON line adds rounds and round_ratios.
This process does no cyclic garbage collection while it measures (its own pauses would be
counted as the bot's latency); it collects between measurements.

Prints readable lines, then one JSON line (DESIGN.md section 4): customers, updates,
updates_per_s, echo_updates_per_s, ratio, p50_ms, p95_ms, p99_ms (the max-throughput run) and,
for the paced run, rate_per_s, p50_ms_at_rate, p95_ms_at_rate, p99_ms_at_rate; errors.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from yarl import URL  # noqa: E402

from shop.settings import Settings  # noqa: E402
from tests.fakes.telegram_model import ApiCall, BotAccount, ChatMessage, PendingQuery  # noqa: E402
from tests.fakes.telegram_server import FakeTelegram  # noqa: E402
from tests.fakes.telegram_webhook import read_webhook_reply  # noqa: E402

TOKEN = "123456:AAE-bench-token"
FIRST_CUSTOMER = 700_000
# Typed searches with a typo, each finding at least one product in the demo catalog.
QUERIES = ("t-shrit", "tee shrit", "cofee", "mugg", "backpak", "scraf", "notebok",
           "linen shrit")
ANSWERS = frozenset({"sendmessage", "sendphoto", "editmessagetext", "editmessagecaption",
                     "editmessagemedia", "editmessagereplymarkup", "answercallbackquery"})
MAX_OPTION_PRESSES = 6
# The echo bot shows no buttons: its customers press these, in the shop script's order.
ECHO_DATA = {"product": "prod:29", "option": "prod:29:1:0:0:1", "add": "add:109:1",
             "cart": "cart"}
CLK_TCK = os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# -- the processes under test ---------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def clean_env() -> dict[str, str]:
    """This environment without any Chatshop setting (a developer's BOT_TOKEN, REDIS_URL…)."""
    names = {name.upper() for name in Settings.model_fields}
    env = {k: v for k, v in os.environ.items() if k.upper() not in names}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


class Server:
    """A bot process serving its webhook; stopped with SIGTERM (killed if it hangs)."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], workdir: Path) -> None:
        self.name = name
        self.log_path = workdir / f"{name}.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(argv, env=env, cwd=workdir, stdout=log,
                                            stderr=subprocess.STDOUT)

    def alive(self) -> bool:
        return self.process.poll() is None

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process so far (Linux /proc)."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def prepare_database(workdir: Path, url: str | None = None) -> str:
    """A database (SQLite unless `url`) with the demo catalog, loaded as `chatshop demo`
    does."""
    url = url or f"sqlite+aiosqlite:///{workdir / 'shop.db'}"
    subprocess.run([sys.executable, "-m", "shop.cli", "demo", "--no-chat"],
                   env={**clean_env(), "DATABASE_URL": url}, cwd=workdir, check=True,
                   stdout=subprocess.DEVNULL)
    return url


def start_worker(api_base: str, workdir: Path, database_url: str, redis_url: str | None,
                 profile: Path | None) -> Server:
    port = free_port()
    env = {**clean_env(), "DATABASE_URL": database_url, "BOT_TOKEN": TOKEN,
           "TELEGRAM_API_BASE": api_base, "WEBHOOK_BASE_URL": f"http://127.0.0.1:{port}",
           "WEBHOOK_SECRET": secrets.token_urlsafe(24), "HTTP_HOST": "127.0.0.1",
           "HTTP_PORT": str(port)}
    if redis_url:
        env["REDIS_URL"] = redis_url
    argv = [sys.executable]
    if profile is not None:
        argv += ["-m", "cProfile", "-o", str(profile)]
    return Server("worker", [*argv, "-m", "shop.cli", "run"], env, workdir)


def start_echo(api_base: str, workdir: Path, database_url: str | None = None) -> Server:
    """The echo bot, answering each webhook once the update was handled, as the worker does
    (bot/handlers/webhook.py); with `database_url`, reading and writing a row per update."""
    port = free_port()
    argv = [sys.executable, str(ROOT / "bench" / "echo_bot.py"), "--api-base", api_base,
            "--token", TOKEN, "--base-url", f"http://127.0.0.1:{port}",
            f"--secret={secrets.token_urlsafe(24)}", "--port", str(port)]
    if database_url is not None:
        argv.append(f"--database-url={database_url}")
    return Server("echo", argv, clean_env(), workdir)


# -- the load -------------------------------------------------------------------------------
@dataclass
class Customer:
    uid: int
    index: int
    step: str = "start"
    loops: int = 0
    product: str = ""
    option_presses: int = 0


@dataclass
class Pending:
    """One update on its way: what has come back for it so far."""

    customer: Customer
    query_id: str | None
    due: float
    first_answer: float | None = None
    screen: bool = False  # a message sent or edited in the chat (failed edits too)
    answered: bool = False  # the callback query answered
    returned: bool = False  # the webhook request returned
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def check(self) -> None:
        if self.returned and self.screen and (self.query_id is None or self.answered):
            self.done.set()


@dataclass
class Phase:
    """What one measurement saw."""

    name: str
    sent: int = 0
    answered: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    send_lag_ms: list[float] = field(default_factory=list)  # POST start − due (paced run)
    errors: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    returned_first: int = 0  # webhook answered before the bot's first call: background mode
    failed_calls: int = 0  # Bot API calls refused (e.g. "message is not modified")
    calls: Counter[str] = field(default_factory=Counter)  # every Bot API call, by method
    unsent: int = 0  # paced run: updates never sent (no idle customer before the deadline)
    seconds: float = 0.0
    bench_cpu_s: float = 0.0
    bot_cpu_s: float = 0.0

    @property
    def per_s(self) -> float:
        return self.answered / self.seconds if self.seconds else 0.0

    def ms(self, q: float) -> float:
        return round(percentile(self.latencies_ms, q), 2)


class Load:
    """Simulated customers POSTing updates to one bot's webhook."""

    def __init__(self, tg: FakeTelegram, account: BotAccount, url: str, secret: str | None,
                 customers: int, *, echo: bool, max_connections: int, timeout: float,
                 seed: int = 7) -> None:
        self.tg, self.account, self.url, self.echo = tg, account, url, echo
        self.headers = {"Content-Type": "application/json"}
        if secret:
            self.headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        self.timeout = timeout
        self.rng = random.Random(seed)
        self.customers = [Customer(FIRST_CUSTOMER + i, i) for i in range(customers)]
        for customer in self.customers:
            tg.user(customer.uid, f"Customer{customer.index}", bot=account)
        self.by_chat: dict[int, Pending] = {}
        self.by_query: dict[str, Pending] = {}
        self.slots = asyncio.Semaphore(max_connections)
        self.http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=max_connections),
            timeout=aiohttp.ClientTimeout(total=timeout))
        self.update_ids = iter(range(1, 1 << 62))
        self.query_ids = iter(range(1, 1 << 62))
        self.phase = Phase("setup")
        self.stray = 0  # answering calls in a chat with no update waiting (late answers)
        tg.on_call = self.on_call

    async def close(self) -> None:
        self.tg.on_call = None
        await self.http.close()

    # The fake server calls this for every Bot API call the bot makes.
    def on_call(self, call: ApiCall) -> None:
        key = call.key
        self.phase.calls[f"{key} (in the webhook reply)" if call.webhook_reply else key] += 1
        if key not in ANSWERS:
            return
        now = time.perf_counter()
        if key == "answercallbackquery":
            pending = self.by_query.get(str(call.params.get("callback_query_id")))
        else:
            pending = self.by_chat.get(call.chat_id) if call.chat_id is not None else None
        if pending is None:
            self.stray += 1
            return
        if pending.first_answer is None:
            pending.first_answer = now
        if key == "answercallbackquery":
            pending.answered = True
        else:
            pending.screen = True
        if not call.ok:
            self.phase.failed_calls += 1
        pending.check()

    # -- what a customer does next ------------------------------------------------------------
    def keyboard_message(self, customer: Customer) -> ChatMessage | None:
        """The latest message of the bot in the chat (with a keyboard, except for the echo)."""
        for message in reversed(self.account.chat_messages(customer.uid).values()):
            if message.from_bot and not message.deleted and (self.echo or message.keyboard):
                return message
        return None

    def buttons(self, message: ChatMessage | None) -> list[str]:
        if message is None:
            return []
        return [b.callback_data for row in message.keyboard for b in row if b.callback_data]

    def next_action(self, customer: Customer) -> tuple[str, str, ChatMessage | None] | str:
        """("text", what to type, None) or ("press", callback data, the message pressed on);
        a string is an error (the button the script needs is not there)."""
        step = customer.step
        if step == "start":
            return "text", "/start", None
        if step == "search":
            return "text", QUERIES[(customer.index + customer.loops) % len(QUERIES)], None
        message = self.keyboard_message(customer)
        if message is None and step != "cart":
            return f"no message with buttons at {step}"
        data = self.buttons(message)
        if step == "product":
            if self.echo:
                return "press", ECHO_DATA["product"], message
            products = [d for d in data if re.fullmatch(r"prod:\d+", d)]
            if not products:
                return "no product in the search results"
            return "press", self.rng.choice(products), message
        if step == "options":
            if self.echo:
                key = "option" if customer.option_presses == 0 else "add"
                return "press", ECHO_DATA[key], message
            adds = [d for d in data if d.startswith("add:")]
            if adds:
                return "press", adds[0], message
            # Like a person, skip the choices marked sold out ("✗ M"); a sold-out combination
            # shows only "Change options" (back to the product's options).
            options = [b.callback_data for row in message.keyboard for b in row
                       if b.callback_data and not b.text.startswith("✗")
                       and b.callback_data.startswith(f"prod:{customer.product}:")
                       ] if message is not None else []
            options = options or [d for d in data if d == f"prod:{customer.product}"]
            if not options or customer.option_presses >= MAX_OPTION_PRESSES:
                return "no option or Add to cart button on the product"
            return "press", self.rng.choice(options), message
        # The cart: every other loop by the Cart button when the screen has one, else /cart.
        if customer.loops % 2 and message is not None and (self.echo or "cart" in data):
            return "press", ECHO_DATA["cart"], message
        return "text", "/cart", None

    def advance(self, customer: Customer, data: str) -> None:
        step = customer.step
        if step == "start":
            customer.step = "search"
        elif step == "search":
            customer.step = "product"
        elif step == "product":
            customer.product = data.split(":")[1]
            customer.step, customer.option_presses = "options", 0
        elif step == "options":
            if data.startswith("add:"):
                customer.step = "cart"
            else:
                customer.option_presses += 1
        else:
            customer.step, customer.loops = "start", customer.loops + 1

    def restart(self, customer: Customer, error: str) -> None:
        self.phase.errors[error] += 1
        customer.step, customer.loops = "start", customer.loops + 1

    # -- one update ---------------------------------------------------------------------------
    def make_update(self, customer: Customer, kind: str, value: str,
                    message: ChatMessage | None) -> tuple[bytes, str | None]:
        update_id = next(self.update_ids)
        if kind == "text":
            content: dict[str, Any] = {"text": value}
            if value.startswith("/"):
                content["entities"] = [{"type": "bot_command", "offset": 0,
                                        "length": len(value.split()[0])}]
            self.account.started.add(customer.uid)
            stored = self.tg.store_message(self.account, customer.uid, from_bot=False,
                                           content=content)
            return json.dumps({"update_id": update_id, "message": stored.raw}).encode(), None
        assert message is not None
        query_id = f"bench{next(self.query_ids)}"
        user = self.tg.users[customer.uid]
        payload = {"id": query_id, "from": user.as_user(), "message": message.raw,
                   "chat_instance": str(customer.uid), "data": value}
        self.account.queries[query_id] = PendingQuery("callback_query", query_id, customer.uid,
                                                      payload, self.tg.now())
        return json.dumps({"update_id": update_id, "callback_query": payload}).encode(), query_id

    async def step(self, customer: Customer, due: float | None = None) -> None:
        """Send the customer's next update and wait until it is answered."""
        phase = self.phase
        action = self.next_action(customer)
        if isinstance(action, str):
            self.restart(customer, action)
            action = self.next_action(customer)
            assert not isinstance(action, str)
        kind, value, message = action
        body, query_id = self.make_update(customer, kind, value, message)
        phase.sent += 1
        phase.kinds["message" if kind == "text" else "callback_query"] += 1
        pending = Pending(customer, query_id, due or 0.0)
        self.by_chat[customer.uid] = pending
        if query_id is not None:
            self.by_query[query_id] = pending
        try:
            async with self.slots:
                started = time.perf_counter()
                if due is None:
                    pending.due = started
                else:
                    phase.send_lag_ms.append((started - due) * 1000)
                error = await self.post(body)
            pending.returned = True
            if pending.first_answer is None:
                phase.returned_first += 1
            pending.check()
            if error is None:
                try:
                    await asyncio.wait_for(pending.done.wait(), self.timeout)
                except TimeoutError:
                    error = f"no answer within {self.timeout:g} s at {customer.step}"
        finally:
            if self.by_chat.get(customer.uid) is pending:
                del self.by_chat[customer.uid]
            if query_id is not None:
                self.by_query.pop(query_id, None)
                self.account.queries.pop(query_id, None)
        if error is not None:
            self.restart(customer, error)
            return
        assert pending.first_answer is not None
        phase.answered += 1
        phase.latencies_ms.append((pending.first_answer - pending.due) * 1000)
        self.advance(customer, value)

    async def post(self, body: bytes) -> str | None:
        """POST one update as Telegram does; run a method the bot returns in the response."""
        try:
            async with self.http.post(self.url, data=body, headers=self.headers) as resp:
                if resp.status >= 300:
                    return f"webhook answered HTTP {resp.status}"
                await self.run_reply(resp)
        except (aiohttp.ClientError, TimeoutError) as error:
            return f"webhook request failed: {type(error).__name__}"
        return None

    async def run_reply(self, resp: aiohttp.ClientResponse) -> None:
        reply = await read_webhook_reply(resp)
        if reply is not None and self.tg.knows(reply[0]):
            await self.tg.call(self.account, reply[0], reply[1], webhook_reply=True)

    # -- the measurements ---------------------------------------------------------------------
    async def measure(self, phase: Phase, bot: Server, work: Awaitable[None]) -> Phase:
        """Run ``work`` (a coroutine filling ``phase``), timing it."""
        self.phase = phase
        # This process plays Telegram and keeps every message: its heap grows through the run,
        # and a full collection of it took up to 340 ms, during which no call of the bot was
        # received. That pause is the bench's, not the bot's: no cyclic collection here while
        # measuring (reference counting still frees nearly everything), one between phases.
        gc.collect()
        gc.disable()
        try:
            cpu, bot_cpu, began = time.process_time(), bot.cpu_seconds(), time.perf_counter()
            await work
            phase.seconds = time.perf_counter() - began
            phase.bench_cpu_s = time.process_time() - cpu
            phase.bot_cpu_s = bot.cpu_seconds() - bot_cpu
        finally:
            gc.enable()
        return phase

    async def warm_up(self, phase: Phase) -> None:
        """Every customer starts (its first contact creates it in the shop) and goes 1 to 6
        steps into its script, so that customers are at different steps from then on."""
        async def customer_steps(customer: Customer) -> None:
            for _ in range(1 + customer.index % 6):
                await self.step(customer)

        await asyncio.gather(*(customer_steps(c) for c in self.customers))

    async def closed_loop(self, phase: Phase, updates: int) -> None:
        """Every customer sends, waits for the answer, sends again, until ``updates`` sent."""
        async def customer_loop(customer: Customer) -> None:
            while phase.sent < updates:
                await self.step(customer)

        await asyncio.gather(*(customer_loop(c) for c in self.customers))

    async def paced(self, phase: Phase, rate: float, duration: float) -> None:
        """An update every 1/rate s for ``duration`` s, each from an idle customer (one whose
        last update was answered); if none is idle the update waits, and counts as late."""
        idle: asyncio.Queue[Customer] = asyncio.Queue()
        for customer in self.rng.sample(self.customers, len(self.customers)):
            idle.put_nowait(customer)
        tasks: set[asyncio.Task[None]] = set()

        async def step_then_idle(customer: Customer, due: float) -> None:
            try:
                await self.step(customer, due)
            finally:
                idle.put_nowait(customer)

        total = round(rate * duration)
        began = time.perf_counter()
        give_up = began + duration + 10.0
        for index in range(total):
            due = began + index / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                customer = await asyncio.wait_for(idle.get(), give_up - time.perf_counter())
            except (TimeoutError, ValueError):
                phase.unsent = total - index
                break
            task = asyncio.create_task(step_then_idle(customer, due))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.gather(*tasks)


# -- one bot --------------------------------------------------------------------------------
@dataclass
class BotResult:
    name: str
    warmup: Phase
    closed: Phase
    paced: Phase
    background: bool
    stray: int


async def wait_for_webhook(tg: FakeTelegram, account: BotAccount, bot: Server,
                           within: float = 90.0) -> tuple[str, str | None]:
    """The URL and secret the bot registered with setWebhook, once its server accepts
    connections."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not account.webhook.get("url"):
        if not bot.alive():
            raise RuntimeError(f"{bot.name} exited ({bot.process.returncode}) before setting "
                               f"its webhook:\n{bot.log_tail()}")
        if loop.time() > deadline:
            raise RuntimeError(f"{bot.name} set no webhook within {within:g} s:\n"
                               f"{bot.log_tail()}")
        await tg.wait_until(lambda: bool(account.webhook.get("url")), 0.2)
    url = str(account.webhook["url"])
    host, port = URL(url).host, URL(url).port
    while True:  # setWebhook may come before the server listens (aiohttp's on_startup)
        try:
            _, writer = await asyncio.open_connection(host, port)
        except OSError:
            if not bot.alive() or loop.time() > deadline:
                raise RuntimeError(f"{bot.name} does not listen on {url}:\n"
                                   f"{bot.log_tail()}") from None
            await asyncio.sleep(0.05)
            continue
        writer.close()
        await writer.wait_closed()
        return url, account.webhook.get("secret_token")


async def bench_bot(name: str, start: Callable[[str], Server], args: argparse.Namespace
                    ) -> BotResult:
    echo = name.startswith("echo")
    async with FakeTelegram(callback_timeout=None) as tg:
        account = tg.add_bot(TOKEN, "chatshop_bench_bot")
        tg.no_flood_limits()  # we measure handling, not Telegram's limits
        bot = start(tg.base_url)
        load: Load | None = None
        try:
            url, secret = await wait_for_webhook(tg, account, bot)
            load = Load(tg, account, url, secret, args.customers, echo=echo,
                        max_connections=args.max_connections, timeout=args.timeout)
            warmup, closed = Phase("warm-up"), Phase("max throughput")
            paced = Phase(f"paced at {args.rate:g}/s")
            await load.measure(warmup, bot, load.warm_up(warmup))
            background = warmup.returned_first > warmup.sent // 2
            await load.measure(closed, bot, load.closed_loop(closed, args.updates))
            await load.measure(paced, bot, load.paced(paced, args.rate, args.duration))
            if not bot.alive():
                raise RuntimeError(f"{name} died during the run:\n{bot.log_tail()}")
            return BotResult(name, warmup, closed, paced, background, load.stray)
        finally:
            if load is not None:
                await load.close()
            bot.stop()


def run_round(args: argparse.Namespace, workdir: Path, database_url: str,
              redis_url: str | None) -> tuple[BotResult, BotResult, BotResult | None]:
    """The worker, then the echo (and the echo reading and writing a row), one after the
    other on the same load."""
    profile = args.profile_worker.resolve() if args.profile_worker else None
    shop = asyncio.run(bench_bot(
        "chatshop", lambda api: start_worker(api, workdir, database_url, redis_url, profile),
        args))
    echo = asyncio.run(bench_bot("echo", lambda api: start_echo(api, workdir), args))
    row_url = f"sqlite+aiosqlite:///{workdir / 'echo-rows.db'}"
    row_echo = asyncio.run(bench_bot(
        "echo+row", lambda api: start_echo(api, workdir, row_url), args)
    ) if args.row_echo else None
    return shop, echo, row_echo


def _ratio(shop: BotResult, echo: BotResult) -> float:
    return shop.closed.per_s / echo.closed.per_s if echo.closed.per_s else 0.0


# -- the report -----------------------------------------------------------------------------
def describe(label: str, phase: Phase) -> str:
    lines = [f"  {label}, {phase.name}: {phase.answered} of {phase.sent} updates answered in "
             f"{phase.seconds:.1f} s = {phase.per_s:.1f} updates/s; latency p50 "
             f"{phase.ms(0.5):.1f} ms, p95 {phase.ms(0.95):.1f} ms, p99 {phase.ms(0.99):.1f} ms, "
             f"max {phase.ms(1.0):.1f} ms"]
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(phase.kinds.items()))
    cpu_bot = 1000 * phase.bot_cpu_s / phase.answered if phase.answered else 0.0
    lines.append(f"    {kinds}; bot CPU {cpu_bot:.2f} ms per update "
                 f"({phase.bot_cpu_s / phase.seconds:.0%} of a core), this process "
                 f"{phase.bench_cpu_s / phase.seconds:.0%} of a core"
                 if phase.seconds else f"    {kinds}")
    if phase.calls and phase.answered:
        lines.append(f"    Bot API calls per update {phase.calls.total() / phase.answered:.2f}: "
                     + ", ".join(f"{n} {k}" for k, n in phase.calls.most_common()))
    if phase.send_lag_ms:
        late = sum(lag > 5 for lag in phase.send_lag_ms)
        lines.append(f"    sent late (> 5 ms after due): {late}; lag p99 "
                     f"{percentile(phase.send_lag_ms, 0.99):.1f} ms; never sent: {phase.unsent}")
    if phase.errors:
        lines.append("    errors: " + "; ".join(f"{n}× {e}" for e, n in phase.errors.most_common()))
    if phase.failed_calls:
        lines.append(f"    Bot API calls refused: {phase.failed_calls}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--updates", type=int, default=3000,
                        help="updates in the max-throughput run")
    parser.add_argument("--rate", type=float, default=100.0, help="updates/s of the paced run")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of the paced run")
    parser.add_argument("--max-connections", type=int, default=40,
                        help="webhook requests in flight at most (Telegram's max_connections)")
    parser.add_argument("--timeout", type=float, default=15.0,
                        help="seconds to wait for an answer before counting an error")
    parser.add_argument("--redis-url", default=None,
                        help="run the worker with REDIS_URL; 'auto' starts a throwaway "
                             "redis-server")
    parser.add_argument("--postgres", action="store_true",
                        help="run the worker on a throwaway PostgreSQL server (as in "
                             "production) instead of SQLite")
    parser.add_argument("--row-echo", action="store_true",
                        help="also run the echo bot reading and writing one SQLite row per "
                             "update (a calibration: what any database-backed bot costs)")
    parser.add_argument("--profile-worker", type=Path, default=None, metavar="FILE",
                        help="run the worker under cProfile, writing the stats to FILE")
    parser.add_argument("--rounds", type=int, default=1,
                        help="measure the worker and the echo this many times, alternating, "
                             "each round on a fresh database; the figures reported are the "
                             "round with the median ratio (this machine's noise moves one "
                             "round's ratio by several percent)")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.rounds > 1 and args.redis_url not in (None, "auto"):
        parser.error("--rounds above 1 needs --redis-url auto (each round, an empty Redis)")
    if args.rounds > 16 and args.redis_url:
        parser.error("--rounds: at most 16 with Redis (one of its 16 databases each)")
    if args.rounds > 1 and args.profile_worker is not None:
        parser.error("--profile-worker profiles one round: leave --rounds at 1")
    print(f"throughput: {args.customers} customers, at most {args.max_connections} webhook "
          f"requests in flight; {args.updates} updates as fast as they go, then "
          f"{args.rate:g} updates/s for {args.duration:g} s, after a warm-up; worker on "
          f"{'PostgreSQL' if args.postgres else 'SQLite'}"
          f"{' + Redis' if args.redis_url else ''}")

    redis_server = postgres_server = None
    redis_url = args.redis_url
    if redis_url == "auto":
        from tests.support.redis import RedisServer

        redis_server = RedisServer.start()
    rounds: list[tuple[BotResult, BotResult, BotResult | None]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="chatshop-bench-") as tmp:
            if args.postgres:
                from tests.support.postgres import PostgresServer

                postgres_server = PostgresServer.start()
            for number in range(args.rounds):
                workdir = Path(tmp) / f"round-{number + 1}"
                workdir.mkdir()
                if redis_server is not None:  # a Redis database of its own each round
                    redis_url = redis_server.url(db=number)
                postgres_url = (postgres_server.create_database(f"bench{number + 1}")
                                if postgres_server is not None else None)
                rounds.append(run_round(args, workdir, prepare_database(workdir, postgres_url),
                                        redis_url))
    finally:
        if redis_server is not None:
            redis_server.stop()
        if postgres_server is not None:
            postgres_server.stop()

    ratios = [_ratio(shop, echo) for shop, echo, _ in rounds]
    median = sorted(range(len(rounds)), key=lambda i: ratios[i])[len(rounds) // 2]
    shop, echo, row_echo = rounds[median]
    if len(rounds) > 1:
        print(f"ratio per round: {', '.join(f'{r:.3f}' for r in ratios)}; "
              f"reported: round {median + 1} (the median)")
    for outcome in (shop, echo, *([row_echo] if row_echo else [])):
        mode = "before" if outcome.background else "after"
        print(f"{outcome.name}: the webhook answers {mode} the update is handled")
        print(describe(outcome.name, outcome.closed))
        print(describe(outcome.name, outcome.paced))
    ratio = _ratio(shop, echo)
    print(f"ratio (chatshop / echo, max throughput): {ratio:.3f} (target >= 0.7)")
    print(f"p99 at {args.rate:g} updates/s: {shop.paced.ms(0.99):.1f} ms (target <= 50 ms)")
    errors = sum(p.errors.total() for p in (shop.closed, shop.paced))
    echo_errors = sum(p.errors.total() for p in (echo.closed, echo.paced))
    result: dict[str, Any] = {
        "bench": "throughput", "customers": args.customers, "updates": shop.closed.answered,
        "max_connections": args.max_connections, "redis": bool(redis_url),
        "database": "postgresql" if args.postgres else "sqlite",
        "updates_per_s": round(shop.closed.per_s, 1),
        "echo_updates_per_s": round(echo.closed.per_s, 1), "ratio": round(ratio, 3),
        "p50_ms": shop.closed.ms(0.5), "p95_ms": shop.closed.ms(0.95),
        "p99_ms": shop.closed.ms(0.99),
        "rate_per_s": args.rate, "duration_s": args.duration,
        "updates_at_rate": shop.paced.answered,
        "updates_per_s_at_rate": round(shop.paced.per_s, 1),
        "p50_ms_at_rate": shop.paced.ms(0.5), "p95_ms_at_rate": shop.paced.ms(0.95),
        "p99_ms_at_rate": shop.paced.ms(0.99),
        "echo_p50_ms": echo.closed.ms(0.5), "echo_p99_ms": echo.closed.ms(0.99),
        "echo_p99_ms_at_rate": echo.paced.ms(0.99),
        "cpu_ms_per_update": round(1000 * shop.closed.bot_cpu_s / max(shop.closed.answered, 1),
                                   3),
        "echo_cpu_ms_per_update": round(
            1000 * echo.closed.bot_cpu_s / max(echo.closed.answered, 1), 3),
        "errors": errors, "echo_errors": echo_errors,
    }
    if len(rounds) > 1:
        result.update({"rounds": len(rounds), "round_ratios": [round(r, 3) for r in ratios]})
    if row_echo is not None:
        row_ratio = shop.closed.per_s / row_echo.closed.per_s if row_echo.closed.per_s else 0.0
        print(f"ratio (chatshop / echo reading and writing a row): {row_ratio:.3f}")
        result.update({
            "row_echo_updates_per_s": round(row_echo.closed.per_s, 1),
            "row_echo_cpu_ms_per_update": round(
                1000 * row_echo.closed.bot_cpu_s / max(row_echo.closed.answered, 1), 3),
            "ratio_to_row_echo": round(row_ratio, 3),
            "row_echo_errors": sum(p.errors.total() for p in (row_echo.closed,
                                                              row_echo.paced)),
        })
    print(json.dumps(result))


if __name__ == "__main__":
    main()
