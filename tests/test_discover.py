"""Discovery: which files an ingestion takes (globs, hidden entries, each file once) and what
each is called, whatever the working directory."""

from __future__ import annotations

from pathlib import Path

import hypothesis
import pytest
from hypothesis import strategies as st

from chatbot.discover import Found, discover, name_for, within
from chatbot.models import IngestReport


def names(found: list[Found]) -> list[str]:
    return sorted(f.name for f in found)


def test_walks_folders_with_globs(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    (docs / "sub" / "deeper").mkdir(parents=True)
    (docs / ".git").mkdir()
    for name in ("a.md", "sub/b.txt", "sub/deeper/c.pdf", "sub/draft.txt", ".git/config.txt"):
        (docs / name).write_text("x")
    (docs / ".hidden.txt").write_text("x")
    report = IngestReport()

    assert names(discover([docs], (), (), report)) == [
        "docs/a.md", "docs/sub/b.txt", "docs/sub/deeper/c.pdf", "docs/sub/draft.txt"
    ]
    txt = discover([docs], ["*.txt"], (), report)
    assert names(txt) == ["docs/sub/b.txt", "docs/sub/draft.txt"]
    assert names(discover([docs], (), ["*draft*", "*/deeper/*"], report)) == [
        "docs/a.md", "docs/sub/b.txt"
    ]
    # A folder and a file inside it, named twice: each file once, under the folder's name.
    found = discover([docs, docs / "a.md", docs], (), (), report)
    assert len(found) == 4 and "docs/a.md" in names(found)
    assert report.files == []


def test_names_do_not_depend_on_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = tmp_path / "work" / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "sub" / "a.txt").write_text("x")
    for cwd, given in ((tmp_path, "work/docs"), (docs / "sub", ".."), (docs, ".")):
        monkeypatch.chdir(cwd)
        [found] = discover([Path(given)], (), (), IngestReport())
        assert found.name == "docs/sub/a.txt"
        assert found.real == (docs / "sub" / "a.txt").resolve()
    assert name_for(docs.resolve() / "sub" / "a.txt", docs.resolve() / "sub" / "a.txt") == (
        "sub/a.txt"
    )


def test_a_missing_path_is_reported(tmp_path: Path) -> None:
    report = IngestReport()
    assert discover([tmp_path / "gone"], (), (), report) == []
    [item] = report.files
    assert (item.status, item.reason) == ("skipped", "not found")


def test_only_keeps_files_at_or_under_the_given_paths_named_as_in_a_whole_walk(
    tmp_path: Path,
) -> None:
    """How a watched folder ingests what changed: the names do not depend on `only`."""
    docs = tmp_path / "docs"
    (docs / "sub" / "deeper").mkdir(parents=True)
    for name in ("a.md", "b.txt", "sub/c.txt", "sub/deeper/d.txt"):
        (docs / name).write_text("x")
    report = IngestReport()
    root = docs.resolve()
    only = {root / "b.txt", root / "sub" / "deeper", root / "gone.txt"}

    assert names(discover([Path("docs")], (), (), report, only)) == [
        "docs/b.txt", "docs/sub/deeper/d.txt"
    ]
    assert names(discover([Path("docs")], (), (), report, {root})) == names(
        discover([Path("docs")], (), (), report)
    )
    assert discover([Path("docs")], (), (), report, set()) == []
    assert report.files == []


_SEGMENTS = st.lists(st.sampled_from(["a", "b", "a0", "a-", "a.b", "ab"]), max_size=4)


@hypothesis.settings(max_examples=200, deadline=None)
@hypothesis.given(_SEGMENTS, st.lists(_SEGMENTS, max_size=4))
def test_within_agrees_with_path_parents(parts: list[str], others: list[list[str]]) -> None:
    """The text comparison a watched folder uses means exactly "is or is under" (`a` does
    not hold `a0` or `a-`)."""
    path = Path("/", *parts)
    only = {Path("/", *other) for other in others}
    assert within(path, only) == any(path == o or o in path.parents for o in only)
