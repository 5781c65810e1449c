"""The public surface: small, explicit, sorted, documented."""

from __future__ import annotations

import inspect

import chronolog


def test_all_is_sorted_and_complete() -> None:
    assert chronolog.__all__ == sorted(chronolog.__all__)
    public = {
        n
        for n in dir(chronolog)
        if not n.startswith("_") and not inspect.ismodule(getattr(chronolog, n))
    }
    assert public == set(chronolog.__all__)


def test_every_public_name_has_a_docstring() -> None:
    for name in chronolog.__all__:
        obj = getattr(chronolog, name)
        assert (obj.__doc__ or "").strip(), name
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if not attr.startswith("_") and callable(member):
                    assert (member.__doc__ or "").strip(), f"{name}.{attr}"
