"""Messaging channels' durable records: contacts (conversation state and the customer service
window), the inbound de-duplication log, and the outbound messages with their statuses."""
