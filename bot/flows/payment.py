"""Paying for an order and the receipt.

The payment step picks what the channel can take: a native invoice (Telegram card or Stars,
built by the payment service), else a Stripe Checkout link, else the built-in test provider,
so the demo and the terminal can buy something with no account: a signed link to its payment
page on channels whose customers pay on web pages (`payment_pages`: WhatsApp, where a link is
how every payment works and the receipt comes from the `order.paid` event), else a button
paying in the chat (`paytest:<order_id>`: Telegram without a provider token, the terminal,
which has no browser).
"""

from __future__ import annotations

from bot.flows.actions import Action
from bot.flows.context import Conversation, Deps
from bot.flows.router import menu_button, on_action
from bot.flows.screens import Button, Reply, Row, Screen, Text, bold, italic, rows
from shop.errors import ProviderError
from shop.money import Money
from shop.orders.states import OrderStatus
from shop.orders.types import OrderView
from shop.payments.page_link import test_payment_link
from shop.payments.recording import Outcome

A = Action.make


def order_lines(convo: Conversation, order: OrderView) -> list[Text | str]:
    t = convo.t
    return [Text.of(f"• {line.title}" + (f" ({line.options})" if line.options else "")
                    + f" × {line.quantity} — ", t.money(line.line_total))
            for line in order.lines]


def paid_text(convo: Conversation, order: OrderView) -> str:
    """What the customer paid: in Stars for an order paid with them (its `paid` is the
    worth in the order's currency), else in the order's currency."""
    t = convo.t
    if order.paid_stars:
        return t.money(Money("XTR", order.paid_stars))
    return t.money(order.paid if order.paid.minor else order.total)


def delivery_text(convo: Conversation, order: OrderView) -> Text:
    t = convo.t
    if order.digital_only:
        return Text.of(t("Delivery: "), bold(t("digital delivery here in the chat")))
    if order.address is None:  # collected by the customer (pickup)
        return Text.lines(Text.of(t("Pickup: "), bold(order.shipping_method or t("pickup"))),
                          t("No address needed: we tell you here when your order is ready to "
                            "collect."))
    a = order.address
    where = f"{a.name}, {a.street}, {a.postcode} {a.city}, {a.country}"
    method = order.shipping_method or t("delivery")
    return Text.lines(Text.of(t("Delivery: "), bold(method)), where)


def reservation_text(deps: Deps, convo: Conversation, order: OrderView, fresh: bool) -> str:
    t = convo.t
    if fresh or order.expires_at is None:
        return t("We keep your items for {minutes} minutes.",
                 minutes=deps.shop.settings.reservation_minutes)
    return t("We keep your items until {time} UTC.",
             time=order.expires_at.strftime("%H:%M"))


async def payment_step(deps: Deps, convo: Conversation, order: OrderView, *,
                       fresh: bool = True) -> Reply:
    """Ask for the money of an order awaiting payment, the best way this channel allows.

    `fresh`: the order was just placed (else it is being paid again from "My orders").
    """
    t = convo.t
    head: list[Text | str] = [
        Text.of(bold(t("Order #{number} is placed.", number=order.number))),
        t("Total to pay: {total}", total=t.money(order.total)),
        reservation_text(deps, convo, order, fresh),
    ]
    after: Row = (Button(t("✕ Cancel order"), A("ocancel", order.id)), menu_button(convo))
    if convo.capabilities.invoices:
        try:
            invoice = await deps.shop.payments.telegram_invoice(convo.actor, order.id)
        except ProviderError:
            invoice = None  # no card provider configured: a link or the test provider below
        if invoice is not None:
            return Reply.of(Screen(Text.lines(*head, t("Pay with the invoice below.")),
                                   rows(after), invoice=invoice, new_message=True))
    if deps.shop.stripe is not None:
        link = await deps.shop.payments.stripe_link(convo.actor, order.id)
        return Reply.of(Screen(
            Text.lines(*head, t("Pay on the secure payment page; we tell you here as soon "
                                "as the payment arrives.")),
            rows(Button(t("💳 Pay {total}", total=t.money(order.total)), url=link.url),
                 Button(t("📦 Order status"), A("order", order.id)), after),
            new_message=True))
    test_note = Text.of(italic(t("This shop uses a test payment: no money moves.")))
    if convo.capabilities.payment_pages:
        url = await test_payment_link(deps.shop, convo.actor, order.id)
        return Reply.of(Screen(
            Text.lines(*head, t("Pay on the payment page; we tell you here as soon as the "
                                "payment arrives."), test_note),
            rows(Button(t("💳 Pay {total} (test)", total=t.money(order.total)), url=url),
                 Button(t("📦 Order status"), A("order", order.id)), after),
            new_message=True))
    return Reply.of(Screen(
        Text.lines(*head, test_note),
        rows(Button(t("💳 Pay {total} (test)", total=t.money(order.total)),
                    A("paytest", order.id)), after),
        new_message=True))


