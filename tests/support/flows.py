"""Talking to the flows directly, as a channel would: type, press a button by its label."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.flows import respond
from bot.flows.actions import Action
from bot.flows.context import Conversation, Deps, ShopInfo
from bot.flows.inputs import Command, Input, Message, Photo, Press
from bot.flows.screens import Button, Screen
from shop.bootstrap import Shop


def deps_for(shop: Shop) -> Deps:
    return Deps(shop, ShopInfo(shop.settings.shop_name, shop.settings.shop_terms,
                               shop.settings.shop_contact))


@dataclass
class Chat:
    deps: Deps
    convo: Conversation
    screens: list[Screen] = field(default_factory=list)

    @classmethod
    async def open(cls, shop: Shop, external_id: str, language: str = "en",
                   name: str = "Alice") -> Chat:
        customer = await shop.customers.get_or_create("telegram", external_id, name=name,
                                                      language=language)
        return cls(deps_for(shop), Conversation(customer.id, language, "telegram", name=name))

    async def do(self, received: Input) -> Screen:
        reply = await respond(self.deps, self.convo, received)
        assert reply.screens, f"no answer to {received}"
        self.screens.extend(reply.screens)
        return reply.screens[-1]

    async def send(self, text: str) -> Screen:
        if text.startswith("/"):
            name, _, arg = text[1:].partition(" ")
            return await self.do(Command(name, arg.strip()))
        return await self.do(Message(text))

    async def photo(self, file_id: str) -> Screen:
        return await self.do(Photo(file_id))

    @property
    def last(self) -> Screen:
        return self.screens[-1]

    def button(self, label: str | re.Pattern[str]) -> Button:
        for screen in reversed(self.screens):
            for row in screen.buttons:
                for button in row:
                    if (button.label == label if isinstance(label, str)
                            else label.search(button.label)):
                        return button
            if screen.buttons:
                break
        raise AssertionError(f"no button {label!r}; last buttons: {self.last.labels()}")

    async def press(self, label: str | re.Pattern[str]) -> Screen:
        button = self.button(label)
        assert button.action is not None, f"{label!r} is a link"
        return await self.do(Press(button.action))

    async def press_action(self, action: Action | None) -> Screen:
        return await self.do(Press(action))
