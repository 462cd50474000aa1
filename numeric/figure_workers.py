"""Figures drawn in worker processes, one BLAS thread each, while the caller works on.

A worker is a fresh Python process (not forked, and without importing the
caller's ``__main__``) that receives ``sys.path`` and then figure tasks on
stdin, one at a time, answering each on stdout.  A thread of the caller
feeds each worker the next task from a shared queue; the caller, once its
own work is done, takes tasks no worker has started from the queue's other
end and draws them itself, so that it does not wait idle for a worker.
Figures multiply many small matrices, where BLAS threads only contend for
the cores, so each worker runs one.  A figure depends on nothing but its
arguments, so where it is drawn changes no byte.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import os
import pickle
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from pathlib import Path

__all__ = ["Figures", "draw_figures", "figure_workers"]

#: File names and the module-level functions that draw them, returning captions.
Figures = Sequence[tuple[str, Callable[[Path], str]]]


def draw_figures(folder: Path, figures: Figures) -> list[str]:
    """Draw each ``(name, draw)`` of ``figures`` into ``folder``, in order; return the captions.

    What a worker process runs for one section.

    Examples
    --------
    >>> draw_figures(Path("."), [("a.pdf", lambda path: f"caption of {path.name}")])
    ['caption of a.pdf']
    """
    return [draw(folder / name) for name, draw in figures]


#: Environment of worker processes: one BLAS (OpenBLAS, MKL, OpenMP) thread each.
_ONE_THREAD = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS")

#: What a worker runs: read the parent's ``sys.path``, then serve figure tasks.
#: Ctrl-C is the parent's to handle: it stops its workers.
_WORKER = (
    "import pickle, signal, sys\n"
    "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
    "sys.path[:] = pickle.load(sys.stdin.buffer)\n"
    "from numeric.figure_workers import _serve_figures\n"
    "_serve_figures()\n"
)


def _cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _sendable(figures: Figures) -> bool:
    """Whether the figure functions can be sent to a worker (module-level functions)."""
    try:
        pickle.dumps(tuple(figures))
    except (pickle.PicklingError, AttributeError, TypeError):
        return False
    return True


def _serve_figures() -> None:
    """Worker side: draw each task of stdin as it comes, answering each on stdout at once.

    A task is ``(folder, figures)``; the answer ``(True, captions)`` or
    ``(False, exception, traceback text)``.  The worker ends when stdin
    does.  Whatever else writes to stdout (nothing should) is sent to
    stderr, so it cannot corrupt the answers.
    """
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    while True:
        try:
            folder, figures = pickle.load(sys.stdin.buffer)
        except EOFError:
            return
        try:
            answer = (True, draw_figures(folder, figures))
        except Exception as exc:  # sent back and raised where the report is built
            trace = "".join(traceback.format_exception(exc))
            try:
                pickle.dumps(exc)
            except Exception:  # an exception that cannot travel: its words can
                exc = RuntimeError(f"{type(exc).__name__}: {exc}")
            answer = (False, exc, trace)
        pickle.dump(answer, answers)
        answers.flush()


class _RemoteTraceback(Exception):
    """The traceback of an exception raised in a worker, shown as its cause."""


class _FigureWorker:
    """A child Python process drawing figure tasks, one at a time (see :func:`_serve_figures`).

    Started fresh (not forked, and without importing the caller's
    ``__main__``), so nothing of this process's state reaches it but
    ``sys.path``; one BLAS thread unless the environment says otherwise.
    """

    def __init__(self) -> None:
        env = dict(os.environ)
        for name in _ONE_THREAD:
            env.setdefault(name, "1")
        self.process = subprocess.Popen(
            [sys.executable, "-c", _WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
        )
        pickle.dump(sys.path, self.process.stdin)
        self.process.stdin.flush()

    def draw(self, task: tuple[Path, tuple]) -> list[str]:
        """The captions of ``task``; its exception, raised here, if it failed."""
        pickle.dump(task, self.process.stdin)
        self.process.stdin.flush()
        try:
            answer = pickle.load(self.process.stdout)
        except EOFError:
            code = self.process.wait()
            raise RuntimeError(f"a figure worker process ended early (exit code {code})") from None
        if answer[0]:
            return answer[1]
        _, exc, trace = answer
        raise exc from _RemoteTraceback(f"in the worker process:\n{trace}")

    def close(self) -> None:
        """Stop the worker, drawing or not (every answer wanted has been read); wait for it."""
        self.process.kill()
        for pipe in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(OSError):  # a broken pipe to a worker already gone
                pipe.close()
        self.process.wait()


class _Queue:
    """Tasks not yet started: the feeding threads take them from the front, the caller any."""

    def __init__(self, tasks: dict[int, tuple[Path, tuple]]) -> None:
        self.tasks = tasks
        self.results = {i: Future() for i in tasks}
        self.pending = collections.deque(tasks)
        self.lock = threading.Lock()

    def next(self) -> int | None:
        """The first task not yet started, now taken; None if none is left."""
        with self.lock:
            return self.pending.popleft() if self.pending else None

    def claim(self, i: int) -> bool:
        """Take task ``i`` for the caller, if no worker has started it."""
        with self.lock:
            if i in self.pending:
                self.pending.remove(i)
                return True
            return False

    def cancel(self) -> None:
        """Let no worker start another task."""
        with self.lock:
            self.pending.clear()


def _feed(worker: _FigureWorker, first: int, work: _Queue) -> None:
    """A feeding thread: ``worker`` draws ``first``, then tasks from the front of the queue.

    Every outcome goes to the task's future; the thread ends at the first
    failure (the caller draws what is left) or when the queue is empty.
    """
    i = first
    while i is not None:
        try:
            work.results[i].set_result(worker.draw(work.tasks[i]))
        except BaseException as exc:  # for the caller to raise; a thread must not
            work.results[i].set_exception(exc)
            return
        i = work.next()


@contextlib.contextmanager
def figure_workers(
    folder: Path, groups: Sequence[Figures], progress: Callable[[str], None]
) -> Iterator[dict[int, Callable[[], list[str]]]]:
    """Start each group of figures in worker processes; yield index -> captions getter.

    One worker per spare core, each given the next group as it finishes
    one; groups left out (all of them on one core, or figure functions that
    cannot be sent) are for the caller to draw.  A getter called for a
    group no worker has started draws it here; call them from the last
    group back, so that the caller and the workers meet in the middle.  On
    leaving, workers still drawing are stopped, so that nothing writes into
    ``folder`` after it is removed.
    """
    sections = [i for i, figures in enumerate(groups) if figures and _sendable(figures)]
    count = min(len(sections), _cores() - 1) if sys.executable else 0
    if count < 1:
        yield {}
        return
    for i in sections:
        for name, _ in groups[i]:
            progress(f"measuring: {name} (in a worker process)")
    work = _Queue({i: (folder, tuple(groups[i])) for i in sections})

    def captions(i: int) -> list[str]:
        if not work.claim(i):
            return work.results[i].result()
        for name, _ in groups[i]:
            progress(f"measuring: {name} (here: the workers are busy)")
        return draw_figures(folder, groups[i])

    workers, threads = [], []
    try:
        for _ in range(count):
            workers.append(_FigureWorker())
            # Each worker's first group is given out now, so that no race can take it back.
            threads.append(threading.Thread(target=_feed, args=(workers[-1], work.next(), work)))
            threads[-1].start()
        yield {i: functools.partial(captions, i) for i in sections}
    finally:
        work.cancel()
        for worker in workers:
            worker.close()
        for thread in threads:
            thread.join()
