"""``chronolog exec`` gives a command only what the job needs (issue 14.9): never the
worker's token, secrets key or database URL, whose values would reach job logs."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from chronolog import Chronolog
from chronolog.cli import app as cli
from chronolog.jobs.exec import command_environment, command_handler
from chronolog.jobs.worker import Worker

SECRETS = {
    "CHRONOLOG_TOKEN": "chl_worker_token_value",
    "CHRONOLOG_SECRET_KEY": "fernet_key_value",
    "CHRONOLOG_DB": "postgresql://user:dbpassword@db/prod",
    "AWS_SECRET_ACCESS_KEY": "aws_value",
}


@pytest.fixture
def worker_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("RIP_DEVICE", "/dev/sr0")


def _log_text(cl: Chronolog, job_id: int) -> str:
    return "\n".join(line.message for line in cl.jobs.logs(job_id))


@pytest.mark.usefixtures("worker_env")
def test_a_command_sees_none_of_the_workers_secrets(cl: Chronolog) -> None:
    job = cl.jobs.enqueue("rip", {"disc": "D1"})
    Worker(cl.jobs, command_handler(["env"])).run(burst=True)
    assert cl.jobs.get(job.id).state == "completed"
    text = _log_text(cl, job.id)
    for name, value in SECRETS.items():
        assert value not in text, name
        assert f"{name}=" not in text, name
    assert "RIP_DEVICE" not in text
    assert "PATH=" in text  # what a command needs to run still passes
    assert "JOB_DISC=D1" in text
    assert f"CHRONOLOG_JOB_ID={job.id}" in text


@pytest.mark.usefixtures("worker_env")
def test_the_operator_passes_or_sets_variables_by_name(cl: Chronolog) -> None:
    job = cl.jobs.enqueue("rip")
    handler = command_handler(["env"], env=["RIP_DEVICE", "MODE=fast", "NOT_SET_ANYWHERE"])
    Worker(cl.jobs, handler).run(burst=True)
    text = _log_text(cl, job.id)
    assert "RIP_DEVICE=/dev/sr0" in text
    assert "MODE=fast" in text
    assert "NOT_SET_ANYWHERE" not in text
    assert "CHRONOLOG_TOKEN" not in text
    with pytest.raises(ValueError, match="not an environment variable name"):
        command_environment(["BAD NAME"])


@pytest.mark.usefixtures("worker_env")
def test_the_exec_command_line(db_url: str) -> None:
    with Chronolog(db_url) as cl:
        job = cl.jobs.enqueue("rip")
    result = CliRunner().invoke(
        cli, ["exec", "--db", db_url, "--burst", "--env", "RIP_DEVICE", "--", "env"]
    )
    assert result.exit_code == 0, result.output
    with Chronolog(db_url) as cl:
        text = _log_text(cl, job.id)
    assert "RIP_DEVICE=/dev/sr0" in text
    assert "chl_worker_token_value" not in text
    assert "dbpassword" not in text
    bad = CliRunner().invoke(cli, ["exec", "--db", db_url, "--burst", "--env", "1X", "--", "env"])
    assert bad.exit_code == 1
