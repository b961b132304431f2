"""Running a script as `python SCRIPT ARGS` would, and stopping it from outside.

`as_main` sets what python sets (sys.argv, sys.path[0], an absolute `__file__`) and restores the
working directory and signal handlers afterwards; the script's stdout can be sent elsewhere, at the
file-descriptor level too, so child processes and C extensions follow.

`Stopper` ends the run when the budget is spent away from a hooked torch call: at `--max-seconds`
in a data-preparation loop or a sleep, or when another thread spent the step budget while the main
thread waits in `join()`. It first gives the script GRACE seconds to reach a hooked call (a clean
stop point), then interrupts the main thread with STOP_SIGNAL, whose handler raises StopRun, also
inside a blocking call. If the script installed its own handler for that signal, the stop falls
back to an asynchronous exception (pure-Python code stops; a blocking C call finishes first). A
STOP_SIGNAL that traindoctor did not send goes to the handler it replaced.
It also catches `os._exit` in this process, so a script that ends that way still gets its report;
a forked child's `os._exit` exits for real.
"""

from __future__ import annotations

import builtins
import contextlib
import ctypes
import importlib.machinery
import operator
import os
import signal
import sys
import threading
import types
from typing import Any, Iterator, TextIO

from ..measure.recorder import STOPPING, Recorder, StopRun

STOP_SIGNAL = signal.SIGUSR2  # rarely handled by training code (Lightning's SLURM requeue uses SIGUSR1)
GRACE = 1.0  # seconds between deciding to stop and interrupting code that makes no hooked call


@contextlib.contextmanager
def as_main(script: str, args: list[str], stdout: TextIO | None) -> Iterator[str]:
    """Yield the path to run: `__file__` absolute, sys.argv[0] as given, sys.path[0] the script's
    real folder, exactly as `python SCRIPT` sets them; everything is restored afterwards."""
    path = os.path.join(os.getcwd(), script)
    saved_argv, saved_path, cwd = sys.argv, sys.path[:], os.getcwd()
    handlers = _signal_handlers()
    sys.argv = [script, *args]
    folder = os.path.dirname(os.path.realpath(path))
    sys.path[:1] = [folder]
    try:
        with _stdout_to(stdout):
            yield path
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path
        with contextlib.suppress(OSError):  # the script may have removed it
            os.chdir(cwd)
        _restore_signal_handlers(handlers)


def run_as_main(path: str) -> None:
    """Execute the file as python executes its main script: module `__main__`, `__file__` = path.

    (runpy.run_path would also set sys.argv[0] to the absolute path; python keeps it as typed.)
    """
    with open(path, "rb") as f:
        code = compile(f.read(), path, "exec", dont_inherit=True)
    main = types.ModuleType("__main__")
    main.__dict__.update(__file__=path, __cached__=None, __package__=None, __spec__=None, __builtins__=builtins,
                         __loader__=importlib.machinery.SourceFileLoader("__main__", path))
    saved = sys.modules.get("__main__")
    sys.modules["__main__"] = main  # multiprocessing's spawn finds the script to re-import here
    try:
        exec(code, main.__dict__)
    finally:
        if saved is not None:
            sys.modules["__main__"] = saved


@contextlib.contextmanager
def _stdout_to(stream: TextIO | None) -> Iterator[None]:
    if stream is None:
        yield
        return
    sys.stdout.flush()
    saved = None
    try:
        target = stream.fileno()
        saved = os.dup(1)
        os.dup2(target, 1)
    except (AttributeError, OSError, ValueError):  # no file descriptor (e.g. a StringIO): Python level only
        pass
    try:
        with contextlib.redirect_stdout(stream):
            yield
    finally:
        with contextlib.suppress(Exception):
            stream.flush()
        if saved is not None:
            os.dup2(saved, 1)
            os.close(saved)


def _signal_handlers() -> dict[int, Any]:
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {s: h for s in signal.valid_signals() if (h := signal.getsignal(s)) is not None}


def _restore_signal_handlers(handlers: dict[int, Any]) -> None:
    for sig, handler in handlers.items():
        if signal.getsignal(sig) is not handler:
            with contextlib.suppress(OSError, ValueError, TypeError):
                signal.signal(sig, handler)


