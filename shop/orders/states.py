"""The order's life (DESIGN.md section 2) as data: which action leads where."""

from __future__ import annotations

from enum import StrEnum

from shop.errors import IllegalTransition


class OrderStatus(StrEnum):
    AWAITING_PAYMENT = "awaiting_payment"
    PAID = "paid"
    CONFIRMED = "confirmed"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    RETURN_REQUESTED = "return_requested"
    RETURN_APPROVED = "return_approved"
    RETURN_REJECTED = "return_rejected"
    RETURNED = "returned"
    REFUNDED = "refunded"


class OrderAction(StrEnum):
    PAY = "pay"
    PAY_LATE = "pay_late"  # money for an order that expired; allowed if stock can be had again
    EXPIRE = "expire"
    CANCEL = "cancel"
    CONFIRM = "confirm"
    SHIP = "ship"
    DELIVER = "deliver"
    REQUEST_RETURN = "request_return"
    APPROVE_RETURN = "approve_return"
    REJECT_RETURN = "reject_return"
    RECEIVE_RETURN = "receive_return"
    REFUND_RETURN = "refund_return"


S, A = OrderStatus, OrderAction

TRANSITIONS: dict[tuple[OrderStatus, OrderAction], OrderStatus] = {
    (S.AWAITING_PAYMENT, A.PAY): S.PAID,
    (S.AWAITING_PAYMENT, A.EXPIRE): S.CANCELLED,
    (S.CANCELLED, A.PAY_LATE): S.PAID,
    (S.AWAITING_PAYMENT, A.CANCEL): S.CANCELLED,
    (S.PAID, A.CANCEL): S.CANCELLED,
    (S.PAID, A.CONFIRM): S.CONFIRMED,
    # Staff may cancel (and refund) an order they confirmed but have not shipped.
    (S.CONFIRMED, A.CANCEL): S.CANCELLED,
    (S.CONFIRMED, A.SHIP): S.SHIPPED,
    (S.SHIPPED, A.DELIVER): S.DELIVERED,
    (S.DELIVERED, A.REQUEST_RETURN): S.RETURN_REQUESTED,
    # After a rejected return the customer may ask again (another line, a better reason).
    (S.RETURN_REJECTED, A.REQUEST_RETURN): S.RETURN_REQUESTED,
    (S.RETURN_REQUESTED, A.APPROVE_RETURN): S.RETURN_APPROVED,
    (S.RETURN_REQUESTED, A.REJECT_RETURN): S.RETURN_REJECTED,
    (S.RETURN_APPROVED, A.RECEIVE_RETURN): S.RETURNED,
    (S.RETURNED, A.REFUND_RETURN): S.REFUNDED,
}

CUSTOMER_WORDS: dict[OrderStatus, str] = {
    S.AWAITING_PAYMENT: "waiting for payment",
    S.PAID: "paid",
    S.CONFIRMED: "confirmed",
    S.SHIPPED: "shipped",
    S.DELIVERED: "delivered",
    S.CANCELLED: "cancelled",
    S.RETURN_REQUESTED: "return requested",
    S.RETURN_APPROVED: "return approved",
    S.RETURN_REJECTED: "return rejected",
    S.RETURNED: "returned",
    S.REFUNDED: "refunded",
}


ACTION_WORDS: dict[OrderAction, str] = {
    A.PAY: "paid",
    A.PAY_LATE: "paid late",
    A.EXPIRE: "expired",
    A.CANCEL: "cancelled",
    A.CONFIRM: "confirmed",
    A.SHIP: "shipped",
    A.DELIVER: "marked delivered",
    A.REQUEST_RETURN: "returned",
    A.APPROVE_RETURN: "given an approved return",
    A.REJECT_RETURN: "given a rejected return",
    A.RECEIVE_RETURN: "marked as returned",
    A.REFUND_RETURN: "refunded for a return",
}


def next_status(current: str, action: OrderAction) -> OrderStatus:
    """Where `action` takes an order in `current`; IllegalTransition when it cannot happen."""
    try:
        status = OrderStatus(current)
    except ValueError:
        raise IllegalTransition(f"unknown order status {current!r}", current=current,
                                action=action, reason="unknown_status") from None
    target = TRANSITIONS.get((status, action))
    if target is None:
        raise IllegalTransition(
            f"an order that is {CUSTOMER_WORDS[status]} cannot be {ACTION_WORDS[action]}",
            current=status, action=action,
        )
    return target
