"""Run mdkit's coroutines for synchronous callers, safely inside Jupyter.

One daemon thread owns one event loop for the whole process; :func:`run` submits a
coroutine to it and waits. That works the same in a plain script, in a thread,
under a running loop (a notebook cell, ``asyncio.run``) and under ipykernel 7's
"Run All", because the caller's loop is never re-entered (no nest-asyncio: see
DESIGN.md "Event loop in notebooks").

Interrupts: Ctrl-C and the kernel's stop button raise ``KeyboardInterrupt`` in the
waiting thread. :func:`run` then calls the caller's ``on_interrupt`` (a capture
uses it to stop and keep what it collected) and waits for the coroutine to finish;
a second interrupt, or no ``on_interrupt``, cancels the coroutine and re-raises.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["run", "loop", "shutdown"]

log = logging.getLogger("mdkit.engine.runner")

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None


def loop() -> asyncio.AbstractEventLoop:
    """Return mdkit's event loop, starting its daemon thread on first use."""
    global _loop, _thread
    with _lock:
        if _loop is not None and _thread is not None and _thread.is_alive():
            return _loop
        new_loop = asyncio.new_event_loop()
        ready = threading.Event()

        def serve() -> None:
            asyncio.set_event_loop(new_loop)
            new_loop.call_soon(ready.set)
            new_loop.run_forever()

        thread = threading.Thread(target=serve, name="mdkit-loop", daemon=True)
        thread.start()
        ready.wait()
        _loop, _thread = new_loop, thread
        return new_loop


def run(
    coro: Coroutine[Any, Any, T],
    *,
    on_interrupt: Callable[[], None] | None = None,
    timeout: float | None = None,
) -> T:
    """Run ``coro`` on mdkit's loop thread and return its result.

    Parameters
    ----------
    coro : coroutine
        The work.
    on_interrupt : callable, optional
        Called (in the waiting thread) on the first ``KeyboardInterrupt``; it should
        make the coroutine finish soon, and the result is then returned as usual.
    timeout : float, optional
        Seconds to wait before cancelling the coroutine and raising ``TimeoutError``.

    Returns
    -------
    The coroutine's result.

    Raises
    ------
    KeyboardInterrupt
        On an interrupt without ``on_interrupt``, or on a second interrupt.
    LoopThreadError
        If called from mdkit's own loop thread (that would deadlock); a RuntimeError.
    Exception
        Whatever the coroutine raised.
    """
    target = loop()
    if threading.current_thread() is _thread:
        coro.close()
        from mdkit.errors import LoopThreadError

        raise LoopThreadError(
            "a synchronous mdkit call (mdkit.capture, mdkit.record...) was made on mdkit's "
            "event-loop thread (e.g. from record(on_status=...)), where it would deadlock: "
            "use the async form (await mdkit.acapture(...)) or call it from another thread"
        )
    future: concurrent.futures.Future[T] = asyncio.run_coroutine_threadsafe(coro, target)
    try:
        return _result(future, timeout)
    except KeyboardInterrupt:
        if on_interrupt is None:
            future.cancel()
            raise
        log.info("interrupted: stopping and keeping what was collected")
        try:
            on_interrupt()
            return _result(future, timeout)
        except KeyboardInterrupt:
            future.cancel()
            raise


def _result(future: concurrent.futures.Future[T], timeout: float | None) -> T:
    # concurrent.futures.TimeoutError is the built-in TimeoutError since 3.11: one the
    # coroutine raised must not be taken for our own wait running out.
    done, _ = concurrent.futures.wait([future], timeout)
    if not done:
        future.cancel()
        raise TimeoutError(f"mdkit: gave up after {timeout} s")
    return future.result()


def shutdown() -> None:
    """Stop mdkit's loop thread (it restarts on the next :func:`run`)."""
    global _loop, _thread
    with _lock:
        current, thread = _loop, _thread
        _loop = _thread = None
    if current is not None and thread is not None:
        current.call_soon_threadsafe(current.stop)
        thread.join(timeout=5)
        if not current.is_running():
            current.close()
