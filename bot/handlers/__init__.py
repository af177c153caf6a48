"""Telegram: aiogram routers that turn updates into flow inputs and render the screens."""
