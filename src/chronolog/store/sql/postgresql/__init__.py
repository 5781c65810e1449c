"""Whole operations written for PostgreSQL: the text with its code (see ``JobDriver``)."""
