"""Telegram's payment updates, answered through the payment service: the shipping question,
the pre-checkout question (within Telegram's 10 seconds), and the money arriving."""

from __future__ import annotations

import asyncio
import logging

from aiogram import F, Router
from aiogram.types import (
    LabeledPrice,
    Message,
    PreCheckoutQuery,
    ShippingOption,
    ShippingQuery,
)

from bot.flows.checkout import receipt_screen
from bot.flows.context import Conversation, Deps
from bot.flows.error_texts import explain
from bot.flows.screens import Screen, Text
from bot.handlers.filters import Magic
from bot.handlers.render import Renderer
from shop.errors import ChatshopError, PaymentRejected
from shop.payments.recording import Outcome

log = logging.getLogger(__name__)
# Telegram waits 10 s for these answers; leave room for the answer's own round trip.
ANSWER_WITHIN_S = 7.0
ERROR_MAX = 255


def payments_router(renderer: Renderer) -> Router:
    router = Router(name="payments")

    @router.shipping_query()
    async def shipping(query: ShippingQuery, convo: Conversation, deps: Deps) -> None:
        t = convo.t
        try:
            offers = await asyncio.wait_for(deps.shop.payments.shipping_options(
                payload=query.invoice_payload,
                country=query.shipping_address.country_code), ANSWER_WITHIN_S)
        except PaymentRejected as refused:
            await query.answer(ok=False, error_message=_reason(convo, refused))
            return
        except (ChatshopError, TimeoutError) as error:
            log.warning("shipping query %s: %s", query.id, error)
            await query.answer(ok=False, error_message=t("Sorry, we cannot check the delivery "
                                                         "right now. Please try again."))
            return
        await query.answer(ok=True, shipping_options=[
            ShippingOption(id=o.id, title=o.title,
                           prices=[LabeledPrice(label=o.title, amount=o.amount)])
            for o in offers])

    @router.pre_checkout_query()
    async def pre_checkout(query: PreCheckoutQuery, convo: Conversation, deps: Deps) -> None:
        t = convo.t
        try:
            await asyncio.wait_for(deps.shop.payments.precheckout(
                payload=query.invoice_payload, currency=query.currency,
                total_amount=query.total_amount, actor=convo.actor), ANSWER_WITHIN_S)
        except PaymentRejected as refused:
            await query.answer(ok=False, error_message=_reason(convo, refused))
            return
        except (ChatshopError, TimeoutError) as error:
            log.warning("pre-checkout %s refused: %s", query.id, error)
            await query.answer(ok=False, error_message=t(
                "Sorry, this order cannot be paid right now. Nothing was charged."))
            return
        await query.answer(ok=True)

    @router.message(Magic(F.successful_payment))
    async def paid(message: Message, convo: Conversation, deps: Deps) -> None:
        payment = message.successful_payment
        assert payment is not None
        t = convo.t
        result = await deps.shop.payments.telegram_payment(
            payload=payment.invoice_payload, currency=payment.currency,
            total_amount=payment.total_amount,
            telegram_payment_charge_id=payment.telegram_payment_charge_id,
            provider_payment_charge_id=payment.provider_payment_charge_id)
        if result.outcome == Outcome.DUPLICATE:
            return  # Telegram sent this payment before; the receipt already went out.
        if result.outcome == Outcome.PAID and result.order_id is not None:
            order = await deps.shop.orders.order(convo.actor, result.order_id)
            await renderer.send(message.chat.id, receipt_screen(convo, order))
            return
        words = {
            Outcome.MISMATCH: t("We received your payment, but it does not match the order. "
                                "Our team will contact you and sort it out."),
            Outcome.LATE_REFUND: t("Your payment arrived after the reservation expired and "
                                   "the items are sold out. The money is being refunded."),
            Outcome.EXTRA_REFUND: t("This order was already paid. The extra payment is being "
                                    "refunded."),
        }
        await renderer.send(message.chat.id, Screen(Text.of(words.get(
            result.outcome, t("We received your payment. Our team will contact you.")))))

    return router


def _reason(convo: Conversation, refused: PaymentRejected) -> str:
    """Why the payment sheet refuses, in the customer's language (Telegram shows it there)."""
    t = convo.t
    explained = explain(t, refused)
    return (explained.detail or t("Sorry, this order cannot be paid right now. Nothing was "
                                  "charged."))[:ERROR_MAX]
