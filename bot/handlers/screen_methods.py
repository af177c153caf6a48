"""The Bot API methods screens are sent and edited with: aiogram's own, but answered with only
what the renderer reads of the message (its id, and its photo's file id to send that photo
again without uploading it). aiogram validates each answer into a full `Message` (sender,
chat, entities, every button of the keyboard, every photo size): a hundred microseconds a
call, for fields nobody read."""

from __future__ import annotations

from typing import Any, cast

from aiogram import Bot
from aiogram.methods import (
    EditMessageCaption,
    EditMessageMedia,
    EditMessageText,
    SendMessage,
    SendPhoto,
    TelegramMethod,
)
from aiogram.types import TelegramObject
from pydantic import ConfigDict, model_validator


class SentMessage(TelegramObject):
    """A message the bot sent or edited, as far as the renderer cares."""

    model_config = ConfigDict(extra="ignore")

    message_id: int
    photo_file_id: str | None = None  # of the largest size, when the message is a photo

    @model_validator(mode="before")
    @classmethod
    def _largest_photo(cls, data: Any) -> Any:
        sizes = data.get("photo") if isinstance(data, dict) else None
        if isinstance(sizes, list) and sizes and isinstance(sizes[-1], dict):
            return {**data, "photo_file_id": sizes[-1].get("file_id")}
        return data


# aiogram validates an answer into the method's `__returning__`: these narrow it on purpose.
class SendScreen(SendMessage):
    __returning__ = SentMessage  # type: ignore[assignment]


class SendScreenPhoto(SendPhoto):
    __returning__ = SentMessage  # type: ignore[assignment]


# An edit answers True instead of the message when the message was an inline one.
class EditScreenText(EditMessageText):
    __returning__ = SentMessage | bool


class EditScreenCaption(EditMessageCaption):
    __returning__ = SentMessage | bool


class EditScreenMedia(EditMessageMedia):
    __returning__ = SentMessage | bool


async def sent(bot: Bot, method: TelegramMethod[Any]) -> SentMessage:
    """Call a send method of this module."""
    return cast(SentMessage, await bot(method))


async def edited(bot: Bot, method: TelegramMethod[Any]) -> SentMessage | bool:
    """Call an edit method of this module."""
    return cast(SentMessage | bool, await bot(method))
