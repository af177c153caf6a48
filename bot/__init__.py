"""The customer bot: channel-neutral conversation flows and their channels."""
