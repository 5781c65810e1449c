"""The disc-ripping pipeline (seed 003), its jobs side: rip → remux → transcode → filebot.

A TV season arrives on discs. Each disc gets a ``rip`` job (subject: the
disc); each episode ripped from it then goes through ``remux``,
``transcode`` and ``filebot``, one job per stage attempt (subject: the
episode). Every stage runs under ``chronolog exec --queue STAGE -- COMMAND``,
here on small shell commands standing in for MakeMKV, mkvmerge, HandBrake and
FileBot. One transcode fails the first time; its log shows why; it is retried
and the season finishes.

Run it: ``python examples/rip_pipeline_jobs.py [URL]`` (a SQLite file by default).
The entity side of the pipeline (the season's state machine) is joined to
this by the states example.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

from chronolog import Chronolog, Job

SEASON = "severance-s01"
DISCS = {1: ["e01", "e02"], 2: ["e03", "e04"]}
STAGES = ("rip", "remux", "transcode", "filebot")
FLAKY = f"{SEASON}e03"
"""The episode whose first transcode crashes."""

# What each ``chronolog exec`` runs. Payload keys fill {placeholders}; the whole
# payload is also in the environment (CHRONOLOG_PAYLOAD, JOB_<KEY>).
COMMANDS = {
    "rip": 'echo "makemkv: disc {disc} of $JOB_SEASON"; for t in {titles}; do echo "title $t saved"; done',
    "remux": 'echo "mkvmerge: {item}.mkv"; sleep 0.05; echo "tracks: video, eng audio, eng subs"',
    "transcode": (
        'if [ "{item}" = "{flaky}" ] && [ ! -e "{scratch}/{item}.crashed" ]; then '
        'touch "{scratch}/{item}.crashed"; echo "HandBrake: encoding {item}"; '
        'echo "x265 [error]: out of memory at frame 1337" >&2; exit 3; fi; '
        'echo "HandBrake: {item}.mkv -> {item}.mp4 done"'
    ),
    "filebot": 'echo "filebot: {item} -> Severance/Season 01/{item}.mp4"',
}
LAUNCH = "import sys; from chronolog.cli import main; sys.argv[0] = 'chronolog'; main()"


@dataclass
class Outcome:
    """What the run left behind: the failed attempt and every job."""

    failed_job: Job | None = None
    failed_log: list[str] = field(default_factory=list)
    jobs: list[Job] = field(default_factory=list)


def _exec_processes(url: str, scratch: str) -> list[subprocess.Popen[bytes]]:
    """One ``chronolog exec`` per stage, as the seed's dispatcher would run them."""
    procs = []
    for stage in STAGES:
        argv = [sys.executable, "-c", LAUNCH, "exec", "--queue", stage, "--lease", "10"]
        argv += ["--name", f"{stage}-dispatcher", "--db", url, "--", "sh", "-c", COMMANDS[stage]]
        log = open(os.path.join(scratch, f"{stage}.log"), "wb")  # noqa: SIM115 - closed below
        procs.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT))
        log.close()
    return procs


def _next_stage(cl: Chronolog, job: Job, scratch: str) -> None:
    """When a stage completes, enqueue the next one (unique per item and stage)."""
    payload = dict(job.payload or {})
    if job.kind == "rip":
        for episode in payload["titles"].split():
            item = f"{SEASON}{episode}"
            cl.jobs.enqueue(
                "remux",
                {"item": item, "season": SEASON},
                queue="remux",
                unique_key=f"{item}:remux",
                subject=("episode", item),
            )
        return
    following = STAGES[STAGES.index(job.kind) + 1] if job.kind != "filebot" else None
    if following is None:
        return
    cl.jobs.enqueue(
        following,
        {**payload, "flaky": FLAKY, "scratch": scratch},
        queue=following,
        unique_key=f"{payload['item']}:{following}",
        subject=("episode", payload["item"]),
        max_attempts=1,  # a crashed encode waits for a person to look at it
    )


def run(url: str, timeout: float = 120.0) -> Outcome:
    """Rip the season through every stage; return the failed attempt and all jobs."""
    scratch = tempfile.mkdtemp(prefix="rip-pipeline-")
    outcome = Outcome()
    with Chronolog(url) as cl:
        for disc, episodes in DISCS.items():
            cl.jobs.enqueue(
                "rip",
                {"disc": disc, "season": SEASON, "titles": " ".join(episodes)},
                queue="rip",
                unique_key=f"{SEASON}:disc{disc}:rip",
                subject=("disc", f"{SEASON}-d{disc}"),
            )
        procs = _exec_processes(url, scratch)
        followed: set[int] = set()
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                for job in cl.jobs.list(states="completed", limit=100).items:
                    if job.id not in followed:
                        followed.add(job.id)
                        _next_stage(cl, job, scratch)
                for job in cl.jobs.failed():
                    # A person reads why it failed, fixes the cause, and retries.
                    outcome.failed_job = job
                    outcome.failed_log = [line.message for line in cl.jobs.logs(job.id)]
                    cl.jobs.retry(job.id)
                done = cl.jobs.list(kinds="filebot", states="completed", limit=100).items
                if len(done) == sum(len(e) for e in DISCS.values()):
                    break
                time.sleep(0.2)
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                proc.wait(30)
        outcome.jobs = list(cl.jobs.list(limit=100).items)
    return outcome


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else "sqlite:///rip_pipeline.db"
    outcome = run(url)
    if outcome.failed_job is not None:
        job = outcome.failed_job
        print(f"job {job.id} ({job.kind} of {job.subject}) failed: {job.errors[-1].error}")
        print("its log:")
        for line in outcome.failed_log:
            print(f"  {line}")
        print("retried.")
    for job in sorted(outcome.jobs, key=lambda j: j.id):
        subject = f"{job.subject[0]}:{job.subject[1]}" if job.subject else ""
        print(f"{job.id:>3} {job.kind:<10} {subject:<26} {job.state:<10} attempts {job.attempt}")


if __name__ == "__main__":
    main()
