"""Staff: who runs the shop with which role, and the audit log of what they did."""
