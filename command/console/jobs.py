"""Long work (optimisation, simulation) off the script thread, with progress and cancellation.

A job runs a function in a daemon thread; the function reports progress through a callback, which is also
where cancellation takes effect: the next report after `cancel()` raises `Cancelled`, so a cancelled job
stops at the next step boundary (between simulating, optimising and simulating again) and writes nothing
further. Jobs live in the browser session's state, so a rerun finds its running job and shows its progress.
"""

from __future__ import annotations

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
    _cancel: threading.Event = field(default_factory=threading.Event)

    def report(self, message: str) -> None:
        if self._cancel.is_set():
            raise Cancelled
        self.messages.append(message)

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def fraction(self) -> float:
        return 1.0 if self.done else min(0.95, len(self.messages) / max(1, self.steps))

    @property
    def running(self) -> bool:
        return not self.done

    def wait(self, timeout_s: float) -> bool:
        """Block until done or the timeout passes (tests and the browser poll instead)."""
        end = time.monotonic() + timeout_s
        while not self.done and time.monotonic() < end:
            time.sleep(0.05)
        return self.done


def start(key: str, label: str, work: Callable[[Callable[[str], None]], Any], *, steps: int) -> Job:
    """Start `work(report)` in a thread and keep the job under `key` in the session state."""
    job = Job(label=label, steps=steps)

    def run() -> None:
        try:
            job.result = work(job.report)
        except Cancelled:
            job.cancelled = True
        except Exception as exc:  # shown to the user as the job's error, one line
            job.error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        finally:
            job.finished = time.monotonic()
            job.done = True

    threading.Thread(target=run, name=f"yiwang-job-{key}", daemon=True).start()
    jobs().__setitem__(key, job)
    return job


def jobs() -> dict[str, Job]:
    return st.session_state.setdefault("yiwang_jobs", {})


def get(key: str) -> Job | None:
    return jobs().get(key)


__all__ = ["Cancelled", "Job", "get", "jobs", "start"]
