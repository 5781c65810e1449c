"""Whole operations written for SQLite: the text with its code (see ``JobDriver``)."""
