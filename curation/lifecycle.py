"""Clean stops: SIGTERM behaves like Ctrl-C, and no child process (worker, ffmpeg, yt-dlp) outlives us.

Worker processes also ask the kernel to kill them when their parent dies (PR_SET_PDEATHSIG), so a
SIGKILLed driver leaves no worker finishing a shard behind the back of the resumed run.
"""

from __future__ import annotations

import contextlib
import ctypes
import signal
import sys
from collections.abc import Iterator
from types import FrameType

import psutil

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Linux only: this process gets SIGKILL when its parent exits (no-op elsewhere)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def kill_children(timeout: float = 5.0) -> None:
    """Terminate every descendant (workers, ffmpeg, yt-dlp); kill those that linger."""
    children = psutil.Process().children(recursive=True)
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.terminate()
    _, alive = psutil.wait_procs(children, timeout=timeout)
    for child in alive:
        with contextlib.suppress(psutil.Error):
            child.kill()


def _raise_interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextlib.contextmanager
def stop_cleanly() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt in the driver; on any interruption the children are ended."""
    previous = signal.getsignal(signal.SIGTERM)
    installed = False
    with contextlib.suppress(ValueError):  # not the main thread: leave signals alone
        signal.signal(signal.SIGTERM, _raise_interrupt)
        installed = True
    try:
        yield
    except KeyboardInterrupt:  # only an interruption ends children: a user's Spark JVM survives a failed run
        kill_children()
        raise
    finally:
        if installed:
            signal.signal(signal.SIGTERM, previous)
