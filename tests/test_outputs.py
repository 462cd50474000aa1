"""Files written whole or not at all, with the umask's permissions; JSON without NaN."""

import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from numeric import outputs
from numeric.errors import GradproofInputError
from numeric.outputs import check_output, json_line, put_in_place, scratch_file, written


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    yield 0o640
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_and_replaced_files_get_the_umask_permissions(tmp_path, umask_027):
    path = tmp_path / "out.txt"
    with written(path) as scratch:
        scratch.write_text("new")
    assert path.read_text() == "new" and mode(path) == umask_027
    path.chmod(0o600)  # as the old code left plots: overwriting must not keep 0600
    with written(path) as scratch:
        scratch.write_text("newer")
    assert path.read_text() == "newer" and mode(path) == umask_027
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_mkstemp_permissions_would_be_caught(tmp_path, umask_027, monkeypatch):
    """Teeth: a scratch file made as tempfile.mkstemp makes it (0600) fails the check above."""
    import tempfile

    def mkstemp_like(folder):
        fd, name = tempfile.mkstemp(dir=folder)
        os.close(fd)
        return Path(name)

    monkeypatch.setattr(outputs, "scratch_file", mkstemp_like)
    with written(tmp_path / "out.txt") as scratch:
        scratch.write_text("new")
    assert mode(tmp_path / "out.txt") == 0o600 != umask_027


def test_an_error_while_writing_leaves_the_old_file_and_no_scratch(tmp_path):
    path = tmp_path / "plot.png"
    path.write_bytes(b"old")
    with pytest.raises(ZeroDivisionError), written(path) as scratch:
        scratch.write_bytes(b"half")
        1 / 0  # noqa: B018
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["plot.png"]


def test_a_failing_rename_is_one_line_naming_the_target_not_the_scratch(tmp_path, monkeypatch):
    def full_disk(src, dst):
        raise OSError(28, "No space left on device", str(src))

    monkeypatch.setattr(outputs.os, "replace", full_disk)
    with pytest.raises(GradproofInputError) as err, written(tmp_path / "f.png", "plot") as s:
        s.write_bytes(b"data")
    assert str(err.value) == (
        f"cannot write plot '{tmp_path / 'f.png'}': No space left on device; choose a writable path"
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda root: (root / "d.png").mkdir() or root / "d.png", "it is a folder"),
        (lambda root: root / "missing" / "d.png", "folder '.*missing' does not exist"),
        (lambda root: Path("/dev/null"), "it is not a regular file"),
    ],
    ids=["folder", "missing folder", "device"],
)
def test_paths_that_cannot_take_a_file_are_refused_before_the_work(tmp_path, make, message):
    path = make(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    with pytest.raises(GradproofInputError, match=message):
        check_output(path, "plot")
    assert sorted(tmp_path.rglob("*")) == before


def test_a_read_only_folder_is_refused(tmp_path):
    if not Path("/proc/self").is_dir():
        pytest.skip("no /proc")
    with pytest.raises(GradproofInputError, match="cannot write plot '/proc/self/x.png'"):
        check_output("/proc/self/x.png", "plot")


def test_a_symbolic_link_is_written_through_as_open_would(tmp_path):
    (tmp_path / "real.txt").write_text("old")
    (tmp_path / "link.txt").symlink_to("real.txt")
    with written(tmp_path / "link.txt") as scratch:
        scratch.write_text("new")
    assert (tmp_path / "link.txt").is_symlink() and (tmp_path / "real.txt").read_text() == "new"


def test_put_in_place_checks_every_target_before_moving_any(tmp_path):
    files = [scratch_file(tmp_path) for _ in range(3)]
    for f in files:
        f.write_text(f.name)
    (tmp_path / "c").mkdir()
    moves = list(zip(files, [tmp_path / n for n in "abc"], strict=True))
    with pytest.raises(GradproofInputError, match="'.*c': it is a folder"):
        put_in_place(moves)
    assert not (tmp_path / "a").exists() and all(f.exists() for f in files)
    (tmp_path / "c").rmdir()
    put_in_place(moves)
    assert [(tmp_path / n).read_text() for n in "abc"] == [f.name for f in files]


def test_json_line_turns_every_non_finite_number_into_null():
    report = {
        "sigma_max": float("inf"),
        "verdict": {"rate": float("nan")},
        "rows": np.array([[1.0, -np.inf]]),
        "steps": np.int64(3),
        "mean": np.float64(-np.inf),
        "words": ("a", None, True),
    }
    text = json_line(report)
    assert "\n" not in text
    assert json.loads(text, parse_constant=pytest.fail) == {
        "sigma_max": None,
        "verdict": {"rate": None},
        "rows": [[1.0, None]],
        "steps": 3,
        "mean": None,
        "words": ["a", None, True],
    }
    with pytest.raises(ValueError, match="Out of range float"):  # teeth: without the sanitiser
        json.dumps({"sigma_max": float("inf")}, allow_nan=False)
