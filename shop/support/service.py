"""Support use cases: customers write, staff answer and close, both read threads.

A customer has at most one open thread per subject (an order, or "general"), kept by a unique
``open_key`` on the thread; a closed thread stays closed and the customer's next message on
that subject starts a new one. Every message is an outbox event written in the same
transaction (``support.message`` for staff alerts, ``support.reply`` for the customer bot).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shop.auth import Actor, CustomerActor, Permission, StaffActor, require
from shop.customers.models import Customer
from shop.db.base import utcnow
from shop.errors import IllegalTransition, InputReason, InvalidInput, NotAllowed, NotFound
from shop.events.outbox import Topic, publish
from shop.orders.models import Order
from shop.orders.transitions import load_order
from shop.support.models import SupportMessage, SupportMessageRef, SupportThread
from shop.support.types import (
    MAX_PHOTO_ID,
    MAX_PHOTOS,
    MAX_REF,
    MAX_TEXT,
    MessageAuthor,
    SupportMessageView,
    ThreadStatus,
    ThreadSummary,
    ThreadView,
)

MAX_LIST = 100  # threads per listing
MAX_THREAD_MESSAGES = 200  # newest messages returned with a thread
PREVIEW = 200  # characters of the last message shown in a listing
_CREATE_ATTEMPTS = 3  # a lost race for a thread's open_key is retried, then found
_KEEP = {"\n", "\t"}


def clean_text(raw: str) -> str:
    """Line breaks normalised, control characters dropped (PostgreSQL refuses NUL), trimmed;
    InvalidInput above MAX_TEXT characters."""
    if len(raw) > 4 * MAX_TEXT:  # refuse megabytes before walking them
        raise InvalidInput(f"the message is too long (at most {MAX_TEXT} characters)",
                           field="message", reason=InputReason.TOO_LONG, max_length=MAX_TEXT)
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(c for c in text if c in _KEEP or unicodedata.category(c) != "Cc").strip()
    if len(text) > MAX_TEXT:
        raise InvalidInput(f"the message is too long (at most {MAX_TEXT} characters)",
                           field="message", reason=InputReason.TOO_LONG, max_length=MAX_TEXT)
    return text


def clean_photos(photo_ids: Sequence[str]) -> list[str]:
    if isinstance(photo_ids, str):
        raise InvalidInput("photo ids must be a list", field="photos", reason=InputReason.FORMAT)
    if len(photo_ids) > MAX_PHOTOS:
        raise InvalidInput(f"at most {MAX_PHOTOS} photos can go with one message",
                           field="photos", reason=InputReason.TOO_MANY, limit=MAX_PHOTOS)
    photos = [p.strip() for p in photo_ids]
    if any(not p or len(p) > MAX_PHOTO_ID for p in photos):
        raise InvalidInput("a photo id is empty or too long", field="photo",
                           reason=InputReason.FORMAT)
    return photos


def _open_key(customer_id: int, order_id: int | None) -> str:
    return f"order:{order_id}" if order_id is not None else f"general:{customer_id}"


def message_view(row: SupportMessage) -> SupportMessageView:
    return SupportMessageView(
        id=row.id, thread_id=row.thread_id, author=MessageAuthor(row.author),
        staff_telegram_id=row.staff_telegram_id, text=row.text,
        photo_ids=tuple(row.photo_ids), created_at=row.created_at,
    )


def _summary_query() -> Select[tuple[SupportThread, str, int | None, int, str | None]]:
    count = (select(func.count(SupportMessage.id))
             .where(SupportMessage.thread_id == SupportThread.id).scalar_subquery())
    last = (select(SupportMessage.text).where(SupportMessage.thread_id == SupportThread.id)
            .order_by(SupportMessage.id.desc()).limit(1).scalar_subquery())
    return (select(SupportThread, Customer.name, Order.number, count, last)
            .join(Customer, Customer.id == SupportThread.customer_id)
            .outerjoin(Order, Order.id == SupportThread.order_id))


def _summary(thread: SupportThread, name: str, number: int | None, count: int,
             last: str | None) -> ThreadSummary:
    preview = " ".join((last or "").split())
    if len(preview) > PREVIEW:
        preview = preview[:PREVIEW - 1] + "…"
    return ThreadSummary(
        id=thread.id, customer_id=thread.customer_id, customer_name=name,
        order_id=thread.order_id, order_number=number, status=ThreadStatus(thread.status),
        assigned_staff_id=thread.assigned_staff_id, message_count=count, last_message=preview,
        created_at=thread.created_at, updated_at=thread.updated_at,
        last_customer_message_at=thread.last_customer_message_at,
        last_staff_message_at=thread.last_staff_message_at,
    )


async def _load_thread(session: AsyncSession, thread_id: int, *, lock: bool) -> SupportThread:
    query = select(SupportThread).where(SupportThread.id == thread_id)
    if lock:
        query = query.with_for_update()
    thread = (await session.execute(query)).scalar_one_or_none()
    if thread is None:
        raise NotFound(f"support thread {thread_id} does not exist", what="support_thread",
                       ref=thread_id)
    return thread


def _check_reader(actor: Actor, thread: SupportThread) -> None:
    if isinstance(actor, CustomerActor):
        if thread.customer_id != actor.customer_id:
            raise NotAllowed(f"support thread {thread.id} is not one of your conversations",
                             reason="not_owner", what="support_thread")
        return
    require(actor, Permission.MESSAGES)


class SupportService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], *,
                 notify: Callable[[], None] = lambda: None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self._sessions = sessions
        self._notify = notify
        self._clock = clock

    async def customer_message(self, customer_id: int, text: str, *, order_id: int | None = None,
                               photo_ids: Sequence[str] = ()) -> SupportMessageView:
        """A customer writes to support, about one of their orders or in general.

        The message joins the customer's open thread on that subject or starts a new one (a
        thread staff closed is never re-opened by the customer). Publishes `support.message`.
        Raises InvalidInput (empty without photos, over 4000 characters, over 10 photos),
        NotFound (no such customer or order) and NotYourOrder (someone else's order).
        """
        body, photos = clean_text(text), clean_photos(photo_ids)
        if not body and not photos:
            raise InvalidInput("write a message or send a photo", field="message",
                               reason=InputReason.REQUIRED)
        for attempt in range(1, _CREATE_ATTEMPTS + 1):
            try:
                async with self._sessions.begin() as session:
                    view = await self._post_customer(session, customer_id, body, order_id,
                                                     photos)
                break
            except IntegrityError:
                # Another message created this subject's open thread first; join it.
                if attempt == _CREATE_ATTEMPTS:
                    raise
        self._notify()
        return view

    async def _post_customer(self, session: AsyncSession, customer_id: int, body: str,
                             order_id: int | None, photos: list[str]) -> SupportMessageView:
        customer = await session.get(Customer, customer_id)
        if customer is None:
            raise NotFound(f"customer {customer_id} does not exist", what="customer",
                           ref=customer_id)
        number: int | None = None
        if order_id is not None:
            order = await load_order(session, order_id, actor=CustomerActor(customer_id),
                                     lock=False)
            number = order.number
        now = self._clock()
        key = _open_key(customer_id, order_id)
        thread = (await session.execute(
            select(SupportThread).where(SupportThread.open_key == key).with_for_update()
        )).scalar_one_or_none()
        new_thread = thread is None
        if thread is None:
            thread = SupportThread(customer_id=customer_id, order_id=order_id,
                                   status=ThreadStatus.OPEN.value, open_key=key,
                                   created_at=now, updated_at=now)
            session.add(thread)
            await session.flush()
        thread.updated_at = now
        thread.last_customer_message_at = now
        message = SupportMessage(thread_id=thread.id, author=MessageAuthor.CUSTOMER.value,
                                 text=body, photo_ids=photos, created_at=now)
        session.add(message)
        await session.flush()
        publish(session, Topic.SUPPORT_MESSAGE, {
            "thread_id": thread.id, "message_id": message.id, "customer_id": customer_id,
            "customer_name": customer.name, "order_id": order_id, "order_number": number,
            "text": body, "photo_ids": photos, "new_thread": new_thread,
        })
        return message_view(message)

    async def staff_reply(self, actor: Actor, thread_id: int, text: str) -> SupportMessageView:
        """Staff answer a thread; the customer bot delivers it from the `support.reply` event.

        Needs the messages permission. Answering a closed thread re-opens it (staff chose to
        write, so the customer's answer should land in the same conversation), unless the
        customer has since started a new open thread on the same subject: then
        IllegalTransition, naming the thread to answer instead.
        """
        require(actor, Permission.MESSAGES)
        body = clean_text(text)
        if not body:
            raise InvalidInput("write the answer first", field="answer",
                               reason=InputReason.REQUIRED)
        try:
            async with self._sessions.begin() as session:
                view = await self._post_staff(session, actor, thread_id, body)
        except IntegrityError:
            raise IllegalTransition(
                f"the customer opened a new conversation while thread {thread_id} was closed; "
                "answer there", current=ThreadStatus.CLOSED.value, action="reply",
                subject="support") from None
        self._notify()
        return view

    async def staff_message(self, actor: Actor, customer_id: int, text: str, *,
                            order_id: int | None = None) -> SupportMessageView:
        """Staff write to a customer first (about an order, or in general).

        The message joins the customer's open thread on that subject or starts one, so the
        customer's answer lands in the same conversation. Needs the messages permission;
        raises NotFound for an unknown customer or order and InvalidInput when the order
        is someone else's.
        """
        require(actor, Permission.MESSAGES)
        body = clean_text(text)
        if not body:
            raise InvalidInput("write the message first")
        for attempt in range(1, _CREATE_ATTEMPTS + 1):
            try:
                async with self._sessions.begin() as session:
                    thread_id = await self._open_thread(session, customer_id, order_id)
                    view = await self._post_staff(session, actor, thread_id, body)
                break
            except IntegrityError:
                if attempt == _CREATE_ATTEMPTS:  # lost the race for open_key; join it
                    raise
        self._notify()
        return view

    async def _open_thread(self, session: AsyncSession, customer_id: int,
                           order_id: int | None) -> int:
        if await session.get(Customer, customer_id) is None:
            raise NotFound(f"customer {customer_id} does not exist")
        if order_id is not None:
            owner = await session.scalar(select(Order.customer_id).where(Order.id == order_id))
            if owner is None:
                raise NotFound(f"order {order_id} does not exist")
            if owner != customer_id:
                raise InvalidInput(f"order {order_id} is not customer {customer_id}'s")
        key = _open_key(customer_id, order_id)
        thread_id = await session.scalar(
            select(SupportThread.id).where(SupportThread.open_key == key))
        if thread_id is not None:
            return int(thread_id)
        now = self._clock()
        thread = SupportThread(customer_id=customer_id, order_id=order_id,
                               status=ThreadStatus.OPEN.value, open_key=key,
                               created_at=now, updated_at=now)
        session.add(thread)
        await session.flush()
        return thread.id

    async def _post_staff(self, session: AsyncSession, actor: Actor, thread_id: int,
                          body: str) -> SupportMessageView:
        thread = await _load_thread(session, thread_id, lock=True)
        reopened = thread.status == ThreadStatus.CLOSED
        if reopened:
            key = _open_key(thread.customer_id, thread.order_id)
            newer = await session.scalar(
                select(SupportThread.id).where(SupportThread.open_key == key))
            if newer is not None:
                raise IllegalTransition(
                    f"thread {thread_id} is closed and the customer has a newer open "
                    f"thread {newer} on the same subject; answer there",
                    current=thread.status, action="reply", subject="support")
            thread.status, thread.open_key = ThreadStatus.OPEN.value, key
        staff_id = actor.telegram_id if isinstance(actor, StaffActor) else None
        now = self._clock()
        thread.updated_at = now
        thread.last_staff_message_at = now
        if thread.assigned_staff_id is None:
            thread.assigned_staff_id = staff_id
        message = SupportMessage(thread_id=thread.id, author=MessageAuthor.STAFF.value,
                                 staff_telegram_id=staff_id, text=body, photo_ids=[],
                                 created_at=now)
        session.add(message)
        await session.flush()
        number = (await session.scalar(select(Order.number).where(Order.id == thread.order_id))
                  if thread.order_id is not None else None)
        payload: dict[str, Any] = {
            "thread_id": thread.id, "message_id": message.id,
            "customer_id": thread.customer_id, "order_id": thread.order_id,
            "order_number": number, "text": body, "staff": actor.label,
            "staff_telegram_id": staff_id, "reopened": reopened,
        }
        publish(session, Topic.SUPPORT_REPLY, payload)
        return message_view(message)

    async def close(self, actor: Actor, thread_id: int) -> ThreadSummary:
        """Close a thread (idempotent). Staff with the messages permission may close any; a
        customer may close their own. The customer's next message starts a new thread."""
        async with self._sessions.begin() as session:
            thread = await _load_thread(session, thread_id, lock=True)
            _check_reader(actor, thread)
            if thread.status != ThreadStatus.CLOSED:
                thread.status, thread.open_key = ThreadStatus.CLOSED.value, None
                thread.updated_at = self._clock()
        return await self._summary(thread_id)

    async def threads(self, actor: Actor, *, status: ThreadStatus | str | None = None,
                      limit: int = 20) -> list[ThreadSummary]:
        """Threads, most recently active first: staff see all, a customer only their own."""
        if not 1 <= limit <= MAX_LIST:
            raise InvalidInput(f"limit must be 1 to {MAX_LIST}", field="limit",
                               reason=InputReason.OUT_OF_RANGE, minimum=1, maximum=MAX_LIST)
        query = _summary_query()
        if isinstance(actor, CustomerActor):
            query = query.where(SupportThread.customer_id == actor.customer_id)
        else:
            require(actor, Permission.MESSAGES)
        if status is not None:
            try:
                wanted = ThreadStatus(status)
            except ValueError:
                raise InvalidInput(f"unknown thread status {status!r}", field="status",
                                   reason=InputReason.FORMAT, value=str(status)) from None
            query = query.where(SupportThread.status == wanted.value)
        query = query.order_by(SupportThread.updated_at.desc(), SupportThread.id.desc())
        async with self._sessions() as session:
            rows = (await session.execute(query.limit(limit))).tuples().all()
        return [_summary(*row) for row in rows]

    async def thread(self, actor: Actor, thread_id: int) -> ThreadView:
        """One thread with its newest messages (oldest first). A customer reaching another
        customer's thread gets NotAllowed; staff need the messages permission."""
        async with self._sessions() as session:
            thread = await _load_thread(session, thread_id, lock=False)
            _check_reader(actor, thread)
            rows = (await session.execute(
                select(SupportMessage).where(SupportMessage.thread_id == thread_id)
                .order_by(SupportMessage.id.desc()).limit(MAX_THREAD_MESSAGES)
            )).scalars().all()
        messages = tuple(message_view(row) for row in reversed(rows))
        return ThreadView(summary=await self._summary(thread_id), messages=messages)

    async def _summary(self, thread_id: int) -> ThreadSummary:
        async with self._sessions() as session:
            row = (await session.execute(
                _summary_query().where(SupportThread.id == thread_id))).tuples().one()
        return _summary(*row)

    async def set_message_ref(self, message_id: int, ref: str) -> None:
        """Remember that an alert for `message_id` went out as `ref` (an opaque string unique
        across chats, e.g. ``telegram:<chat id>:<message id>``). A message may have many refs
        (one per staff chat); setting a ref again points it at the newer message."""
        ref = ref.strip()
        if not ref or len(ref) > MAX_REF:
            raise InvalidInput(f"a message reference of 1 to {MAX_REF} characters is needed",
                               field="reference", reason=InputReason.FORMAT, max_length=MAX_REF)
        for attempt in range(1, _CREATE_ATTEMPTS + 1):
            try:
                async with self._sessions.begin() as session:
                    if await session.get(SupportMessage, message_id) is None:
                        raise NotFound(f"support message {message_id} does not exist",
                                       what="support_message", ref=message_id)
                    row = await session.get(SupportMessageRef, ref)
                    if row is None:
                        session.add(SupportMessageRef(ref=ref, message_id=message_id,
                                                      created_at=self._clock()))
                    else:
                        row.message_id = message_id
                return
            except IntegrityError:
                # The same ref was recorded concurrently; the next attempt updates it.
                if attempt == _CREATE_ATTEMPTS:
                    raise

    async def thread_for_ref(self, ref: str) -> int | None:
        """The thread whose message an alert `ref` was sent for, or None if unknown."""
        async with self._sessions() as session:
            thread_id: int | None = await session.scalar(
                select(SupportMessage.thread_id)
                .join(SupportMessageRef, SupportMessageRef.message_id == SupportMessage.id)
                .where(SupportMessageRef.ref == ref.strip()))
        return thread_id
