"""The store layer: the only place that holds SQL (see docs/architecture.md)."""

from .engine import DEFAULT_URL, Store

__all__ = ["DEFAULT_URL", "Store"]
