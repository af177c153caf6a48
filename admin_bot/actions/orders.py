"""Staff use cases on orders: list, open, confirm, ship, deliver, cancel with a refund, and
write to the order's customer."""

from __future__ import annotations

from admin_bot.context import AdminDeps, Staff
from admin_bot.router import Outcome, Prompt, action, answer, command
from admin_bot.screens.common import parse_amount
from admin_bot.screens.orders import (
    FILTERS,
    PAGE_SIZE,
    cancel_choice,
    done,
    order_card,
    orders_list,
)
from bot.flows.actions import Action, Arg
from bot.flows.screens import Screen, Text
from shop.errors import InvalidInput

MAX_CARRIER = 60
MAX_TRACKING = 60


async def _card(deps: AdminDeps, staff: Staff, order_id: int, note: str | None = None
                ) -> Screen:
    order = await deps.shop.orders.order(staff.actor, order_id)
    customer = await deps.shop.customers.get(order.customer_id)
    if note:
        return done(staff, note, order, customer)
    return order_card(staff, order, customer)


async def show_list(deps: AdminDeps, staff: Staff, name: str, page: int) -> Screen:
    if name not in FILTERS:
        name = "recent"
    page = max(1, page)
    found = await deps.shop.orders.orders(staff.actor, statuses=FILTERS[name], page=page,
                                          page_size=PAGE_SIZE + 1)
    return orders_list(staff, name, page, found[:PAGE_SIZE], len(found) > PAGE_SIZE)


@command("orders")
async def orders_command(deps: AdminDeps, staff: Staff, args: str) -> Outcome:
    word = args.strip().lower()
    if word.lstrip("#").isdigit():
        order = await deps.shop.orders.order_by_number(staff.actor, int(word.lstrip("#")))
        return await _card(deps, staff, order.id)
    return await show_list(deps, staff, {"": "confirm", "to_confirm": "confirm",
                                         "to_ship": "ship"}.get(word, word), 1)


@command("order")
async def order_command(deps: AdminDeps, staff: Staff, args: str) -> Outcome:
    number = args.strip().lstrip("#")
    if not number.isdigit() or len(number) > 12:
        raise InvalidInput("give an order number: /order 1042")
    order = await deps.shop.orders.order_by_number(staff.actor, int(number))
    return await _card(deps, staff, order.id)


@action("o.list")
async def list_action(deps: AdminDeps, staff: Staff, act: Action) -> Outcome:
    name = str(act.args[0]) if act.args else "recent"
    return await show_list(deps, staff, name, act.int(1) if len(act.args) > 1 else 1)


@action("o.view")
async def view(deps: AdminDeps, staff: Staff, act: Action) -> Outcome:
    return await _card(deps, staff, act.int(0))


@action("o.conf")
async def confirm(deps: AdminDeps, staff: Staff, act: Action) -> Outcome:
    order = await deps.shop.orders.confirm(staff.actor, act.int(0))
    return await _card(deps, staff, order.id, staff.t("Order #{number} confirmed.",
                                                      number=order.number))


@action("o.dlv")
async def deliver(deps: AdminDeps, staff: Staff, act: Action) -> Outcome:
    order = await deps.shop.orders.deliver(staff.actor, act.int(0))
    return await _card(deps, staff, order.id, staff.t("Order #{number} marked delivered.",
                                                      number=order.number))


@action("o.ship")
async def ship(deps: AdminDeps, staff: Staff, act: Action) -> Outcome:
    order = await deps.shop.orders.order(staff.actor, act.int(0))
    return Prompt("ship_carrier", (order.id,), staff.t(
        "Shipping order #{number}. Which carrier? (e.g. DHL, La Poste, InPost)",
        number=order.number), staff.t("Carrier"))


def _short_text(raw: str, limit: int, what: str) -> str:
    text = " ".join(raw.split())
    if not text:
        raise InvalidInput(f"the {what} is empty")
    if len(text) > limit:
        raise InvalidInput(f"the {what} is over {limit} characters")
    return text


