"""The disc-ripping pipeline (seed 003), its jobs side: rip → remux → transcode → filebot.

A TV season arrives on discs. The season is one pipeline
(``cl.jobs.pipeline``): each disc gets a ``rip`` job (subject: the disc); each
episode on it then goes through ``remux``, ``transcode`` and ``filebot``
(subject: the episode), each stage waiting for the one before it, so no
orchestrator enqueues the next stage. Every stage runs under ``chronolog exec --queue STAGE -- COMMAND``,
here on small shell commands standing in for MakeMKV, mkvmerge, HandBrake and
FileBot. One transcode fails the first time (its filebot is cancelled with it);
its log shows why; both are retried and the season finishes.

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

from chronolog import Chronolog, Job, NewJob
from chronolog.jobs import Pipeline

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
    pipeline_id: int | None = None


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


def season_pipeline(cl: Chronolog, scratch: str) -> Pipeline:
    """The whole season as one pipeline: each disc's rip, then for every episode on it
    remux → transcode → filebot, each stage waiting for the one before it (fan-out
    after each rip). One transaction; the stages run as the workers get to them."""
    stages: list[NewJob] = []
    for disc, episodes in DISCS.items():
        rip = f"rip-d{disc}"
        stages.append(
            NewJob(
                "rip",
                {"disc": disc, "season": SEASON, "titles": " ".join(episodes)},
                queue="rip",
                subject=("disc", f"{SEASON}-d{disc}"),
                ref=rip,
            )
        )
        for episode in episodes:
            item = f"{SEASON}{episode}"
            payload = {"item": item, "season": SEASON, "flaky": FLAKY, "scratch": scratch}
            before = rip
            for stage in STAGES[1:]:
                stages.append(
                    NewJob(
                        stage,
                        payload,
                        queue=stage,
                        subject=("episode", item),
                        # A crashed encode waits for a person to look at it.
                        max_attempts=1 if stage == "transcode" else None,
                        after=(before,),
                        ref=f"{stage}-{item}",
                    )
                )
                before = f"{stage}-{item}"
    return cl.jobs.pipeline(stages, subject=("season", SEASON), name=f"rip {SEASON}")


def run(url: str, timeout: float = 120.0) -> Outcome:
    """Rip the season through every stage; return the failed attempt and all jobs."""
    scratch = tempfile.mkdtemp(prefix="rip-pipeline-")
    outcome = Outcome()
    with Chronolog(url) as cl:
        pipeline = season_pipeline(cl, scratch)
        outcome.pipeline_id = pipeline.id
        procs = _exec_processes(url, scratch)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                for job in cl.jobs.failed():
                    # A person reads why it failed, fixes the cause, and retries it: the
                    # stages its failure cancelled wait for it again (the retry revives them).
                    outcome.failed_job = job
                    outcome.failed_log = [line.message for line in cl.jobs.logs(job.id)]
                    cl.jobs.retry(job.id)
                if cl.jobs.pipeline_get(pipeline.id).state == "completed":
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
        print("retried (with the stage its failure cancelled).")
    if outcome.pipeline_id is not None:
        with Chronolog(url) as cl:
            pipeline = cl.jobs.pipeline_get(outcome.pipeline_id)
        print(f"pipeline {pipeline.id} ({pipeline.name}): {pipeline.state}, {pipeline.done} stages")
    for job in sorted(outcome.jobs, key=lambda j: j.id):
        subject = f"{job.subject[0]}:{job.subject[1]}" if job.subject else ""
        print(f"{job.id:>3} {job.kind:<10} {subject:<26} {job.state:<10} attempts {job.attempt}")


if __name__ == "__main__":
    main()
