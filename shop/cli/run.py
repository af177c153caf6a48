"""`chatshop run`: the bots (and the HTTP server for webhooks) until stopped; with
``--workers N``, N such processes on one port (see `shop.cli.workers`).

Telegram updates arrive by long polling, or, when ``WEBHOOK_BASE_URL`` is set, on the HTTP
server at ``POST /telegram/customer`` and ``POST /telegram/staff``. On SIGTERM or SIGINT the
shutdown is graceful: take no more updates, let the ones in hand finish (up to
``DRAIN_TIMEOUT_S``), publish the events they committed, then close everything.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import click
from aiohttp import web

from shop.bootstrap import Shop
from shop.cli.support import run_async, settings_from, with_shop
from shop.cli.workers import WORKER_ENV, supervise, workers_problem
from shop.db.engine import create_engine
from shop.db.migrate import upgrade
from shop.gc_tuning import settle_heap
from shop.logs import configure_logging
from shop.messaging.parked import ParkedUpdates
from shop.web.app import Mount, start_http
from shop.web.metrics import Metrics

if TYPE_CHECKING:  # the bots are imported when serving, not for every `chatshop` command
    from aiogram import Bot
    from aiogram.fsm.storage.base import BaseStorage

    from bot.handlers.in_flight import TrackedDispatcher
    from bot.telegram_limits import SendLimiter

log = logging.getLogger(__name__)
DRAIN_TIMEOUT_S = 20.0
LAST_PASS_TIMEOUT_S = 15.0


class TelegramApp(Protocol):
    """What serve() needs of the customer bot and of the staff bot."""

    name: str
    allowed_updates: list[str]
    bot: Bot
    dispatcher: TrackedDispatcher

    async def set_commands(self) -> None: ...

    async def run_polling(self, stop: asyncio.Event, *, background: bool = ...) -> None: ...


async def serve(shop: Shop, stop: asyncio.Event, *, reuse_port: bool = False,
                drain_timeout: float = DRAIN_TIMEOUT_S, own_process: bool = False) -> None:
    """Run everything configured until `stop` is set, then shut down gracefully.

    `reuse_port` lets several worker processes share HTTP_PORT. An intake that fails (a bot's
    polling, the webhook set-up) stops the rest and is raised after the shutdown.
    `own_process`: this process does nothing else (``chatshop run``), so the garbage
    collector is tuned for it once everything is built (see `shop.gc_tuning`).
    """
    from bot.channels.stripe_pages import stripe_pages
    from bot.channels.whatsapp import whatsapp_channel
    from bot.handlers.instrument import instrument
    from bot.handlers.storage import make_storage
    from bot.telegram_limits import make_limiter

    settings = shop.settings
    whatsapp = whatsapp_channel(shop)  # None unless WHATSAPP_PHONE_ID and WHATSAPP_TOKEN are set
    # Conversation state and rate limits in Redis when REDIS_URL is set (several workers).
    storage = make_storage(settings)
    limiter = make_limiter(settings.redis_url)
    apps = _telegram_apps(shop, storage, limiter)
    metrics = Metrics()  # served on /metrics; counts and times every update of both bots
    for app in apps:
        instrument(app.dispatcher, app.name, metrics, app.bot)
    # Just before taking traffic, everything imported and built (see `shop.gc_tuning`).
    ready = settle_heap if own_process else _nothing
    mounts: list[Mount] = [whatsapp.mount] if whatsapp is not None else []
    if shop.stripe is not None:  # the pages its payment links come back to
        mounts.append(stripe_pages(settings.shop_name, settings.default_language))
    # The relay and the sweeper outlive the intake: they stop once the updates in hand are done.
    background_stop = asyncio.Event()
    background = [asyncio.create_task(shop.run_background(background_stop))]
    if whatsapp is not None:  # its webhook is on the HTTP server; events come from the relay
        background.append(asyncio.create_task(whatsapp.run(stop)))
    try:
        if settings.webhook_base_url is not None:
            await _serve_webhooks(shop, stop, apps, mounts, background, reuse_port=reuse_port,
                                  drain_timeout=drain_timeout, metrics=metrics, ready=ready)
        else:
            ready()
            runner = (await _listen(shop, mounts, reuse_port, metrics)
                      if shop.stripe is not None or whatsapp is not None else None)
            try:
                await _until_stopped(stop, [app.run_polling(stop, background=False)
                                            for app in apps])  # each drains its updates
            finally:
                await _stop_http(runner)
    finally:
        stop.set()  # also when an intake failed: the WhatsApp channel and schedules end too
        background_stop.set()
        await _gather_logged(background, "background task")
        await _last_relay_pass(shop)
        for app in apps:
            await app.bot.session.close()
        await storage.close()
        await limiter.close()


def _telegram_apps(shop: Shop, storage: BaseStorage, limiter: SendLimiter
                   ) -> list[TelegramApp]:
    from bot.telegram_app import CustomerBot, make_bot

    settings = shop.settings
    apps: list[TelegramApp] = []
    customer = None
    if settings.bot_token is not None:
        customer = make_bot(settings.bot_token.get_secret_value(), settings.telegram_api_base,
                            limiter)
        apps.append(CustomerBot(shop, customer, storage=storage))
    if settings.admin_bot_token is not None:
        from admin_bot.app import AdminBot

        apps.append(AdminBot(shop, make_bot(settings.admin_bot_token.get_secret_value(),
                                            settings.telegram_api_base, limiter),
                             customer_bot=customer, storage=storage))
    return apps


async def _serve_webhooks(shop: Shop, stop: asyncio.Event, apps: Sequence[TelegramApp],
                          mounts: list[Mount], background: list[asyncio.Task[None]], *,
                          reuse_port: bool, drain_timeout: float, metrics: Metrics,
                          ready: Callable[[], None]) -> None:
    """Both bots' webhooks on the HTTP server until `stop`; then refuse new updates (503, so
    Telegram redelivers them elsewhere), stop listening, and let the updates in hand finish.
    `ready` is called once everything is built, before the first request can arrive."""
    from admin_bot.app import AdminBot
    from bot.handlers.polling import drain
    from bot.handlers.update_dedupe import make_dedupe
    from bot.handlers.webhook import WebhookEndpoint, bot_secret

    settings = shop.settings
    base_url, master = settings.webhook_base_url, settings.webhook_secret
    assert base_url is not None and master is not None  # the settings insist on both
    lease_s = settings.event_lease_seconds
    dedupe = make_dedupe(settings.redis_url, lease_s)
    parking = ParkedUpdates(shop.sessions, lease_s=lease_s, clock=shop.clock)
    endpoints = [WebhookEndpoint(app.name, app.dispatcher, app.bot, dedupe=dedupe,
                                 secret=bot_secret(master.get_secret_value(), app.name),
                                 lease_s=lease_s, parking=parking)
                 for app in apps]
    ready()
    runner = await _listen(shop, [*mounts, *(e.mount for e in endpoints)], reuse_port,
                           metrics)
    try:
        for app in apps:
            if isinstance(app, AdminBot):
                background.append(asyncio.create_task(app.schedule_reports(stop)))
        for app, endpoint in zip(apps, endpoints, strict=True):
            await app.set_commands()
            # The route already listens, so Telegram's first delivery finds it.
            await endpoint.set_webhook(base_url, app.allowed_updates)
            log.info("%s bot: webhook set to %s%s", app.name, base_url, endpoint.path)
            # Updates a stopped worker answered but left unfinished (see WebhookEndpoint).
            background.append(asyncio.create_task(endpoint.resume_parked(stop)))
        await stop.wait()
    finally:
        # The webhooks stay set: other workers keep serving them, and Telegram keeps the
        # updates for this one while it restarts.
        for endpoint in endpoints:
            endpoint.close()
        await _stop_listening(runner)
        await asyncio.gather(*(drain(app.dispatcher, app.bot, drain_timeout) for app in apps))
        await _stop_http(runner)
        await dedupe.close()


def _nothing() -> None:
    pass


async def _until_stopped(stop: asyncio.Event,
                         intakes: Sequence[Coroutine[Any, Any, None]]) -> None:
    """Run the intakes until `stop`; one that ends first (a failure) sets `stop` for the
    others, and its error is raised once they all have ended."""
    tasks = [asyncio.create_task(intake) for intake in intakes]
    stopped = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait([stopped, *tasks], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.set()
        stopped.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:
        raise errors[0]


class CannotListen(Exception):
    """The HTTP server could not bind HTTP_HOST:HTTP_PORT."""


async def _listen(shop: Shop, mounts: Sequence[Mount], reuse_port: bool,
                  metrics: Metrics) -> web.AppRunner:
    settings = shop.settings
    try:
        return await start_http(shop, mounts, reuse_port=reuse_port, metrics=metrics)
    except OSError as error:  # not the database: say so, not "database unavailable"
        raise CannotListen(f"cannot listen on {settings.http_host}:{settings.http_port} "
                           f"(HTTP_HOST, HTTP_PORT): {error.strerror or error}") from None


async def _stop_listening(runner: web.AppRunner | None) -> None:
    if runner is not None:
        for site in list(runner.sites):
            await site.stop()


async def _stop_http(runner: web.AppRunner | None) -> None:
    """Stop listening, finish the requests in hand (a Stripe webhook), close."""
    if runner is not None:
        await runner.cleanup()


async def _gather_logged(tasks: Sequence[asyncio.Task[None]], what: str) -> None:
    for result in await asyncio.gather(*tasks, return_exceptions=True):
        if isinstance(result, Exception):
            log.error("%s failed", what, exc_info=result)


async def _last_relay_pass(shop: Shop) -> None:
    """Publish the events the last updates committed, so alerts and notifications do not wait
    for the next start (they would be delivered then: the outbox keeps them)."""
    try:
        async with asyncio.timeout(LAST_PASS_TIMEOUT_S):
            delivered = await shop.relay.run_once()
    except TimeoutError:
        log.warning("last event relay pass cut after %.0f s; the rest goes at the next start",
                    LAST_PASS_TIMEOUT_S)
    except Exception:
        # Shutting down anyway: nothing is lost, the outbox keeps what was not delivered.
        log.warning("last event relay pass failed; the rest goes at the next start",
                    exc_info=True)
    else:
        if delivered:
            log.info("last event relay pass delivered %d event(s)", delivered)


async def serve_until_signalled(shop: Shop, *, reuse_port: bool = False) -> None:
    """Serve until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await serve(shop, stop, reuse_port=reuse_port, own_process=True)


