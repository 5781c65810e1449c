"""Runnable scenarios, one per seed application, written against chronolog's public API.

Installed as ``chronolog.examples`` so ``chronolog demo`` can load them.
"""
