"""Bot API methods that show things in chats: send, edit, delete, files, commands, menus.

Each method is ``fn(server, bot, params) -> result`` and raises ``ApiError`` with the texts the
real Bot API answers with.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tests.fakes.telegram_markup import (
    CAPTION_LIMIT,
    NOT_MODIFIED,
    TEXT_LIMIT,
    bad_request,
    check_reply_markup,
    format_text,
    inline_keyboard,
    utf16_len,
)
from tests.fakes.telegram_model import BotAccount, ChatMessage
from tests.fakes.telegram_params import Params, Upload

if TYPE_CHECKING:
    from tests.fakes.telegram_server import FakeTelegram

Method = Callable[["FakeTelegram", BotAccount, Params], Any]
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM")


def _text_and_entities(p: Params, field: str, limit: int, *, too_long: str,
                       entities_field: str = "entities") -> tuple[str, list[dict[str, Any]]]:
    raw = p.text(field) or ""
    text, entities = format_text(raw, p.text("parse_mode"), p.json(entities_field))
    if utf16_len(text) > limit:
        raise bad_request(too_long)
    return text, entities


def _message_text(p: Params, *, edit: bool = False) -> tuple[str, list[dict[str, Any]]]:
    if not (p.text("text") or "").strip():
        raise bad_request("message text is empty")
    text, entities = _text_and_entities(
        p, "text", TEXT_LIMIT, too_long="MESSAGE_TOO_LONG" if edit else "message is too long")
    if not text.strip():
        raise bad_request("message text is empty")
    return text, entities


def _caption(p: Params, field: str = "caption",
             entities_field: str = "caption_entities") -> dict[str, Any]:
    if field not in p:
        return {}
    text, entities = _text_and_entities(p, field, CAPTION_LIMIT, entities_field=entities_field,
                                        too_long="message caption is too long")
    content: dict[str, Any] = {"caption": text} if text else {}
    if entities and text:
        content["caption_entities"] = entities
    return content


def _with_markup(content: dict[str, Any], markup: dict[str, Any] | None) -> dict[str, Any]:
    keyboard = inline_keyboard(markup)
    if keyboard:
        content["reply_markup"] = keyboard
    return content


def _reply_to(srv: FakeTelegram, bot: BotAccount, chat_id: int, p: Params) -> dict[str, Any]:
    params = p.json("reply_parameters") or {}
    target = params.get("message_id") if isinstance(params, dict) else None
    target = target or p.integer("reply_to_message_id")
    if not target:
        return {}
    message = srv.find_message(bot, chat_id, int(target))
    if message is None:
        if params.get("allow_sending_without_reply") or p.flag("allow_sending_without_reply"):
            return {}
        raise bad_request("message to be replied not found")
    return {"reply_to_message": {k: v for k, v in message.raw.items() if k != "reply_to_message"}}


def send_content(srv: FakeTelegram, bot: BotAccount, chat_id: int, p: Params,
          content: dict[str, Any], *, allow_pay: bool = False) -> ChatMessage:
    markup = check_reply_markup(p.json("reply_markup"), allow_pay=allow_pay)
    content = {**_reply_to(srv, bot, chat_id, p), **_with_markup(content, markup)}
    message = srv.store_message(bot, chat_id, from_bot=True, content=content)
    if markup and "inline_keyboard" not in markup:
        message.reply_keyboard = markup
    return message


def send_message(srv: FakeTelegram, bot: BotAccount, p: Params) -> Any:
    chat_id = srv.resolve_chat(bot, p)
    text, entities = _message_text(p)
    content: dict[str, Any] = {"text": text}
    if entities:
        content["entities"] = entities
    if isinstance(p.json("link_preview_options"), dict):
        content["link_preview_options"] = p.json("link_preview_options")
    return send_content(srv, bot, chat_id, p, content).raw


# -- files ------------------------------------------------------------------------------------
def _image_size(data: bytes) -> tuple[int, int]:
    if data.startswith(_IMAGE_MAGIC[0]) and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    return 1280, 960


def _photo_sizes(srv: FakeTelegram, data: bytes | None, url: str | None) -> list[dict[str, Any]]:
    width, height = _image_size(data) if data else (1280, 960)
    sizes: list[dict[str, Any]] = []
    longest = max(width, height, 1)
    for side in (90, 320, 800, 1280):
        scale = min(1.0, side / longest)
        stored = srv.new_file("photo", data=data, url=url, ext="jpg",
                              width=max(1, round(width * scale)),
                              height=max(1, round(height * scale)))
        sizes.append({"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
                      "file_size": stored.size or 1000 * len(sizes) + 1000,
                      "width": stored.width, "height": stored.height})
        if scale == 1.0:
            break
    for size in sizes:
        srv.photo_sets[size["file_id"]] = sizes
    return sizes


def _upload_or_reference(p: Params, field: str, value: Any) -> Upload | str:
    if isinstance(value, Upload):
        return value
    if not isinstance(value, str) or not value:
        raise bad_request(f"there is no {field} in the request")
    if value.startswith("attach://"):
        upload = p.upload(value)
        if upload is None:
            raise bad_request(f"wrong HTTP URL specified: {value} is not attached")
        return upload
    return value


def resolve_photo(srv: FakeTelegram, p: Params, value: Any) -> list[dict[str, Any]]:
    """A photo by upload, HTTP URL or file_id, as the PhotoSize array Telegram returns."""
    source = _upload_or_reference(p, "photo", value)
    if isinstance(source, Upload):
        if not source.data:
            raise bad_request("file must be non-empty")
        if not source.data.startswith(_IMAGE_MAGIC) and source.data[8:12] != b"WEBP":
            raise bad_request("IMAGE_PROCESS_FAILED")
        return _photo_sizes(srv, source.data, None)
    if source.startswith(("http://", "https://")):
        if not srv.url_ok(source):
            raise bad_request("failed to get HTTP URL content")
        return _photo_sizes(srv, None, source)
    stored = srv.files.get(source)
    if stored is None:
        raise bad_request("wrong file identifier/HTTP URL specified")
    if stored.kind != "photo":
        raise bad_request(f"can't use file of type {stored.kind.capitalize()} as Photo")
    return srv.photo_sets[source]


def resolve_document(srv: FakeTelegram, p: Params, value: Any) -> dict[str, Any]:
    source = _upload_or_reference(p, "document", value)
    if isinstance(source, Upload):
        if not source.data:
            raise bad_request("file must be non-empty")
        stored = srv.new_file("document", data=source.data, ext=source.filename.rpartition(".")[2])
        name, mime = source.filename, source.content_type
    elif source.startswith(("http://", "https://")):
        if not srv.url_ok(source):
            raise bad_request("failed to get HTTP URL content")
        stored = srv.new_file("document", url=source, ext="bin")
        name, mime = source.rsplit("/", 1)[-1], "application/octet-stream"
    elif source in srv.files:
        stored = srv.files[source]
        name, mime = stored.file_path or "file", "application/octet-stream"
    else:
        raise bad_request("wrong file identifier/HTTP URL specified")
    return {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
            "file_name": name, "mime_type": mime, "file_size": stored.size}


def send_photo(srv: FakeTelegram, bot: BotAccount, p: Params) -> Any:
    chat_id = srv.resolve_chat(bot, p)
    caption = _caption(p)
    content = {"photo": resolve_photo(srv, p, p.get("photo")), **caption}
    if p.flag("has_spoiler"):
        content["has_media_spoiler"] = True
    return send_content(srv, bot, chat_id, p, content).raw


def send_document(srv: FakeTelegram, bot: BotAccount, p: Params) -> Any:
    chat_id = srv.resolve_chat(bot, p)
    caption = _caption(p)
    content = {"document": resolve_document(srv, p, p.get("document")), **caption}
    return send_content(srv, bot, chat_id, p, content).raw


def _input_media(srv: FakeTelegram, p: Params, item: Any) -> dict[str, Any]:
    if not isinstance(item, dict) or item.get("type") not in ("photo", "document"):
        raise bad_request("can't parse InputMedia: unsupported media type")
    sub = Params({**p.values, "caption": item.get("caption"),
                  "parse_mode": item.get("parse_mode"),
                  "caption_entities": item.get("caption_entities")})
    content = _caption(sub)
    if item["type"] == "photo":
        return {"photo": resolve_photo(srv, p, item.get("media")), **content}
    return {"document": resolve_document(srv, p, item.get("media")), **content}


def send_media_group(srv: FakeTelegram, bot: BotAccount, p: Params) -> Any:
    chat_id = srv.resolve_chat(bot, p)
    media = p.json("media")
    if not isinstance(media, list) or not media:
        raise bad_request("there are no media in the request")
    if len(media) < 2:
        raise bad_request("MEDIA_EMPTY: media group must contain 2-10 items")
    if len(media) > 10:
        raise bad_request("too many messages to send as an album")
    contents = [_input_media(srv, p, item) for item in media]
    group_id = srv.new_id("media_group")
    messages = [srv.store_message(bot, chat_id, from_bot=True,
                                  content={**content, "media_group_id": group_id})
                for content in contents]
    return [message.raw for message in messages]


# -- edits ------------------------------------------------------------------------------------
def _target(srv: FakeTelegram, bot: BotAccount, p: Params, *, verb: str) -> ChatMessage:
    if "inline_message_id" in p:
        raise bad_request(f"message to {verb} not found")
    chat_id = srv.resolve_chat(bot, p)
    message_id = p.integer("message_id", required=True)
    message = srv.find_message(bot, chat_id, int(message_id or 0))
    if message is None:
        raise bad_request(f"message to {verb} not found")
    if verb == "edit" and not message.from_bot:
        raise bad_request("message can't be edited")
    return message


def _apply_edit(message: ChatMessage, changes: dict[str, Any], removed: tuple[str, ...],
                action: str, now: float) -> Any:
    before = {k: v for k, v in message.raw.items() if k != "edit_date"}
    after = {k: v for k, v in {**before, **changes}.items() if k not in removed or k in changes}
    if before == after:
        raise bad_request(NOT_MODIFIED)
    message.raw = {**after, "edit_date": int(now)}
    message.record(action)
    return message.raw


def edit_message_text(srv: FakeTelegram, bot: BotAccount, p: Params) -> Any:
    message = _target(srv, bot, p, verb="edit")
    if "text" not in message.raw:
        raise bad_request("there is no text in the message to edit")
    text, entities = _message_text(p, edit=True)
    markup = inline_keyboard(check_reply_markup(p.json("reply_markup")))
    changes: dict[str, Any] = {"text": text}
    if entities:
        changes["entities"] = entities
    if markup:
        changes["reply_markup"] = markup
    return _apply_edit(message, changes, ("entities", "reply_markup"), "edit_text", srv.now())


def edit_message_caption(srv: FakeTelegram, bot: BotAccount, p: Params) -> Any:
    message = _target(srv, bot, p, verb="edit")
    if not any(kind in message.raw for kind in ("photo", "document", "video", "audio")):
        raise bad_request("there is no caption in the message to edit")
    changes = _caption(p)
    markup = inline_keyboard(check_reply_markup(p.json("reply_markup")))
    if markup:
        changes["reply_markup"] = markup
    return _apply_edit(message, changes, ("caption", "caption_entities", "reply_markup"),
                       "edit_caption", srv.now())


def edit_message_media(srv: FakeTelegram, bot: BotAccount, p: Params) -> Any:
    message = _target(srv, bot, p, verb="edit")
    if not any(kind in message.raw for kind in ("photo", "document", "video", "audio")):
        raise bad_request("there is no media in the message to edit")
    changes = _input_media(srv, p, p.json("media"))
    markup = inline_keyboard(check_reply_markup(p.json("reply_markup")))
    if markup:
        changes["reply_markup"] = markup
    removed = ("photo", "document", "caption", "caption_entities", "reply_markup")
    return _apply_edit(message, changes, removed, "edit_media", srv.now())


def edit_message_reply_markup(srv: FakeTelegram, bot: BotAccount, p: Params) -> Any:
    message = _target(srv, bot, p, verb="edit")
    markup = inline_keyboard(check_reply_markup(p.json("reply_markup"),
                                                allow_pay="invoice" in message.raw))
    changes = {"reply_markup": markup} if markup else {}
    return _apply_edit(message, changes, ("reply_markup",), "edit_reply_markup", srv.now())


def delete_message(srv: FakeTelegram, bot: BotAccount, p: Params) -> Any:
    message = _target(srv, bot, p, verb="delete")
    message.deleted = True
    message.record("delete")
    return True


def delete_messages(srv: FakeTelegram, bot: BotAccount, p: Params) -> Any:
    chat_id = srv.resolve_chat(bot, p)
    found = [srv.find_message(bot, chat_id, int(i)) for i in p.json("message_ids") or []]
    if not any(found):
        raise bad_request("message to delete not found")
    for message in found:
        if message is not None:
            message.deleted = True
            message.record("delete")
    return True


# -- bot settings and small methods -------------------------------------------------------------
def _commands_key(p: Params) -> tuple[str, str]:
    scope = p.json("scope") or {"type": "default"}
    if not isinstance(scope, dict) or "type" not in scope:
        raise bad_request("can't parse BotCommandScope")
    return json.dumps(scope, sort_keys=True), p.text("language_code") or ""


def set_my_commands(srv: FakeTelegram, bot: BotAccount, p: Params) -> Any:
    commands = p.json("commands")
    if not isinstance(commands, list) or len(commands) > 100:
        raise bad_request("commands must be a list of at most 100 BotCommand")
    for command in commands:
        name = str(command.get("command", "")) if isinstance(command, dict) else ""
        if not (1 <= len(name) <= 32) or not all(c.islower() or c.isdigit() or c == "_"
                                                  for c in name):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(str(command.get("description", ""))) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
    language = p.text("language_code") or ""
    if language and (len(language) != 2 or not language.isalpha()):
        raise bad_request("LANG_CODE_INVALID")
    bot.commands[_commands_key(p)] = [{"command": c["command"], "description": c["description"]}
                                      for c in commands]
    return True


def get_my_commands(srv: FakeTelegram, bot: BotAccount, p: Params) -> Any:
    return bot.commands.get(_commands_key(p), [])


def delete_my_commands(srv: FakeTelegram, bot: BotAccount, p: Params) -> Any:
    bot.commands.pop(_commands_key(p), None)
    return True


def set_chat_menu_button(srv: FakeTelegram, bot: BotAccount, p: Params) -> Any:
    chat_id = srv.resolve_chat(bot, p) if "chat_id" in p else None
    bot.menu_buttons[chat_id] = p.json("menu_button") or {"type": "default"}
    return True


def get_chat_menu_button(srv: FakeTelegram, bot: BotAccount, p: Params) -> Any:
    chat_id = srv.resolve_chat(bot, p) if "chat_id" in p else None
    return bot.menu_buttons.get(chat_id, bot.menu_buttons.get(None, {"type": "commands"}))


def send_chat_action(srv: FakeTelegram, bot: BotAccount, p: Params) -> Any:
    srv.resolve_chat(bot, p)
    if not p.text("action"):
        raise bad_request("action is empty")
    return True


def get_file(srv: FakeTelegram, bot: BotAccount, p: Params) -> Any:
    stored = srv.files.get(p.text("file_id", required=True) or "")
    if stored is None:
        raise bad_request("invalid file_id")
    return {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
            "file_size": stored.size, "file_path": stored.file_path}


def get_me(srv: FakeTelegram, bot: BotAccount, p: Params) -> Any:
    return bot.get_me()


def ok(srv: FakeTelegram, bot: BotAccount, p: Params) -> Any:
    return True


def set_webhook(srv: FakeTelegram, bot: BotAccount, p: Params) -> Any:
    url = p.text("url") or ""
    if url and not url.startswith("https://") and not srv.allow_http_webhooks:
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    bot.webhook = {"url": url, "secret_token": p.text("secret_token")} if url else {}
    if p.flag("drop_pending_updates"):
        bot.updates.clear()
    if p.json("allowed_updates") is not None:
        srv.set_allowed_updates(bot, p.json("allowed_updates"))
    srv.wake_webhook(bot)
    return True


def delete_webhook(srv: FakeTelegram, bot: BotAccount, p: Params) -> Any:
    bot.webhook = {}
    if p.flag("drop_pending_updates"):
        bot.updates.clear()
    return True


def get_webhook_info(srv: FakeTelegram, bot: BotAccount, p: Params) -> Any:
    info: dict[str, Any] = {"url": bot.webhook.get("url", ""), "has_custom_certificate": False,
                            "pending_update_count": len(bot.updates)}
    if bot.webhook:
        info["allowed_updates"] = sorted(bot.allowed_updates)
    return info


METHODS: dict[str, Method] = {
    "getme": get_me, "sendmessage": send_message, "sendphoto": send_photo,
    "senddocument": send_document, "sendmediagroup": send_media_group,
    "editmessagetext": edit_message_text, "editmessagecaption": edit_message_caption,
    "editmessagemedia": edit_message_media, "editmessagereplymarkup": edit_message_reply_markup,
    "deletemessage": delete_message, "deletemessages": delete_messages,
    "setmycommands": set_my_commands, "getmycommands": get_my_commands,
    "deletemycommands": delete_my_commands, "setchatmenubutton": set_chat_menu_button,
    "getchatmenubutton": get_chat_menu_button, "sendchataction": send_chat_action,
    "getfile": get_file, "setwebhook": set_webhook, "deletewebhook": delete_webhook,
    "getwebhookinfo": get_webhook_info, "setmydescription": ok, "setmyshortdescription": ok,
    "setmyname": ok,
}
