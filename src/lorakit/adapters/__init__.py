"""Adapters: the registry (SQLite), loading many on one base, merge, export."""