@answer("ship_carrier")
async def ship_carrier(deps: AdminDeps, staff: Staff, args: tuple[Arg, ...], text: str
                       ) -> Outcome:
    carrier = _short_text(text, MAX_CARRIER, "carrier name")
    return Prompt("ship_tracking", (int(args[0]), carrier), staff.t(
        "Carrier: {carrier}. Now the tracking number?", carrier=carrier),
        staff.t("Tracking number"))


@answer("ship_tracking")
async def ship_tracking(deps: AdminDeps, staff: Staff, args: tuple[Arg, ...], text: str
                        ) -> Outcome:
    code = _short_text(text, MAX_TRACKING, "tracking number")
    order = await deps.shop.orders.ship(staff.actor, int(args[0]),
                                        carrier=str(args[1]),
                                        tracking_number=code)
    return await _card(deps, staff, order.id, staff.t(
        "Order #{number} shipped; the customer has the tracking number.",
        number=order.number))


@action("o.cancel")
async def cancel(deps: AdminDeps, staff: Staff, act: Action) -> Outcome:
    order = await deps.shop.orders.order(staff.actor, act.int(0))
    return cancel_choice(staff, order)


@action("o.cnf")
async def cancel_confirmed(deps: AdminDeps, staff: Staff, act: Action) -> Outcome:
    order_id, how = act.int(0), str(act.args[1]) if len(act.args) > 1 else ""
    if how == "part":
        order = await deps.shop.orders.order(staff.actor, order_id)
        return Prompt("cancel_amount", (order_id,), staff.t(
            "How much to refund for order #{number}? Up to {max}, e.g. 12.50",
            number=order.number, max=staff.t.money(order.paid - order.refunded)),
            staff.t("Amount"))
    if how not in ("full", "none"):
        raise InvalidInput("unknown cancel choice")
    return await _cancel(deps, staff, order_id, None if how == "full" else 0)


@answer("cancel_amount")
async def cancel_amount(deps: AdminDeps, staff: Staff, args: tuple[Arg, ...], text: str
                        ) -> Outcome:
    order = await deps.shop.orders.order(staff.actor, int(args[0]))
    amount = parse_amount(text, order.currency)
    refundable = (order.paid - order.refunded).minor
    if not 0 < amount <= refundable:
        raise InvalidInput(staff.t("The amount must be more than 0 and at most {max}.",
                                   max=staff.t.money(order.paid - order.refunded)))
    return await _cancel(deps, staff, order.id, amount)


async def _cancel(deps: AdminDeps, staff: Staff, order_id: int, amount: int | None
                  ) -> Outcome:
    order, refund = await deps.shop.orders.cancel(staff.actor, order_id,
                                                  reason="cancelled by the shop",
                                                  refund_amount=amount)
    t = staff.t
    if refund is None:
        note = t("Order #{number} cancelled, no refund.", number=order.number)
    elif refund.ok:
        note = t("Order #{number} cancelled and {amount} refunded.", number=order.number,
                 amount=t.money(refund.refunded))
    else:
        note = t("Order #{number} cancelled, but the refund failed: {error}. It stays "
                 "pending; try the refund again from the order.", number=order.number,
                 error="; ".join(refund.failed))
    return await _card(deps, staff, order.id, note)


@action("o.msg")
async def message_customer(deps: AdminDeps, staff: Staff, act: Action) -> Outcome:
    order = await deps.shop.orders.order(staff.actor, act.int(0))
    return Prompt("order_message", (order.id,), staff.t(
        "Your message to the customer of order #{number}:", number=order.number),
        staff.t("Message"))


@answer("order_message")
async def order_message(deps: AdminDeps, staff: Staff, args: tuple[Arg, ...], text: str
                        ) -> Outcome:
    order = await deps.shop.orders.order(staff.actor, int(args[0]))
    await deps.shop.support.staff_message(staff.actor, order.customer_id, text,
                                          order_id=order.id)
    return Screen(Text.of(staff.t("Sent to the customer of order #{number}.",
                                  number=order.number)))
