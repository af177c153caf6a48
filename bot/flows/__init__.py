"""Channel-neutral conversation flows. Importing this package registers every flow."""

from bot.flows import cart, catalog, menu, search
from bot.flows.router import respond

__all__ = ["cart", "catalog", "menu", "respond", "search"]
