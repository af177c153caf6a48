"""Fake third-party services on loopback that speak the real wire formats (DESIGN.md section 5)."""
