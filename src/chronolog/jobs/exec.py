"""Run an external command per job: the ``chronolog exec`` dispatcher.

The command gets the payload in its environment (``CHRONOLOG_PAYLOAD`` as
JSON, each top-level scalar as ``JOB_<KEY>``) and in its arguments
(``{key}`` placeholders). It does not inherit the worker's environment, whose
``CHRONOLOG_TOKEN``, ``CHRONOLOG_SECRET_KEY`` or database URL would end up in
job logs that read tokens can see: only :data:`BASE_ENV` (``PATH``, ``HOME``,
the locale …) passes, plus what the operator names (``env=``: ``NAME`` passes
the worker's value, ``NAME=VALUE`` sets one). Its stdout and stderr lines go to the job log as
they come; exit status 0 completes the job, anything else fails it with the
status and the last lines. A cancelled job (or a timeout, or a shutdown past
the grace period) stops the child: SIGTERM to its process group, SIGKILL
after ``kill_grace`` seconds.
"""

from __future__ import annotations

import contextlib
import os
import signal
import string
import subprocess
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from typing import IO, Any

from .. import _json
from ._context import PermanentError
from .worker import Handler, JobContext

__all__ = [
    "BASE_ENV",
    "CommandFailed",
    "CommandNotFound",
    "MissingPlaceholder",
    "command_environment",
    "command_handler",
    "find_command",
    "render_args",
]

_TAIL = 20

BASE_ENV = ("PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TMPDIR")
"""What a command inherits from the worker's environment by default (and ``LC_*``)."""


class CommandFailed(Exception):
    """The command exited with a non-zero status (the message holds its last lines)."""


class MissingPlaceholder(PermanentError, KeyError):
    """A ``{placeholder}`` of the command names no key of the job's payload: the job
    fails at once (no retry can add the key)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class CommandNotFound(PermanentError, FileNotFoundError):
    """The command is not an executable file, or not on ``PATH``."""


def find_command(program: str, *, path: str | None, cwd: str | None = None) -> str:
    """Where ``program`` is (``shutil.which`` over ``path``, or relative to ``cwd``);
    ``CommandNotFound`` with a clear message when it is nowhere."""
    import shutil

    if os.sep in program:
        full = program if os.path.isabs(program) else os.path.join(cwd or os.getcwd(), program)
        if os.path.isfile(full) and os.access(full, os.X_OK):
            return full
        what = "not executable" if os.path.isfile(full) else "no such file"
        raise CommandNotFound(f"command not found: {program} ({what})")
    found = shutil.which(program, path=path)
    if found is None:
        raise CommandNotFound(f"command not found: {program} (not on PATH={path or ''})")
    return found


def render_args(argv: Sequence[str], payload: Mapping[str, Any]) -> list[str]:
    """Fill ``{key}`` placeholders from the payload (``{{`` and ``}}`` are literal braces)."""
    out = []
    formatter = string.Formatter()
    for arg in argv:
        parts = []
        for literal, name, spec, conversion in formatter.parse(arg):
            parts.append(literal)
            if name is None:
                continue
            if name not in payload:
                raise MissingPlaceholder(
                    f"placeholder {{{name}}} in {arg!r} is not a payload key "
                    f"(payload keys: {sorted(payload)})"
                )
            value = payload[name]
            if conversion or spec:
                value = formatter.convert_field(value, conversion)
                parts.append(format(value, spec or ""))
            else:
                parts.append(value if isinstance(value, str) else _json.dumps(value))
        out.append("".join(parts))
    return out


def command_environment(
    allowed: Sequence[str] = (), source: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment a command starts from: :data:`BASE_ENV` and ``LC_*`` of ``source``
    (default ``os.environ``), and ``allowed``: ``NAME`` copies the variable from
    ``source`` (if set), ``NAME=VALUE`` sets it."""
    source = os.environ if source is None else source
    env = {k: v for k, v in source.items() if k in BASE_ENV or k.startswith("LC_")}
    for item in allowed:
        name, sep, value = item.partition("=")
        if not name or not (name.replace("_", "").isalnum()) or name[0].isdigit():
            raise ValueError(f"not an environment variable name: {name!r}")
        if sep:
            env[name] = value
        elif name in source:
            env[name] = source[name]
    return env


