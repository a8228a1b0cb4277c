"""Named fault points for crash tests: a process told to die at one of them is killed there, mid-transaction.

Set `YIWANG_FAULT=<name>` in a child process's environment and it kills itself with SIGKILL when it reaches
`fault_point(<name>)`; nothing else happens anywhere else. The crash tests use it to show that an approval
interrupted at its worst moment leaves the store consistent and the audit chain valid.
"""

from __future__ import annotations

import os
import signal

FAULT_ENV = "YIWANG_FAULT"


def fault_point(name: str) -> None:
    """Die here, at once and without cleaning up, if this process was told to."""
    if os.environ.get(FAULT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


__all__ = ["FAULT_ENV", "fault_point"]
