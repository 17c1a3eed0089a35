"""A port's methods, guarded: a method that raises, declines or hangs costs that check, not the run.

`nndl conform` sees every backend but the reference through `Guarded`. A call to one of its
functions, to its Model's (or Ensemble's) methods, or to its optional modules' functions:
- that raises `Unsupported(reason)` (the contract's decline) raises `Declined`: the backend's pairs in
  that configuration are n/a, with the reason;
- that raises anything else, NotImplementedError included, raises a PortError naming the backend, the
  method and the exception: the backend's pairs in that configuration fail;
- that runs past the backend's time left in the check (`TimeLimit`) is stopped and raises a PortError.
An NndlError (a port's own one-line refusal, such as resolve_device's) and Ctrl-C pass through as they are.

The time limit is an interval timer (SIGALRM), so it stops a port that loops in Python, and in the main
thread only; elsewhere, and for a port that hangs inside C code that holds the GIL, there is no limit.
"""

from __future__ import annotations

import signal
import threading
import time
import traceback
import types
from contextlib import contextmanager

from conformance.backend.contract import Unsupported
from conformance.spec.errors import NndlError, PortError, one_line


class Declined(Exception):
    """A backend declined a configuration: `supports(spec)` gave a reason, or its Model raised Unsupported."""

    def __init__(self, backend: str, reason: str):
        self.backend, self.reason = backend, reason
        super().__init__(f"{backend}: {reason}")


class _OutOfTime(BaseException):
    """Raised inside a port's method when its time is up: a BaseException, so that a port's own
    `except Exception` cannot swallow it."""


class TimeLimit:
    """Each backend's seconds of its own methods left in the current check (None: no limit)."""

    def __init__(self, seconds: float | None):
        self.seconds = seconds
        self._left: dict[str, float] = {}
        self._running = False

    def start_check(self) -> None:
        """Give every backend the whole limit again, for the next check."""
        self._left.clear()

    @contextmanager
    def running(self, backend: str):
        """Count the time inside, against `backend`'s time left; stop the call when it runs out."""
        if self.seconds is None or self._running or threading.current_thread() is not threading.main_thread():
            yield
            return
        left = self._left.get(backend, self.seconds)
        if left <= 0:
            raise _OutOfTime
        previous = signal.signal(signal.SIGALRM, _out_of_time)
        signal.setitimer(signal.ITIMER_REAL, left)
        started, self._running = time.monotonic(), True
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
            self._running = False
            self._left[backend] = left - (time.monotonic() - started)


def _out_of_time(signum, frame):
    raise _OutOfTime


class Guarded:
    """A backend (module) whose callables are guarded; its other names are its own."""

    def __init__(self, backend, limit: TimeLimit, tracebacks: list[str]):
        self._backend, self._limit, self._tracebacks = backend, limit, tracebacks
        self.NAME = backend.NAME

    def __getattr__(self, name: str):
        return self._guard(getattr(self._backend, name), name)

    def _guard(self, value, path: str):
        if isinstance(value, (type, types.ModuleType)):
            return _GuardedObject(value, path, self)
        if callable(value):
            return self.guarded_call(value, path)
        return value

    def guarded_call(self, function, method: str):
        def call(*args, **kwargs):
            try:
                with self._limit.running(self.NAME):
                    result = function(*args, **kwargs)
            except Unsupported as declined:
                raise Declined(self.NAME, str(declined) or "declined, without a reason") from None
            except (NndlError, Declined):
                raise
            except _OutOfTime:
                limit = f"{self._limit.seconds:g} s of its own methods in one check"
                raise PortError(self.NAME, method, f"ran past the time limit ({limit}; --timeout)") from None
            except Exception as error:  # noqa: BLE001 (whatever a port raises fails its check)
                self._tracebacks.append(f"{self.NAME}'s {method}:\n{''.join(traceback.format_exc())}")
                raise PortError(self.NAME, method, f"raised {_one_line(error)}") from None
            if isinstance(function, type):  # a Model or an Ensemble: its methods guarded in turn
                return _GuardedObject(result, method.removesuffix("()"), self)
            return result

        return call


class _GuardedObject:
    """A class, an instance or a module of a guarded backend: its callables guarded, named `path.name`."""

    def __init__(self, wrapped, path: str, guard: Guarded):
        self._wrapped, self._path, self._guard_of = wrapped, path, guard

    def __call__(self, *args, **kwargs):  # a class: its instance, guarded in turn
        return self._guard_of.guarded_call(self._wrapped, f"{self._path}()")(*args, **kwargs)

    def __getattr__(self, name: str):
        value = getattr(self._wrapped, name)
        return self._guard_of.guarded_call(value, f"{self._path}.{name}") if callable(value) else value


def _one_line(error: BaseException) -> str:
    """The exception on one line; a NotImplementedError says it is a function not written yet."""
    return one_line(error) + (" (a function not written yet)" if isinstance(error, NotImplementedError) else "")
