"""Shared fixtures. Area-specific fixtures live in each area's ``conftest.py``."""
