"""Signed tokens: invoice payloads naming an order, the test provider's confirmations and its
payment page links.

Both are HMAC-SHA256 under a key only the shop has, so a forged or altered
token is refused before anything else is looked at.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from shop.errors import PaymentRejected

PAYLOAD_PREFIX = "o1"
TEST_PREFIX = "tp1"


def _mac(key: bytes, message: str, length: int) -> str:
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()[:length]


def invoice_payload(key: bytes, order_id: int, number: int) -> str:
    """`o1:<order id>:<number>:<mac>`: well under Telegram's 128-byte limit."""
    body = f"{PAYLOAD_PREFIX}:{order_id}:{number}"
    return f"{body}:{_mac(key, body, 32)}"


def parse_invoice_payload(key: bytes, payload: str) -> int:
    """The order id an invoice payload names; PaymentRejected when it is not ours."""
    parts = payload.split(":")
    if len(parts) != 4 or parts[0] != PAYLOAD_PREFIX or not parts[1].isdigit():
        raise PaymentRejected("the invoice payload is not one of this shop's", reason="forged")
    body = ":".join(parts[:3])
    if not hmac.compare_digest(_mac(key, body, 32), parts[3]):
        raise PaymentRejected("the invoice payload's signature does not match",
                              reason="forged")
    return int(parts[1])


@dataclass(frozen=True, slots=True)
class TestConfirmation:
    order_id: int
    payment_id: str
    amount: int
    currency: str


def sign_test_confirmation(key: bytes, confirmation: TestConfirmation) -> str:
    body = (f"{TEST_PREFIX}:{confirmation.order_id}:{confirmation.payment_id}:"
            f"{confirmation.amount}:{confirmation.currency}")
    return f"{body}:{_mac(key, body, 64)}"


def verify_test_confirmation(key: bytes, token: str) -> TestConfirmation:
    """Parse a test-provider confirmation; PaymentRejected when forged or malformed."""
    parts = token.strip().split(":")
    if (len(parts) != 6 or parts[0] != TEST_PREFIX or not parts[1].isdigit()
            or not parts[3].isdigit() or not parts[2].isalnum()):
        raise PaymentRejected("this is not a test-provider payment confirmation",
                              reason="forged")
    body = ":".join(parts[:5])
    if not hmac.compare_digest(_mac(key, body, 64), parts[5]):
        raise PaymentRejected("the payment confirmation's signature does not match",
                              reason="forged")
    return TestConfirmation(int(parts[1]), parts[2], int(parts[3]), parts[4])


TEST_LINK_PREFIX = "tl1"


def sign_test_link(key: bytes, order_id: int) -> str:
    """The signature of the test provider's payment page for one order (its URL's `sig`)."""
    return _mac(key, f"{TEST_LINK_PREFIX}:{order_id}", 40)


def verify_test_link(key: bytes, order_id: int, signature: str) -> None:
    """PaymentRejected unless `signature` is this shop's for the order's payment page."""
    if not hmac.compare_digest(sign_test_link(key, order_id).encode(),
                               signature.strip().encode()):
        raise PaymentRejected("the payment link's signature does not match", reason="forged")
