"""A broadcast of N messages to N chats under Telegram's flood control.

    python bench/broadcast.py [--messages 3000] [--concurrency 16] [--backend memory|redis]
                              [--baseline]

The fake Bot API server (tests/fakes) runs in this process on loopback with its flood control
on, as Telegram's: 30 messages a second per bot (a bucket of 30) and 1 a second per chat (a
bucket of 3), refusing the excess with 429 and ``retry_after``. ``bot.broadcast`` sends one
message to each chat through the real aiogram session with the rate limiter (in-process, or
in a throwaway Redis with ``--backend redis``) and the retry middleware. The time is compared
with N / 30 s, the least Telegram allows. ``--baseline`` also runs the same broadcast with the
limiter switched off (only the retry middleware waiting out 429s), in the same run.

Prints readable lines, then one JSON line (DESIGN.md section 4): messages, seconds,
limit_seconds, ratio (seconds / limit_seconds), http_429.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiogram.methods import SendMessage

from bot.broadcast import BroadcastSummary, broadcast
from bot.telegram_app import make_bot
from bot.telegram_limits import Bucket, SendLimiter, TelegramLimits
from tests.fakes.telegram_server import FakeTelegram

TOKEN = "123456:AAE-bench-token"
TELEGRAM_PER_S = 30.0
FIRST_CHAT = 100_000
UNLIMITED = TelegramLimits(overall=Bucket(1e9, 10**9), private_chat=Bucket(1e9, 10**9),
                           group_chat=Bucket(1e9, 10**9))


def message(chat_id: int | str) -> SendMessage:
    return SendMessage(chat_id=chat_id, text=f"Spring sale: 20% off everything, {chat_id}!")


async def run_once(messages: int, concurrency: int, limiter: SendLimiter
                   ) -> tuple[BroadcastSummary, int, int, float]:
    """One broadcast on a fresh fake server; returns the summary, the 429s Telegram answered,
    the messages that arrived, and the seconds taken."""
    async with FakeTelegram() as tg:
        tg.add_bot(TOKEN, "chatshop_bench_bot")
        tg.flood_limits(per_chat_per_s=1.0, global_per_s=TELEGRAM_PER_S, burst=3)
        chats = list(range(FIRST_CHAT, FIRST_CHAT + messages))
        for chat in chats:
            tg.user(chat, f"C{chat}")
        bot = make_bot(TOKEN, tg.base_url, limiter)
        try:
            began = time.perf_counter()
            summary = await broadcast(bot, chats, message, concurrency=concurrency)
            seconds = time.perf_counter() - began
        finally:
            await bot.session.close()
            await limiter.close()
        arrived = sum(len(tg.chat(chat)) for chat in chats)
        return summary, tg.bot().http_429, arrived, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--backend", choices=["memory", "redis"], default="memory")
    parser.add_argument("--baseline", action="store_true",
                        help="also run without the limiter (retry middleware only)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the baseline's 429 warnings would flood
    limit_seconds = args.messages / TELEGRAM_PER_S
    server = None
    if args.backend == "redis":
        from bot.telegram_limits.redis_buckets import RedisBuckets
        from tests.support.redis import RedisServer

        server = RedisServer.start()
        limiter = SendLimiter(RedisBuckets.from_url(server.url()))
    else:
        limiter = SendLimiter.in_process()
    limits = limiter.store.limits
    print(f"broadcast: {args.messages} messages to {args.messages} chats, "
          f"{args.concurrency} at a time, limiter {args.backend} "
          f"({limits.overall.rate:g}/s overall, bucket {limits.overall.burst}; "
          f"{limits.private_chat.rate:g}/s per chat, bucket {limits.private_chat.burst})")
    print(f"  fake Bot API flood control: {TELEGRAM_PER_S:g}/s per bot (bucket "
          f"{TELEGRAM_PER_S:g}), 1/s per chat (bucket 3), 429 with retry_after")
    try:
        summary, http_429, arrived, seconds = asyncio.run(
            run_once(args.messages, args.concurrency, limiter))
    finally:
        if server is not None:
            server.stop()
    ratio = seconds / limit_seconds
    print(f"  {seconds:.1f} s against the {limit_seconds:.1f} s Telegram allows: "
          f"ratio {ratio:.3f}; {http_429} answers 429")
    print(f"  {summary.sent} sent, {summary.blocked} blocked, {summary.failed} failed; "
          f"{arrived} arrived")
    result: dict[str, Any] = {
        "bench": "broadcast", "backend": args.backend, "messages": args.messages,
        "concurrency": args.concurrency, "seconds": round(seconds, 2),
        "limit_seconds": round(limit_seconds, 2), "ratio": round(ratio, 3),
        "http_429": http_429, "sent": summary.sent, "failed": summary.failed,
        "arrived": arrived,
    }
    if args.baseline:
        base, base_429, _, base_seconds = asyncio.run(
            run_once(args.messages, args.concurrency, SendLimiter.in_process(UNLIMITED)))
        print(f"  baseline without the limiter: {base_seconds:.1f} s, {base_429} answers 429, "
              f"{base.sent} sent, {base.failed} failed after the retries")
        result.update(baseline_seconds=round(base_seconds, 2), baseline_http_429=base_429,
                      baseline_sent=base.sent, baseline_failed=base.failed)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
