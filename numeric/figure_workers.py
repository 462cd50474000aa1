"""Figures drawn in worker processes, one BLAS thread each, while the caller works on.

A worker is a fresh Python process (not forked, and without importing the
caller's ``__main__``) that receives ``sys.path`` and a list of figure tasks
on stdin and answers each, in order, on stdout.  Figures multiply many small
matrices, where BLAS threads only contend for the cores, so each worker runs
one.  A figure depends on nothing but its arguments, so where it is drawn
changes no byte.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
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
    """Worker side: draw each task of stdin in order, answering each on stdout at once.

    A task is ``(folder, figures)``; the answer ``(True, captions)`` or
    ``(False, exception, traceback text)``.  Whatever else writes to stdout
    (nothing should) is sent to stderr, so it cannot corrupt the answers.
    """
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    tasks = pickle.load(sys.stdin.buffer)
    for folder, figures in tasks:
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
    """A child Python process drawing figure tasks in order (see :func:`_serve_figures`).

    Started fresh (not forked, and without importing the caller's
    ``__main__``), so nothing of this process's state reaches it but
    ``sys.path``; one BLAS thread unless the environment says otherwise.
    Answers are read in the order the tasks were given.
    """

    def __init__(self, tasks: list[tuple[Path, tuple]]) -> None:
        env = dict(os.environ)
        for name in _ONE_THREAD:
            env.setdefault(name, "1")
        self.process = subprocess.Popen(
            [sys.executable, "-c", _WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
        )
        self.unanswered = len(tasks)
        with self.process.stdin:
            pickle.dump(sys.path, self.process.stdin)
            pickle.dump(tasks, self.process.stdin)

    def next_answer(self) -> list[str]:
        """The captions of the next task; its exception, raised here, if it failed."""
        try:
            answer = pickle.load(self.process.stdout)
        except EOFError:
            code = self.process.wait()
            raise RuntimeError(f"a figure worker process ended early (exit code {code})") from None
        self.unanswered -= 1
        if answer[0]:
            return answer[1]
        _, exc, trace = answer
        raise exc from _RemoteTraceback(f"in the worker process:\n{trace}")

    def close(self) -> None:
        """Wait for the worker to exit; stop it first if it still has figures to draw."""
        if self.unanswered:
            self.process.kill()
        self.process.stdout.close()
        self.process.wait()


@contextlib.contextmanager
def figure_workers(
    folder: Path, groups: Sequence[Figures], progress: Callable[[str], None]
) -> Iterator[dict[int, Callable[[], list[str]]]]:
    """Start each group of figures in worker processes; yield index -> captions getter.

    One task per group, given out round-robin to one worker per spare core;
    groups left out (all of them on one core, or figure functions that
    cannot be sent) are for the caller to draw.  On leaving, workers still
    running are stopped, so that nothing writes into ``folder`` after it is
    removed.
    """
    sections = [i for i, figures in enumerate(groups) if figures and _sendable(figures)]
    count = min(len(sections), _cores() - 1) if sys.executable else 0
    if count < 1:
        yield {}
        return
    for i in sections:
        for name, _ in groups[i]:
            progress(f"measuring: {name} (in a worker process)")
    workers = []
    try:
        for w in range(count):
            tasks = [(folder, tuple(groups[i])) for i in sections[w::count]]
            workers.append(_FigureWorker(tasks))
        yield {i: workers[k % count].next_answer for k, i in enumerate(sections)}
    finally:
        for worker in workers:
            worker.close()
