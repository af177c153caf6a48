"""The local chat of `chatshop demo`: the customer flows in a terminal, driven by typed lines."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bot.channels import terminal
from bot.channels.terminal import run_terminal_chat
from bot.channels.terminal_render import render_screen, render_text
from bot.flows import respond
from bot.flows.actions import Action
from bot.flows.context import Conversation, Deps
from bot.flows.inputs import Input
from bot.flows.screens import Button, Reply, Screen, Text, bold, italic, link, rows
from bot.i18n import Translator
from shop.bootstrap import Shop
from shop.demo.loader import load_demo
from shop.payments.base import ProviderName
from shop.payments.telegram_invoice import LabeledAmount, TelegramInvoice
from tests.conftest import Database
from tests.fakes.telegram_server import FakeTelegram
from tests.support.flows import deps_for
from tests.support.shop import Clock, make_shop

ROOT = Path(__file__).resolve().parents[1]
EN = Translator("en")


@pytest.fixture
async def shop(database: Database) -> Shop:
    shop = make_shop(database, Clock())
    await load_demo(shop)
    await shop.catalog.load_index()
    return shop


class Terminal(io.StringIO):
    """Output that says it is a terminal, to see the ANSI styles."""

    def isatty(self) -> bool:
        return True


async def chat(shop: Shop, *lines: str, language: str = "en", who: str = "terminal-1",
               out: io.StringIO | None = None) -> str:
    """Everything the chat printed for these typed lines (then the end of input)."""
    stdout = out if out is not None else io.StringIO()
    stdin = io.StringIO("".join(line + "\n" for line in lines))
    await run_terminal_chat(deps_for(shop), stdin=stdin, stdout=stdout, language=language,
                            customer_external_id=who)
    return stdout.getvalue()


def after(output: str, typed: str) -> str:
    """What the chat printed after the (last) echo of a typed line."""
    marker = f"> {typed}\n"
    assert marker in output, f"{typed!r} was not read:\n{output}"
    return output.rsplit(marker, 1)[1]


async def test_starts_with_the_menu_and_a_hint(shop: Shop) -> None:
    output = await chat(shop)
    assert output.splitlines()[1:3] == [
        "Hello!",
        "Welcome to Chatshop. Find something you like, or just type what you are looking for."]
    assert "[1] 🛍 Catalog  [2] 🔎 Search\n[3] 🛒 Cart  [4] 📦 My orders\n" in output
    assert "(type a number to press a button, or just type what you are looking for; " \
           ":quit to leave)" in output
    assert output.rstrip().endswith("Bye! Your cart is kept for next time.")
    assert "\x1b[" not in output  # not a terminal: no ANSI styles
    customer = await shop.customers.get_or_create("terminal", "terminal-1")
    assert customer.language == "en"


async def test_newcomer_finds_by_typing_picks_by_number_and_buys(shop: Shop) -> None:
    output = await chat(
        shop,
        "zolta chusta",          # a search with the Polish letters left out
        "1",                     # the scarf
        "3",                     # + (2 pcs)
        "4",                     # Add to cart
        "/start p_classic-tee",  # a product with sizes and colours
        "2",                     # Size M
        "1",                     # Colour Black
        "4",                     # Add to cart
        "1",                     # Go to cart
    )
    found = after(output, "zolta chusta")
    assert "Results for “zolta chusta”" in found
    assert "[1] Żółta Chusta Scarf · €38.00" in found
    card = after(output, "1").split("> ")[0]
    scarf = after(output.split("> 3\n")[0], "1")
    assert "[photo: demo:zolta-chusta-scarf.png → " in scarf
    assert str(Path("shop/demo/images/zolta-chusta-scarf.png")) in scarf
    assert "[1] −  [2] 1 pcs  [3] +\n[4] ➕ Add to cart" in scarf
    added = after(output.split("> /start p_classic-tee")[0], "4")
    assert "Added to your cart: 2 × Żółta Chusta Scarf. Cart: 2 items, €76.00." in added
    assert "» Added to cart" in added  # the toast Telegram shows on the button
    tee = after(output, "/start p_classic-tee")
    assert "Choose Size:" in tee and "[2] M" in tee
    assert "Choose Colour:" in after(output, "2")
    assert "Your cart\n" in card
    assert "• Żółta Chusta Scarf × 2 — €76.00" in card
    assert "• Classic Organic Cotton Tee (M / Black) × 1 — €24.90" in card
    assert "Total: €100.90" in card
    assert "✅ Checkout" in card
    customer = await shop.customers.get_or_create("terminal", "terminal-1")
    cart = await shop.carts.view(customer.id)
    assert [(line.title, line.quantity) for line in cart.lines] == [
        ("Żółta Chusta Scarf", 2), ("Classic Organic Cotton Tee", 1)]


async def test_checkout_and_pay_with_the_test_provider(shop: Shop) -> None:
    output = await chat(shop, "zolta chusta", "1", "4", "1", "7",
                        "Marie Curie", "1 rue de la Paix", "Paris",
                        "75002",  # a step waits for text: a number that is no button is text
                        "FR", "1", "1", "1")
    assert "Type the postcode." in after(output, "Paris")
    assert "75002 Paris" in after(output, "FR")
    placed = after(output.rsplit("> 1\n", 1)[0], "1")
    assert "This shop uses a test payment: no money moves." in placed
    paid = after(output, "1")
    assert "✅ Thank you! Order #" in paid and "is paid." in paid
    customer = await shop.customers.get_or_create("terminal", "terminal-1")
    assert (await shop.carts.view(customer.id)).is_empty


async def test_language_switch_to_french(shop: Shop) -> None:
    output = await chat(shop, "6", "2", "3")
    assert "[1] ✓ English  [2] Français  [3] Polski" in after(output, "6")
    french = after(output, "2")
    assert french.startswith("\nLangue : Français\nQue souhaitez-vous faire ?")
    assert "[1] 🛍 Catalogue  [2] 🔎 Rechercher" in french
    cart = after(output, "3")
    assert "Votre panier est vide." in cart
    assert cart.rstrip().endswith("Au revoir ! Votre panier est conservé pour la prochaine fois.")
    customer = await shop.customers.get_or_create("terminal", "terminal-1")
    assert customer.language == "fr"
    # The next session starts in the language the customer chose.
    again = await chat(shop, language="en")
    assert "Bonjour !" in again and "(tapez un numéro pour appuyer sur un bouton" in again


async def test_starts_in_the_language_given_for_a_new_customer(shop: Shop) -> None:
    output = await chat(shop, "zolta chusta", language="pl-PL", who="polish")
    assert output.splitlines()[1] == "Cześć!"
    assert "[1] 🛍 Katalog  [2] 🔎 Szukaj" in output
    assert "Wyniki dla “zolta chusta”" in output
    assert "Żółta Chusta Scarf · 38,00\u00a0€" in output


async def test_quit_ends_the_chat_and_ignores_the_rest(shop: Shop) -> None:
    output = await chat(shop, ":quit", "zolta chusta")
    assert "> :quit\n" in output
    assert "zolta" not in output
    assert output.rstrip().endswith("Bye! Your cart is kept for next time.")


async def test_bad_input_is_answered_and_the_chat_goes_on(shop: Shop) -> None:
    huge = "x" * 10_000
    output = await chat(shop, "99", "", "   ", huge, "0", "/nosuchcommand", "/", ":what",
                        ":photo", ":location north", "12345678901234567890", "1")
    assert "There is no button 99. Choose a number from the list (1–6)." in after(output, "99")
    assert output.count("(type a number to press a button") == 3  # the start, "" and "   "
    long_answer = output.split("> " + "x" * 80 + "…\n", 1)[1]
    assert long_answer.startswith("\nResults for “" + "x" * 10)
    assert "Nothing found" in long_answer.split("> ")[0]
    assert "There is no button 0. Choose a number from the list (1–3)." in output
    assert "I don't know that command. Try /start or /help." in after(output, "/nosuchcommand")
    assert "I don't know that command." in after(output, "/")
    assert "Unknown terminal command. Type :help to see them." in after(output, ":what")
    assert "Unknown terminal command." in after(output, ":photo")
    assert "Usage: :location LATITUDE LONGITUDE" in after(output, ":location north")
    assert "Results for “12345678901234567890”" in output  # too long to be a button
    assert "Catalog\nChoose a category:" in after(output, "1")
    assert output.rstrip().endswith("Bye! Your cart is kept for next time.")


async def test_photo_location_and_numbers_as_text(shop: Shop) -> None:
    output = await chat(shop, ":photo receipt.png", ":location 48.85, 2.35", ":help",
                        "/start p_zolta-chusta-scarf", "4", "1", "5", "123", ":say 2",
                        "WELCOME10")
    assert "Thanks for the photo!" in after(output, ":photo receipt.png")
    assert "A location helps only while you enter an address" in after(
        output, ":location 48.85, 2.35")
    assert ":say TEXT sends a number as text" in after(output, ":help")
    # In the cart, the promo code step waits for text: a number that is no button is text.
    assert "Type your promo code:" in after(output, "5")
    assert "This promo code does not apply." in after(output, "123")
    assert "This promo code does not apply." in after(output, ":say 2")
    assert "Promo code WELCOME10 applied." in after(output, "WELCOME10")


async def test_a_bug_is_answered_logged_and_the_chat_goes_on(
        shop: Shop, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    async def flaky(deps: Deps, convo: Conversation, received: Input) -> Reply:
        if getattr(received, "text", None) == "boom":
            raise RuntimeError("a bug in a flow")
        return await respond(deps, convo, received)

    monkeypatch.setattr(terminal, "respond", flaky)
    with caplog.at_level(logging.ERROR, logger="bot.channels.terminal"):
        output = await chat(shop, "boom", "zolta chusta")
    assert "Sorry, something went wrong. Please try again." in after(output, "boom")
    assert "Żółta Chusta Scarf" in after(output, "zolta chusta")
    [record] = [r for r in caplog.records if r.name == "bot.channels.terminal"]
    assert record.exc_info is not None and "a bug in a flow" in str(record.exc_info[1])


async def test_bold_is_ansi_only_on_a_terminal(shop: Shop) -> None:
    output = await chat(shop, out=Terminal())
    assert "\x1b[1mHello!\x1b[0m" in output


def test_render_links_styles_url_buttons_and_invoices() -> None:
    text = Text.of(bold("Total"), " ", italic("soon"), " ", link("Track", "https://t.example/1"),
                   " ", link("https://x.example", "https://x.example"))
    assert render_text(text, ansi=False) == (
        "Total soon Track (https://t.example/1) https://x.example")
    assert render_text(text, ansi=True).startswith("\x1b[1mTotal\x1b[0m \x1b[3msoon\x1b[0m")
    assert render_text(Text.of(bold("a\nb")), ansi=True) == "\x1b[1ma\x1b[0m\n\x1b[1mb\x1b[0m"

    invoice = TelegramInvoice(
        provider=ProviderName.TELEGRAM, title="Chatshop order #1001",
        description="Classic Tee × 2", payload="p", currency="EUR",
        prices=(LabeledAmount("Classic Tee × 2", 4980), LabeledAmount("Discount", -498),
                LabeledAmount("Standard", 490)),
        provider_token=None)
    screen = Screen(Text.of("Your order is ready."), rows(
        Button("Track", url="https://t.example/1"), Button("« Menu", Action.make("menu"))),
        photo="demo:no-such-file.png", invoice=invoice)
    rendered = render_screen(screen, EN, ansi=False, first=3)
    assert rendered.text.splitlines() == [
        "[photo: demo:no-such-file.png (not available)]",
        "Your order is ready.",
        "Invoice: Chatshop order #1001",
        "  Classic Tee × 2",
        "  Classic Tee × 2: €49.80",
        "  Discount: -€4.98",
        "  Standard: €4.90",
        "  total €49.72",
        "(Payment in the terminal uses the built-in test provider.)",
        "",
        "[3] Track (https://t.example/1)",
        "[4] « Menu",
    ]
    assert [b.label for b in rendered.buttons] == ["Track", "« Menu"]
    stars = render_screen(Screen(Text.of(""), invoice=TelegramInvoice(
        provider=ProviderName.STARS, title="Order", description="", payload="p",
        currency="XTR", prices=(LabeledAmount("Order #1", 900),), provider_token=None)),
        Translator("fr"), ansi=False)
    assert stars.text.splitlines()[-2:] == [
        "  total 900 ⭐",
        "(Dans le terminal, le paiement passe par le prestataire de test intégré.)"]


async def test_url_button_says_where_to_go(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    async def with_link(deps: Deps, convo: Conversation, received: Input) -> Reply:
        if getattr(received, "text", None) == "track":
            return Reply.of(Screen(Text.of("Your parcel"),
                                   rows(Button("🚚 Track", url="https://t.example/42"))))
        return await respond(deps, convo, received)

    monkeypatch.setattr(terminal, "respond", with_link)
    output = await chat(shop, "track", "1")
    assert "[1] 🚚 Track (https://t.example/42)" in after(output, "track")
    assert "Open this link in your browser: https://t.example/42" in after(output, "1")


# --- `chatshop demo` as a newcomer runs it -------------------------------------------------


def _demo(tmp_path: Path, *args: str, stdin: str | None = None,
          **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith(("BOT_", "ADMIN_BOT", "DATABASE_", "REDIS_", "WHATSAPP_",
                                        "STRIPE_", "PAYMENT_"))}
    environment.update(DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/shop.db",
                       PYTHONPATH=str(ROOT), **env)
    return subprocess.run(
        [sys.executable, "-m", "shop.cli", "demo", *args], cwd=tmp_path, env=environment,
        input=stdin, stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.slow
def test_demo_sets_up_and_exits_without_a_terminal(tmp_path: Path) -> None:
    only_setup = _demo(tmp_path, "--no-chat")
    assert only_setup.returncode == 0, only_setup.stderr
    assert "demo loaded, 60 products" in only_setup.stdout
    assert "local chat" not in only_setup.stdout
    # stdin is not a terminal (CI, `make demo` in a pipe): set up and exit, never wait.
    no_tty = _demo(tmp_path)
    assert no_tty.returncode == 0, no_tty.stderr
    assert "60 products already there" in no_tty.stdout
    assert "input is not a terminal, so no local chat opened" in no_tty.stdout


@pytest.mark.slow
def test_demo_chat_from_a_script_and_with_a_bot_token(tmp_path: Path) -> None:
    chatted = _demo(tmp_path, "--chat", stdin="zolta chusta\n1\n4\n:quit\n")
    assert chatted.returncode == 0, chatted.stderr
    assert "[1] Żółta Chusta Scarf · €38.00" in chatted.stdout
    assert "Added to your cart: 1 × Żółta Chusta Scarf" in chatted.stdout
    assert chatted.stdout.rstrip().endswith("Bye! Your cart is kept for next time.")


@pytest.mark.slow
async def test_demo_with_a_bot_token_runs_the_bots_until_sigterm(tmp_path: Path) -> None:
    token = "123456:TEST-token"
    async with FakeTelegram() as tg:
        tg.add_bot(token, "demo_shop_bot")
        environment = {k: v for k, v in os.environ.items()
                       if not k.startswith(("BOT_", "DATABASE_", "TELEGRAM_"))}
        environment.update(DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/shop.db",
                           PYTHONPATH=str(ROOT), BOT_TOKEN=token,
                           TELEGRAM_API_BASE=tg.base_url)
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "shop.cli", "demo", cwd=tmp_path, env=environment,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            await tg.wait_for(lambda: tg.calls("getUpdates"), timeout=60,
                              what="the demo's bot polling the fake Bot API")
            alice = tg.user(7001, "Alice")
            reply = await alice.send("/start", timeout=30)
            assert "Hello, Alice!" in reply.text
        finally:
            process.send_signal(signal.SIGTERM)
            stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 0, stderr.decode()
        assert "BOT_TOKEN is set: running the bots until Ctrl+C" in stdout.decode()
        assert "local chat" not in stdout.decode()