async def _migrate(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


@click.command()
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Worker processes sharing HTTP_PORT; more than 1 needs webhook mode "
                   "(WEBHOOK_BASE_URL) and REDIS_URL.")
@click.option("--worker", "as_worker", is_flag=True, hidden=True,
              help="Run as one worker of `--workers N` (binds HTTP_PORT with SO_REUSEPORT).")
@click.pass_context
def run(ctx: click.Context, workers: int, as_worker: bool) -> None:
    """Run the bots until SIGINT or SIGTERM (needs BOT_TOKEN for the customer bot)."""
    settings = settings_from(ctx)
    problem = workers_problem(settings, workers)
    if problem is not None:
        raise click.UsageError(problem)
    # Every line of a worker says which worker wrote it (`worker=2 pid=…`, or JSON fields).
    configure_logging(settings, worker=os.environ.get(WORKER_ENV) if as_worker else None,
                      pid=os.getpid() if as_worker else None)
    if settings.bot_token is None and not as_worker:
        click.echo("BOT_TOKEN is not set: only events and reservations are processed "
                   "(try `chatshop demo` for a local chat)", err=True)
    if workers > 1:
        # Once here, not racing in every worker.
        run_async(_migrate(settings.database_url))
        command = [sys.executable, "-m", "shop.cli", "run", "--worker"]
        ctx.exit(run_async(supervise(command, workers)))

    async def go(shop: Shop) -> None:
        await serve_until_signalled(shop, reuse_port=as_worker)

    try:
        run_async(with_shop(settings, go, load_index=True))
    except CannotListen as error:
        raise click.ClickException(str(error)) from None
    click.echo("stopped")