def receipt_screen(convo: Conversation, order: OrderView, note: str | None = None) -> Screen:
    """The receipt for a paid order: number, lines, total paid, delivery and next steps."""
    t = convo.t
    lines: list[Text | str] = []
    if note:
        lines += [Text.of(italic(note)), ""]
    lines += [Text.of(bold(t("✅ Thank you! Order #{number} is paid.", number=order.number))),
              "", *order_lines(convo, order)]
    if order.discount.minor:
        lines.append(t("Discount: −{amount}", amount=t.money(order.discount)))
    if not order.digital_only:
        shipping = (t.money(order.shipping_total) if order.shipping_total.minor
                    else t("free"))
        lines.append(t("Shipping: {amount}", amount=shipping))
    if order.paid_stars:  # the order's price, and the Stars it was paid with
        lines += [Text.of(bold(t("Total: {amount}", amount=t.money(order.total)))),
                  Text.of(bold(t("Paid: {amount}", amount=paid_text(convo, order))))]
    else:
        lines.append(Text.of(bold(t("Total paid: {amount}", amount=paid_text(convo, order)))))
    lines += ["", delivery_text(convo, order), ""]
    if order.digital_only:
        lines.append(t("Next: your digital items are sent to you here in the chat."))
    elif order.pickup:
        lines.append(t("Next: we prepare your order and tell you here when you can collect "
                       "it."))
    else:
        lines.append(t("Next: we confirm your order and tell you here when it ships, with "
                       "its tracking number."))
    lines.append(t("Follow it any time under “My orders”."))
    return Screen(Text.lines(*lines),
                  rows((Button(t("📦 My orders"), A("orders")), menu_button(convo))),
                  new_message=True, toast=note)


async def settled_screen(deps: Deps, convo: Conversation, order: OrderView) -> Reply:
    """What paying an order that is no longer awaiting payment shows (a double tap, an old
    button): the receipt when it was paid, else why it cannot be paid."""
    t = convo.t
    if order.paid_at is not None and order.status != OrderStatus.CANCELLED:
        return Reply.of(receipt_screen(convo, order, t("This order is already paid.")))
    if order.status == OrderStatus.CANCELLED:
        text = t("Order #{number} was cancelled (or its reservation expired), so it cannot be "
                 "paid. Nothing was charged.", number=order.number)
    else:
        text = t("Order #{number} cannot be paid now.", number=order.number)
    return Reply.of(Screen(Text.of(text), rows(
        (Button(t("🛒 Cart"), A("cart")), Button(t("📦 My orders"), A("orders"))),
        menu_button(convo)), new_message=True, toast=text))


@on_action("paytest")
async def pay_test(deps: Deps, convo: Conversation, action: Action) -> Reply:
    """`paytest:<order_id>`: the built-in test provider's payment."""
    t = convo.t
    orders, payments = deps.shop.orders, deps.shop.payments
    order = await orders.order(convo.actor, action.int(0))  # NotYourOrder for a forged id
    if order.status != OrderStatus.AWAITING_PAYMENT:
        return await settled_screen(deps, convo, order)
    if convo.capabilities.payment_pages:  # an old button: this channel pays on the page
        return await payment_step(deps, convo, order, fresh=False)
    token = await payments.test_confirmation(convo.actor, order.id)
    result = await payments.confirm_test_payment(token)
    order = await orders.order(convo.actor, order.id)
    if result.outcome == Outcome.PAID:
        return Reply.of(receipt_screen(convo, order))
    if result.outcome == Outcome.EXTRA_REFUND:
        return Reply.of(receipt_screen(convo, order, t(
            "This order was already paid; the extra payment is refunded.")))
    return await settled_screen(deps, convo, order)
