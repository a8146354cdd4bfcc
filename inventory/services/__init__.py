"""Inventory services: one module per concern (assignment) and, as actions arrive, per provider."""
