"""One piece of work in a process of its own, beside this one: `with beside(fn, *args) as pending: ...;
pending.result()`.

What the Run -> plan pipeline uses to simulate the default plan while the optimiser works: the two need nothing
from each other, and the machine has two cores. The work is a pure function (a simulation of a scenario, a plan
and a seed), so where it ran does not change its result.

The process is forked when this process has a single thread (it then starts at once, with everything already
imported), and spawned otherwise (forking a process with other threads running can copy a lock one of them
holds). If no process can be started, or the function cannot be sent to one, the work runs here when its result
is asked for. An exception in the work is raised by `result()`; leaving the `with` block early ends the process.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from typing import Any


def _work(send: Connection, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """In the child: run the work and send back (True, result) or (False, the exception)."""
    try:
        out: tuple[bool, Any] = (True, fn(*args, **kwargs))
    except BaseException as exc:  # every failure goes back to the parent, which raises it
        out = (False, exc)
    try:
        send.send(out)
    except Exception as exc:  # an exception or result that cannot be pickled: say what it was
        send.send((False, RuntimeError(f"{type(out[1]).__name__} from a process of its own: {out[1]} ({exc})")))
    finally:
        send.close()


class Pending:
    """Work started in a process of its own (or, failing that, to be done here when asked for)."""

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self._fn, self._args, self._kwargs = fn, args, kwargs
        self.where = "here"
        self._proc: Any = None
        method = "fork" if threading.active_count() == 1 else "spawn"
        try:
            ctx: Any = multiprocessing.get_context(method)
            self._recv, send = ctx.Pipe(duplex=False)
            self._proc = ctx.Process(target=_work, args=(send, fn, args, kwargs), name="yiwang-beside")
            self._proc.start()
            send.close()
            self.where = f"a process of its own ({method})"
        except Exception:  # no process to be had (or the work cannot be sent): it will run here
            self._proc = None

    def result(self) -> Any:
        """The work's result (waiting for it); the work's own exception if it raised one."""
        if self._proc is None:
            return self._fn(*self._args, **self._kwargs)
        try:
            ok, value = self._recv.recv()
        except EOFError:
            self._proc.join()
            raise RuntimeError(f"the process running {getattr(self._fn, '__name__', self._fn)} ended without an "
                               f"answer (exit code {self._proc.exitcode})") from None  # fmt: skip
        finally:
            self._recv.close()
        self._proc.join()
        self._proc = None
        if ok:
            return value
        raise value

    def close(self) -> None:
        """End the process if it is still running (its result is no longer wanted)."""
        if self._proc is not None:
            if self._proc.is_alive():
                self._proc.terminate()
            self._proc.join()
            self._recv.close()
            self._proc = None


@contextmanager
def beside(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Iterator[Pending]:
    """Start `fn(*args, **kwargs)` in a process of its own; ask the yielded `Pending` for its result."""
    pending = Pending(fn, args, kwargs)
    try:
        yield pending
    finally:
        pending.close()


__all__ = ["Pending", "beside"]
