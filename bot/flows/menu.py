"""Greeting, main menu, language, and the shop's information pages."""

from __future__ import annotations

from bot.flows.actions import Action
from bot.flows.catalog import product_by_handle
from bot.flows.context import Conversation, Deps
from bot.flows.router import menu_button, on_action, on_command
from bot.flows.screens import Button, Reply, Screen, Text, bold, rows
from bot.i18n import LANGUAGES

A = Action.make


def main_menu(deps: Deps, convo: Conversation, greeting: Text | None = None) -> Screen:
    t = convo.t
    text = greeting or Text.of(bold(deps.info.name))
    return Screen(
        text + Text.lines("", t("What would you like to do?")),
        rows(
            (Button(t("🛍 Catalog"), A("cats")), Button(t("🔎 Search"), A("find"))),
            (Button(t("🛒 Cart"), A("cart")), Button(t("📦 My orders"), A("orders"))),
            (Button(t("💬 Support"), A("sup")), Button(t("🌐 Language"), A("lang"))),
        ),
    )


@on_command("start")
async def start(deps: Deps, convo: Conversation, arg: str) -> Reply:
    """/start, or a deep link: /start p_<handle> opens that product."""
    if arg.startswith("p_") and len(arg) > 2:
        return await product_by_handle(deps, convo, arg[2:])
    t = convo.t
    hello = t("Hello, {name}!", name=convo.name) if convo.name else t("Hello!")
    greeting = Text.lines(Text.of(bold(hello)),
                          t("Welcome to {shop}. Find something you like, or just type what "
                            "you are looking for.", shop=deps.info.name))
    return Reply.of(main_menu(deps, convo, greeting))


@on_command("menu")
async def menu_command(deps: Deps, convo: Conversation, _: str) -> Reply:
    return Reply.of(main_menu(deps, convo))


@on_action("menu")
async def menu(deps: Deps, convo: Conversation, _: Action) -> Reply:
    convo.expect(None)
    return Reply.of(main_menu(deps, convo))


@on_action("find")
async def find(deps: Deps, convo: Conversation, _: Action) -> Reply:
    convo.expect(None)
    return Reply.of(Screen(Text.of(convo.t("Type what you are looking for, e.g. “blue hoodie”. "
                                           "Typos are fine.")), rows(menu_button(convo))))


@on_command("language")
async def language_command(deps: Deps, convo: Conversation, _: str) -> Reply:
    return await language(deps, convo, A("lang"))


@on_action("lang")
async def language(deps: Deps, convo: Conversation, _: Action) -> Reply:
    buttons = [Button(("✓ " if code == convo.language else "") + name, A("setlang", code))
               for code, name in LANGUAGES.items()]
    return Reply.of(Screen(Text.of(convo.t("Choose your language:")),
                           rows(buttons, menu_button(convo))))


@on_action("setlang")
async def set_language(deps: Deps, convo: Conversation, action: Action) -> Reply:
    code = str(action.args[0])
    if code not in LANGUAGES:
        raise ValueError(code)
    await deps.shop.customers.update_profile(convo.customer_id, language=code)
    convo.language = code
    return Reply.of(main_menu(deps, convo, Text.of(bold(convo.t("Language: English")))))


@on_command("help")
async def help_page(deps: Deps, convo: Conversation, _: str) -> Reply:
    t = convo.t
    return Reply.of(Screen(Text.lines(
        Text.of(bold(t("How to shop here"))),
        t("• Type what you are looking for at any time, or open the catalog."),
        t("• Pick a size or colour and add it to your cart."),
        t("• Check out from the cart: address, delivery, then pay right here."),
        t("• Follow your orders and ask for a return under “My orders”."),
        t("• Questions? Write to us under “Support”."),
        "",
        t("Commands: /start /menu /cart /orders /support /language /terms /contact"),
    ), rows(menu_button(convo))))


@on_command("terms")
async def terms(deps: Deps, convo: Conversation, _: str) -> Reply:
    t = convo.t
    body = deps.info.terms or t("The terms of sale of {shop} are available from the shop on "
                                "request.", shop=deps.info.name)
    return Reply.of(Screen(Text.lines(Text.of(bold(t("Terms of sale"))), body),
                           rows(menu_button(convo))))


@on_command("contact")
async def contact(deps: Deps, convo: Conversation, _: str) -> Reply:
    t = convo.t
    body = deps.info.contact or t("Write to us under “Support” and we will answer here.")
    return Reply.of(Screen(Text.lines(Text.of(bold(deps.info.name)), body),
                           rows((Button(t("💬 Support"), A("sup")), menu_button(convo)))))
