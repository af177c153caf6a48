"""HTTP endpoints the outside world calls: payment webhooks (and, later, health and metrics)."""