def _environment(ctx: JobContext, base: Mapping[str, str]) -> dict[str, str]:
    env = dict(base)
    payload = ctx.payload
    env.update(
        CHRONOLOG_JOB_ID=str(ctx.id),
        CHRONOLOG_JOB_KIND=ctx.job.kind,
        CHRONOLOG_JOB_QUEUE=ctx.job.queue,
        CHRONOLOG_JOB_ATTEMPT=str(ctx.job.attempt),
        CHRONOLOG_PAYLOAD=_json.dumps(payload),
    )
    for key, value in payload.items():
        if isinstance(value, str | int | float | bool) and key.replace("_", "").isalnum():
            env[f"JOB_{key.upper()}"] = value if isinstance(value, str) else _json.dumps(value)
    return env


def _pump(stream: IO[str], ctx: JobContext, name: str, tail: deque[str]) -> None:
    level = "info" if name == "stdout" else "warning"
    for line in stream:
        text = line.rstrip("\n")
        tail.append(text)
        ctx.log(level, text, stream=name)
    stream.close()


def _kill(proc: subprocess.Popen[str], grace: float) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def command_handler(
    argv: Sequence[str],
    *,
    kill_grace: float = 5.0,
    cwd: str | None = None,
    env: Sequence[str] = (),
) -> Handler:
    """A handler running ``argv`` for each job (see the module docstring).

    ``env`` names what the command may see of the worker's environment beyond
    :data:`BASE_ENV` (``NAME``) or sets variables (``NAME=VALUE``); read once, here.
    Raises ``CommandNotFound`` when the program is not found (on the command's
    ``PATH``, or relative to ``cwd``). A job whose payload lacks a ``{placeholder}``,
    or whose program (from the payload) is not found, fails at once, not retried.
    """
    if not argv:
        raise ValueError("give a command to run")
    command = list(argv)
    base = command_environment(env)
    # Refuse now, before any job is claimed, a command that is nowhere (unless the
    # program itself comes from the payload: that is checked per job).
    if "{" not in command[0]:
        find_command(command[0], path=base.get("PATH"), cwd=cwd)

    def run_command(ctx: JobContext) -> dict[str, Any]:
        args = render_args(command, ctx.payload)
        tail: deque[str] = deque(maxlen=_TAIL)
        ctx.log("info", "exec: " + " ".join(args))
        find_command(args[0], path=base.get("PATH"), cwd=cwd)
        proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            bufsize=1,
            env=_environment(ctx, base),
            cwd=cwd,
            start_new_session=True,  # its own process group: a stop reaches its children too
        )
        assert proc.stdout is not None
        assert proc.stderr is not None
        readers = [
            threading.Thread(target=_pump, args=(proc.stdout, ctx, "stdout", tail), daemon=True),
            threading.Thread(target=_pump, args=(proc.stderr, ctx, "stderr", tail), daemon=True),
        ]
        for reader in readers:
            reader.start()
        ctx.set_pid(proc.pid)
        while proc.poll() is None:
            if ctx.cancelled.wait(0.1):
                ctx.log("warning", f"stopping pid {proc.pid}: {ctx.reason or 'stopped'}")
                _kill(proc, kill_grace)
                break
        for reader in readers:
            reader.join(5)
        status = proc.wait()
        if ctx.cancelled.is_set():
            raise CommandFailed(f"stopped ({ctx.reason}); exit status {status}")
        if status != 0:
            last = "\n".join(tail)
            raise CommandFailed(
                f"exit status {status}; last lines:\n{last}" if last else f"exit status {status}"
            )
        return {"exit_status": 0, "pid": proc.pid}

    run_command.__name__ = f"exec {command[0]}"
    return run_command
