"""Figures in worker processes: the caller takes back what no worker has started."""

import threading
import time

import pytest

from numeric import figure_workers


def drawn_after_go(path):
    """A figure that waits until the caller says go; module-level, so that a worker can draw it."""
    deadline = time.monotonic() + 20
    while not (path.parent / "go").exists():
        if time.monotonic() > deadline:
            raise RuntimeError("nobody said go: the caller waited for this worker instead")
        time.sleep(0.01)
    path.write_text("first")
    return "first"


def drawn_at_once(path):
    path.write_text(path.stem)
    return path.stem


def within(seconds, getter):
    """``getter()``, failing instead of hanging if it waits longer (for a worker that is held)."""
    box = []
    thread = threading.Thread(target=lambda: box.append(getter()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert box, f"still waiting after {seconds} s"
    return box[0]


def test_the_caller_draws_the_groups_no_worker_has_started(tmp_path, monkeypatch):
    monkeypatch.setattr(figure_workers, "_cores", lambda: 2)  # one worker
    groups = [[("a.txt", drawn_after_go)], [("b.txt", drawn_at_once)], [("c.txt", drawn_at_once)]]
    lines = []
    with figure_workers.figure_workers(tmp_path, groups, lines.append) as drawing:
        # The worker holds the first group until go; the caller draws the others itself.
        assert within(10, drawing[2]) == ["c"] and within(10, drawing[1]) == ["b"]
        (tmp_path / "go").touch()
        assert drawing[0]() == ["first"]
    assert lines == [
        "measuring: a.txt (in a worker process)",
        "measuring: b.txt (in a worker process)",
        "measuring: c.txt (in a worker process)",
        "measuring: c.txt (here: the workers are busy)",
        "measuring: b.txt (here: the workers are busy)",
    ]
    assert {p.name: p.read_text() for p in tmp_path.iterdir() if p.suffix == ".txt"} == {
        "a.txt": "first",
        "b.txt": "b",
        "c.txt": "c",
    }


def drawn_slowly(path):
    time.sleep(2)
    path.write_text("late")
    return "late"


def test_leaving_early_stops_a_drawing_worker_before_it_writes(tmp_path, monkeypatch):
    monkeypatch.setattr(figure_workers, "_cores", lambda: 2)
    with pytest.raises(KeyError, match="the caller failed"):
        with figure_workers.figure_workers(tmp_path, [[("a.txt", drawn_slowly)]], print):
            raise KeyError("the caller failed")
    assert list(tmp_path.iterdir()) == []
