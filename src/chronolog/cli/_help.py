"""Help that reads like a product's: value names instead of Python type labels.

Typer labels every option with its Python annotation (``<list[str]>``,
``<int range>``, ``<bool>`` on a plain flag). :class:`ProductGroup`, the root
command's class, walks every command once when the CLI is built and gives
each option a value name instead: the one a module set (``--since WHEN``,
``--delay DURATION``), else ``TEXT``, ``N`` or ``NUMBER`` by type, and nothing
on a flag. Arguments are named by their metavar only (``KIND``, ``ID``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from typer.core import TyperArgument, TyperGroup, TyperOption

__all__ = ["ProductGroup", "polish"]

_BY_TYPE = {int: "N", float: "NUMBER", str: "TEXT"}


def _no_type(ctx: Any) -> None:
    return None


def _value_name(param: TyperOption) -> str:
    annotation = param.type_descriptor.annotation
    args = getattr(annotation, "__args__", ())
    base = args[0] if getattr(annotation, "__origin__", None) is list and args else annotation
    return _BY_TYPE.get(base, "VALUE")


def _usage_name(param: TyperArgument) -> Callable[[], str]:
    def name() -> str:
        shown = param.display_name_raw + ("..." if param.nargs != 1 else "")
        return shown if param.required else f"[{shown}]"

    return name


def _flag_help(command: Any) -> None:
    """``--help`` is made when help is asked for: it gets no value name either."""
    made = command.get_help_option

    def get_help_option(ctx: Any) -> Any:
        option = made(ctx)
        if option is not None:
            option.metavar = ""
        return option

    command.get_help_option = get_help_option


def polish(command: Any) -> None:
    """Give ``command`` (and every subcommand) product-style value names."""
    for param in getattr(command, "params", ()):
        if isinstance(param, TyperOption):
            if param.is_flag or param.count:
                param.metavar = ""
            elif param.metavar is None:
                param.metavar = _value_name(param)
        elif isinstance(param, TyperArgument):
            if param.metavar is None and param.name:
                param.metavar = param.name.upper()
            # The argument's name is its label: no "<str>" after it, no braces around it.
            param.display_type_rich = _no_type  # type: ignore[method-assign]
            param._usage_display_name = _usage_name(param)  # type: ignore[method-assign]
    _flag_help(command)
    for sub in getattr(command, "commands", {}).values():
        polish(sub)


class ProductGroup(TyperGroup):
    """The root command: polishes every command's help once, when the CLI is built."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        polish(self)
