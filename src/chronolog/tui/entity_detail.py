"""One entity: state, pipeline progress, children grid, jobs by stage, history; moves and stages."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple, cast

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Footer, Header, Static

from ..errors import ChronologError, NotFound
from ..jobs import Job
from ..states import Entity, Machine, Transition
from .confirm import ConfirmScreen
from .live import LiveScreen
from .messages import OpenCreate, OpenJob
from .profiles import stage_keys
from .render import age, bar, clock, progress, state_style, state_text

__all__ = ["EntityDetailScreen"]

_CHILD_JOBS = 30
"""The jobs of at most this many children show in their parent's view (one query each)."""


class _Read(NamedTuple):
    entity: Entity
    machines: dict[str, Machine]
    children: list[Entity]
    jobs: list[Job]
    history: list[Transition]
    now: datetime


class EntityDetailScreen(LiveScreen[_Read]):
    """``1``-``9`` move to an allowed next state (after a ``y`` to confirm), stage keys
    (``r``/``m``/``t``, where the kind's machine has those stages) enqueue a job, ``a``
    adds a child, ``Enter`` on a job opens it, ``Esc`` goes back."""

    BINDINGS = [  # noqa: RUF012
        Binding("escape", "back", "Back"),
        Binding("a", "add_child", "Add child"),
    ]

    def __init__(self, kind: str, id: str) -> None:
        super().__init__()
        self.kind = kind
        self.entity_id = id
        self.entity: Entity | None = None
        self.machine: Machine | None = None
        self.next_states: tuple[str, ...] = ()
        self.stages: dict[str, str] = {}
        self.jobs: list[Job] = []

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll():
            yield Static(id="summary", classes="line")
            yield Static(id="actions", classes="line")
            yield Static("Children", id="children-title", classes="section")
            yield Static(id="children", classes="line")
            yield Static("Jobs (Enter: open)", classes="section")
            jobs: DataTable[Text] = DataTable(id="jobs", cursor_type="row")
            for label, key, width in (
                ("Stage", "stage", 16),
                ("Job", "id", 4),
                ("State", "state", 10),
                ("Try", "attempt", 4),
                ("Worker", "worker", 11),
                ("Age", "age", 5),
            ):
                jobs.add_column(label, key=key, width=width)
            yield jobs
            yield Static("History", classes="section")
            history: DataTable[Text] = DataTable(id="history", cursor_type="row")
            for label, key, width in (
                ("#", "n", 3),
                ("When", "at", 19),
                ("Move", "move", 24),
                ("By", "by", 14),
            ):
                history.add_column(label, key=key, width=width)
            yield history
        yield Footer()

    def on_mount(self) -> None:
        self.reload()
        self.query_one("#jobs", DataTable).focus()

    def on_screen_resume(self) -> None:
        self.reload()

    def read(self) -> _Read:
        """The entity, the machines, its children, its jobs (and its children's), its history."""
        source = self.chrono.source
        entity = source.entity(self.kind, self.entity_id)
        machines = source.machines()
        children = source.children(self.kind, self.entity_id)
        jobs = source.jobs_of(self.kind, self.entity_id)
        for child in children[:_CHILD_JOBS]:  # a season's rips run per disc
            jobs += source.jobs_of(child.kind, child.id)
        history = source.history(self.kind, self.entity_id)
        return _Read(entity, machines, children, jobs, history, source.now())

    def failed(self, exc: ChronologError) -> None:
        self.chrono.report(exc)
        if isinstance(exc, NotFound) and self.is_current:
            self.app.pop_screen()  # deleted meanwhile: nothing left to show

    def show(self, data: _Read) -> None:
        """Draw the entity from a fresh read."""
        entity, machines, children, jobs, history, now = data
        machine = machines.get(self.kind)
        self.entity, self.machine, self.jobs = entity, machine, jobs
        self.next_states = machine.allowed(entity.state)[:9] if machine is not None else ()
        self.stages = stage_keys(self.chrono.profile(self.kind), machine)
        self.sub_title = f"{entity.kind}/{entity.id}"
        self._summary(entity, machine, jobs, now)
        self._actions()
        self._children(children, machines)
        self._jobs(jobs, now)
        self._history(history)

    def _summary(self, e: Entity, machine: Machine | None, jobs: list[Job], now: datetime) -> None:
        text = Text()
        text.append(e.title or e.id, style="bold")
        text.append(f"  {e.kind}/{e.id}\n", style="dim")
        text.append("State ")
        text.append_text(state_text(e.state, machine))
        text.append(f" for {age(e.state_since, now)}  ")
        text.append_text(bar(progress(e, machine, jobs), 20, failed=e.state == "failed"))
        if e.current is not None and e.current.metadata:
            text.append(
                "\n" + _fields(e.current.metadata), style="red" if e.state == "failed" else ""
            )
        if e.parent is not None:
            text.append(f"\nParent {e.parent[0]}/{e.parent[1]}", style="dim")
        if e.attributes:
            text.append("\n" + _fields(e.attributes), style="dim")
        self.query_one("#summary", Static).update(text)

    def _actions(self) -> None:
        text = Text()
        if self.next_states:
            text.append("Move: ")
            for n, state in enumerate(self.next_states, 1):
                text.append(f"[{n}]", style="bold")
                text.append(f" {state}  ", style=state_style(state, self.machine))
            text.append("\n")
        if self.stages:
            text.append("Jobs: ")
        for key, stage in self.stages.items():
            text.append(f"[{key}]", style="bold")
            text.append(f" {stage}  ")
        child = self.chrono.profile(self.kind).child_kind
        text.append("[a]", style="bold")
        text.append(f" add {child or 'child'}")
        self.query_one("#actions", Static).update(text)

    def _children(self, children: list[Entity], machines: dict[str, Machine]) -> None:
        title = self.query_one("#children-title", Static)
        grid = self.query_one("#children", Static)
        title.display = grid.display = bool(children)
        if not children:
            return
        done = sum(
            c.state is not None and c.state in _terminal(machines.get(c.kind)) for c in children
        )
        text = Text(f"{done}/{len(children)} done  ", style="dim")
        for child in sorted(children, key=lambda c: (c.kind, _natural(c.id))):
            text.append(f"[{child.title or child.id}: ", style="bold")
            text.append_text(state_text(child.state, machines.get(child.kind)))
            text.append("] ")
        grid.update(text)

    def _jobs(self, jobs: list[Job], now: datetime) -> None:
        table = cast("DataTable[Text]", self.query_one("#jobs", DataTable))
        keep = table.cursor_row
        table.clear()
        # By stage (in the profile's order, then the rest), newest first within a stage.
        order = {k: i for i, k in enumerate(self.stages.values())}
        for job in sorted(jobs, key=lambda j: (order.get(j.kind, len(order)), j.kind, -j.id)):
            table.add_row(
                Text(_stage(job, self.kind, self.entity_id), overflow="ellipsis", no_wrap=True),
                Text(str(job.id)),
                state_text(job.state),
                Text(f"{job.attempt}/{job.max_attempts}"),
                Text(job.worker or "-", overflow="ellipsis", no_wrap=True),
                Text(age(job.created_at, now), style="dim"),
                key=str(job.id),
            )
        if jobs:
            table.move_cursor(row=min(keep, len(jobs) - 1), animate=False)
        table.display = bool(jobs)

    def _history(self, moves: list[Transition]) -> None:
        table = cast("DataTable[Text]", self.query_one("#history", DataTable))
        table.clear()
        for t in reversed(moves):
            step = Text(f"{t.from_state or '∅'} → ")
            step.append_text(state_text(t.to_state, self.machine))
            by = t.actor.label if t.actor is not None else None
            table.add_row(
                Text(str(t.sort_key)),
                Text(clock(t.occurred_at)),
                step,
                Text(by or "-", overflow="ellipsis", no_wrap=True),
            )

    # -- keys ---------------------------------------------------------------------------

    def on_key(self, event: events.Key) -> None:
        key = event.character or ""
        if key.isdigit() and key != "0":
            index = int(key) - 1
            if index < len(self.next_states):
                event.stop()
                self.confirm_move(self.next_states[index])
            return
        stage = self.stages.get(key)
        if stage is not None:
            event.stop()
            self.enqueue(stage)

    def confirm_move(self, state: str) -> None:
        """Ask before moving the entity to ``state`` (a digit is easy to press by mistake)."""
        if self.entity is None:
            return
        entity = self.entity
        question = Text("Move ")
        question.append(entity.title or entity.id, style="bold")
        question.append(" from ")
        question.append_text(state_text(entity.state, self.machine))
        question.append(" to ")
        question.append_text(state_text(state, self.machine))
        question.append("?")

        def answered(yes: bool | None) -> None:
            if yes:
                self.move_to(state, expected=entity.state)

        self.app.push_screen(ConfirmScreen(question), answered)

    def move_to(self, state: str, expected: str | None = None) -> None:
        """Move the entity to ``state`` (refused if it moved meanwhile)."""
        if self.entity is None:
            return
        try:
            self.chrono.source.move(self.kind, self.entity_id, state, expected or self.entity.state)
        except ChronologError as exc:
            self.chrono.report(exc)
        else:
            self.notify(f"{self.entity.title or self.entity_id} → {state}")
        self.reload()

    def enqueue(self, stage: str) -> None:
        """Enqueue a ``stage`` job about this entity."""
        if self.entity is None:
            return
        try:
            job = self.chrono.source.enqueue(stage, self.entity)
        except ChronologError as exc:
            self.chrono.report(exc)
        else:
            self.notify(f"{stage} job {job.id} queued")
        self.reload()

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_add_child(self) -> None:
        child = self.chrono.profile(self.kind).child_kind
        kinds = sorted(self.chrono.source.machines())
        self.post_message(OpenCreate(kinds, kind=child, parent=(self.kind, self.entity_id)))

    @on(DataTable.RowSelected, "#jobs")
    def _open_job(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.post_message(OpenJob(int(event.row_key.value)))


def _stage(job: Job, kind: str, ident: str) -> str:
    """The job's stage, and the child it is about when it is not the entity itself."""
    if job.subject is None or job.subject == (kind, ident):
        return job.kind
    return f"{job.kind} {job.subject[1].removeprefix(ident + '/')}"


def _terminal(machine: Machine | None) -> frozenset[str]:
    return frozenset() if machine is None else machine.terminal


def _natural(ident: str) -> tuple[str, int]:
    head = ident.rstrip("0123456789")
    tail = ident[len(head) :]
    return head, int(tail) if tail else -1


def _fields(mapping: dict[str, object]) -> str:
    return "  ".join(f"{k}={v}" for k, v in mapping.items() if v is not None)