def exit_status(code: Any) -> int:
    """The process status python gives `sys.exit(code)`; a non-int code is printed to stderr."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _async_raise(thread: int, exc: type[BaseException] | None) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread), ctypes.py_object(exc) if exc else None)


class Stopper:
    """Stops the script's main thread from anywhere; see the module docstring."""

    def __init__(self, rec: Recorder, max_seconds: float | None):
        self.rec, self.max_seconds = rec, max_seconds
        self.thread, self.pid = threading.get_ident(), os.getpid()
        self._lock = threading.Lock()
        self._running = False
        self._sent = False  # one interruption only: a second one could land in the script's own cleanup
        self._signalled = False  # tells our STOP_SIGNAL from one sent by someone else (that goes to the replaced handler)
        self._async = False  # an asynchronous StopRun may still be pending: finish() cancels it before our code runs
        self._wake, self._finished, self._closed = threading.Event(), threading.Event(), threading.Event()
        self._handler = self._on_signal  # one bound method, so `getsignal(...) is self._handler` works
        self._previous: Any = None
        self._real_exit = os._exit
        self._excepthook = threading.excepthook

    def __enter__(self) -> "Stopper":
        self._running = True
        self.rec.interrupt = self.request
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(STOP_SIGNAL, self._handler)
        os._exit = self._os_exit
        threading.excepthook = self._thread_exception
        threading.Thread(target=self._watch, name="traindoctor-stopper", daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.finish()
        self._closed.set()
        self._wake.set()
        self.rec.interrupt = None
        if os._exit == self._os_exit:
            os._exit = self._real_exit
        if threading.excepthook == self._thread_exception:
            threading.excepthook = self._excepthook
        if self._previous is not None and signal.getsignal(STOP_SIGNAL) is self._handler:
            signal.signal(STOP_SIGNAL, self._previous)

    def finish(self) -> None:
        """The script's main thread is done: no interruption may reach traindoctor's own code."""
        with self._lock:
            self._running = False
            if self._async:
                _async_raise(self.thread, None)
        self._finished.set()

    def request(self) -> None:
        """Stop the main thread after the grace period (called by a thread that spent the budget)."""
        self._wake.set()

    def _watch(self) -> None:
        """The deadline holds until the run is over (also while the script's threads are joined)."""
        self._wake.wait(self.max_seconds)
        if self._closed.is_set():
            return
        if self.rec.stop_reason is None:
            self.rec.stop_reason = "max-seconds"
        if not self._finished.wait(GRACE):
            self._interrupt()

    def _interrupt(self) -> None:
        with self._lock:
            if not self._running or self._sent:
                return
            self._sent = True
            if signal.getsignal(STOP_SIGNAL) is self._handler:
                self._signalled = True
                signal.pthread_kill(self.thread, STOP_SIGNAL)
            else:  # the script took the signal over: leave it to its handler
                self._async = True
                _async_raise(self.thread, StopRun)

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self._signalled:
            self._signalled = False
            if self._running:
                raise StopRun(self.rec.stop_reason)
            return
        previous = self._previous
        if callable(previous):
            previous(signum, frame)
        elif previous != signal.SIG_IGN:  # the default action: terminate, as without traindoctor
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    def _os_exit(self, status: int) -> None:
        status = operator.index(status)  # os._exit's own TypeError for anything else
        if os.getpid() != self.pid or not self._running:
            self._real_exit(status)  # a forked child, or after the script: a real exit
        self.rec.exit_status, self.rec.stop_reason = status, "os-exit"
        if threading.get_ident() == self.thread:
            raise StopRun("os-exit")
        self.request()
        raise SystemExit(status)  # ends this thread quietly; the main thread stops at once

    def _thread_exception(self, args: Any) -> None:
        if not issubclass(args.exc_type, StopRun):  # a thread stopped by the budget ends quietly
            self._excepthook(args)


def started_threads(before: set[int]) -> list[threading.Thread]:
    """Non-daemon threads started since `before` (python waits for those at exit)."""
    me = threading.current_thread()
    return [t for t in threading.enumerate() if t.ident not in before and not t.daemon and t is not me]


def join_threads(threads: list[threading.Thread], rec: Recorder) -> int:
    """Wait for the script's threads as python would at exit; once the run is stopping, for about
    2 * GRACE seconds more per thread (they stop at their next hooked call; one that makes none, e.g.
    blocked in I/O or a pure-Python loop, may still be running). Returns how many are still running."""
    for t in threads:
        while t.is_alive():
            t.join(GRACE)
            if rec.stop_reason in STOPPING:
                t.join(GRACE)
                break
    return sum(t.is_alive() for t in threads)


_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def user_traceback(exc: BaseException, first_file: str | os.PathLike | None = None) -> tuple[str, dict[str, Any]]:
    """The traceback as the user should read it, chained exceptions included, and where their code raised.

    traindoctor's frames are left out everywhere (its hooks sit inside the user's calls); with
    `first_file`, so is every frame before that file's first one (runpy's, when traindoctor ran the
    file). The location is the innermost frame outside installed libraries, or where a SyntaxError is."""
    import traceback

    first = os.path.realpath(first_file) if first_file is not None else None
    te = traceback.TracebackException.from_exception(exc)
    todo, seen = [te], set()
    while todo:
        part = todo.pop()
        if part is None or id(part) in seen:
            continue
        seen.add(id(part))
        frames = [f for f in part.stack if not f.filename.startswith(_PKG_DIR)]
        if first is not None:
            # no frame of the file: it failed before running (a SyntaxError names its own line)
            start = next((i for i, f in enumerate(frames) if os.path.realpath(f.filename) == first), len(frames))
            frames = frames[start:]
        part.stack = traceback.StackSummary.from_list(frames)
        todo += [part.__cause__, part.__context__]
    text = "".join(te.format()).rstrip()
    if isinstance(exc, SyntaxError) and exc.filename:  # raised while compiling: no frame of the file
        return text, {"file": exc.filename, "line": exc.lineno}
    own = [f for f in te.stack if "site-packages" not in f.filename and "/lib/python" not in f.filename]
    last = (own or list(te.stack) or [None])[-1]
    return text, ({"file": last.filename, "line": last.lineno} if last else {})


def child_exit(exc: BaseException | None) -> None:
    """A forked child came back from the script: end it as python would, without a report."""
    status = 0
    if isinstance(exc, SystemExit):
        status = exit_status(exc.code)
    elif exc is not None and not isinstance(exc, StopRun):
        import traceback

        traceback.print_exception(exc)
        status = 1
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(status)

