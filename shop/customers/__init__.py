"""Customers: one per channel identity, with profile and saved addresses."""
