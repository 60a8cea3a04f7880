"""Sourcing: which locations fulfil which units of an order (C19). The engine is pure: see `optimizer`."""
