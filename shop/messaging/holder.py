"""Who holds a leased row (`claimed_by` of the WhatsApp inbox and of parked updates)."""

from __future__ import annotations

import os
import secrets
import socket

HOLDER_MAX = 64  # the claimed_by columns are String(64)


def holder_name() -> str:
    """This process and a random part: unique per process and per holder (two channels in
    one test process differ too), at most `HOLDER_MAX` characters."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{secrets.token_hex(4)}"[:HOLDER_MAX]
