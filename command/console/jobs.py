"""Long work (optimisation, simulation) off the script thread, with progress and cancellation.

A job runs a function in a daemon thread, or (`process=True`) in a process of its own, so that its work does not
hold the server's interpreter (the pages of every other user stay quick while a plan is made). The function reports
progress through a callback, which is also where cancellation takes effect: the next report after `cancel()` raises
`Cancelled`, so a cancelled job stops at the next step boundary (between simulating, optimising and simulating
again) and writes nothing further. A report that says where the work is (`command.budget.StageMessage`, with its
`fraction`) moves the progress bar there; other reports move it a step. Jobs live in the browser session's state, so
a rerun finds its running job and shows its progress.

A process job's function and its arguments must pickle (a module's function, `functools.partial` of plain values:
`command.console.work`): it runs in a clean process forked from a forkserver that imported the model once, never
in a copy of the many-threaded server with its locks and connections. Its progress, its result (which must
pickle) and its failure come back through a pipe, read by a thread of the server's.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import streamlit as st


class Cancelled(Exception):
    """The user cancelled the job."""


@dataclass
class Job:
    """One background job: its messages, its outcome, and the means to cancel it."""

    label: str
    steps: int
    messages: list[str] = field(default_factory=list)
    result: Any = None
    error: str | None = None
    done: bool = False
    cancelled: bool = False
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    where: float | None = None  # the share of the work done, as the last report that said so put it
    pid: int | None = None  # the job's process, when it runs in one
    _cancel: Any = field(default_factory=threading.Event)

    def report(self, message: str) -> None:
        if self._cancel.is_set():
            raise Cancelled
        self._note(message, getattr(message, "fraction", None))

    def _note(self, message: str, fraction: float | None) -> None:
        self.messages.append(str(message))
        if fraction is not None:
            self.where = float(fraction)

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def fraction(self) -> float:
        if self.done:
            return 1.0
        if self.where is not None:
            return min(0.95, self.where)
        return min(0.95, len(self.messages) / max(1, self.steps))

    @property
    def running(self) -> bool:
        return not self.done

    def wait(self, timeout_s: float) -> bool:
        """Block until done or the timeout passes (tests and the browser poll instead)."""
        end = time.monotonic() + timeout_s
        while not self.done and time.monotonic() < end:
            time.sleep(0.05)
        return self.done


def start(key: str, label: str, work: Callable[[Callable[[str], None]], Any], *, steps: int,
          process: bool = False) -> Job:  # fmt: skip
    """Start `work(report)` in a thread (or, with `process`, in a process of its own) and keep the job under `key`
    in the session state."""
    # YIWANG_CONSOLE_JOBS=thread keeps every job in the server's process (a test that holds a job with an event).
    process = process and os.environ.get("YIWANG_CONSOLE_JOBS", "process") != "thread"
    job = _start_process(key, label, work, steps=steps) if process else None
    if job is None:
        job = Job(label=label, steps=steps)

        def run() -> None:
            try:
                job.result = work(job.report)
            except Cancelled:
                job.cancelled = True
            except Exception as exc:  # shown to the user as the job's error, one line
                job.error = _one_line(exc)
            finally:
                job.finished = time.monotonic()
                job.done = True

        threading.Thread(target=run, name=f"yiwang-job-{key}", daemon=True).start()
    jobs().__setitem__(key, job)
    return job


def _one_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _child(send: Any, cancel: Any, work: Callable[[Callable[[str], None]], Any]) -> None:
    """In the job's process: run the work, sending each report, then its result, failure or cancellation."""

    def report(message: str) -> None:
        if cancel.is_set():
            raise Cancelled
        send.send(("report", str(message), getattr(message, "fraction", None)))

    try:
        out: tuple[Any, ...] = ("done", work(report))
    except Cancelled:
        out = ("cancelled",)
    except Exception as exc:
        out = ("error", _one_line(exc))
    try:
        send.send(out)
    except Exception as exc:  # a result that does not pickle
        send.send(("error", f"the job's result could not be sent back: {_one_line(exc)}"))
    send.close()


_CONTEXT: Any = None


def _context() -> Any:
    """The start method for job processes: a forkserver where there is one (a clean, single-threaded process,
    started once with `command.console.work.PRELOAD` imported, forks each job, so no lock or connection of the
    server's many threads is copied into a job), else spawn."""
    global _CONTEXT
    if _CONTEXT is None:
        from command.console.work import PRELOAD

        method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
        _CONTEXT = multiprocessing.get_context(method)
        if method == "forkserver":
            _CONTEXT.set_forkserver_preload(list(PRELOAD))
    return _CONTEXT


def _start_process(key: str, label: str, work: Callable[[Callable[[str], None]], Any], *, steps: int) -> Job:
    """The job in a process of its own (`_context`)."""
    ctx = _context()
    cancel = ctx.Event()
    job = Job(label=label, steps=steps, _cancel=cancel)
    recv, send = ctx.Pipe(duplex=False)
    # Not a daemon: the job starts a process of its own (the default plan's simulation beside the optimiser).
    proc = ctx.Process(target=_child, args=(send, cancel, work), name=f"yiwang-job-{key}")
    proc.start()
    send.close()
    job.pid = proc.pid

    def listen() -> None:
        try:
            while True:
                try:
                    what, *rest = recv.recv()
                except EOFError:
                    proc.join()
                    job.error = job.error or f"the job's process ended without an answer (exit code {proc.exitcode})"
                    break
                if what == "report":
                    job._note(rest[0], rest[1])
                    continue
                if what == "done":
                    job.result = rest[0]
                elif what == "cancelled":
                    job.cancelled = True
                else:
                    job.error = rest[0]
                proc.join()
                break
        finally:
            recv.close()
            job.finished = time.monotonic()
            job.done = True

    threading.Thread(target=listen, name=f"yiwang-job-{key}-listen", daemon=True).start()
    return job


def jobs() -> dict[str, Job]:
    return st.session_state.setdefault("yiwang_jobs", {})


def get(key: str) -> Job | None:
    return jobs().get(key)


__all__ = ["Cancelled", "Job", "get", "jobs", "start"]
