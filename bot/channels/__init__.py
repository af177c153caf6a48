"""Channels that render the flows' screens somewhere other than Telegram (the terminal for now)."""
