"""Plugins through entry points (placeholder until the plugin issue lands)."""

from __future__ import annotations


def is_registered_module(module: str) -> bool:
    """True if ``module`` belongs to a registered dynnet plugin."""
    return False
