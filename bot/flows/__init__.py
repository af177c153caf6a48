"""Channel-neutral conversation flows. Importing this package registers every flow."""

from bot.flows import cart, catalog, menu, search
from bot.flows import checkout as checkout
from bot.flows import checkout_summary as checkout_summary
from bot.flows import orders as orders
from bot.flows import payment as payment
from bot.flows import returns as returns
from bot.flows import support as support
from bot.flows.router import respond

__all__ = ["cart", "catalog", "menu", "respond", "search"]
