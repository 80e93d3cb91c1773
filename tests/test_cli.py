"""The command line as a user meets it: exit codes, one JSON object, one-line errors."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from chatbot.cli import main


@pytest.fixture
def fake_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, seed_dir: Path) -> Path:
    monkeypatch.setenv("CHATBOT_LLM_PROVIDER", "fake")
    monkeypatch.setenv("CHATBOT_EMBEDDINGS_PROVIDER", "fake")
    monkeypatch.setenv("CHATBOT_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def test_ask_json_prints_exactly_one_object(
    fake_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ingest"]) == 0  # default path: seeds/
    capsys.readouterr()
    assert main(["ask", "--json", "Which country does Xi visit before the SCO summit?"]) == 0
    stdout = capsys.readouterr().out
    data = json.loads(stdout)  # fails on anything but exactly one JSON document
    assert stdout.count("\n") == 1
    assert "Kazakhstan" in data["answer"] and not data["abstained"]
    document = (fake_env / "seeds" / "xi-kazakhstan-visit.txt").read_text(encoding="utf-8")
    for citation in data["citations"]:
        assert citation["source"] == "seeds/xi-kazakhstan-visit.txt"
        assert citation["text"] in document


def test_ask_streams_answer_and_sources(
    fake_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["ingest", "seeds"])
    capsys.readouterr()
    assert main(["ask", "When did Xi last travel to Kazakhstan?"]) == 0
    out = capsys.readouterr().out
    answer, _, sources = out.partition("\n\n")
    cited = re.search(r"\[(\d)\]\.$", answer.strip())
    assert "2017" in answer and cited
    # The numbered source line under the answer, then the cited passage itself.
    assert sources.startswith(f"[{cited.group(1)}] seeds/xi-kazakhstan-visit.txt (chars ")
    assert "2017" in sources


def test_ask_on_empty_index_says_what_to_do(
    fake_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ask", "anything?"]) == 1
    assert "chatbot ingest" in capsys.readouterr().err


def test_bad_setting_is_one_line_without_traceback(
    fake_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CHATBOT_LLM_PROVIDER", "llamafile")
    assert main(["sources"]) == 2
    err = capsys.readouterr().err
    assert "valid providers: local, openai, fake" in err
    assert "Traceback" not in err


def test_too_long_question_is_a_clear_error(
    fake_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["ingest"])
    capsys.readouterr()
    assert main(["ask", "x" * 3000]) == 2
    assert "CHATBOT_MAX_QUESTION_CHARS" in capsys.readouterr().err


def test_chat_keeps_history_and_rewrites_follow_ups(
    fake_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["ingest"])
    lines = iter(["When did Xi last travel to Kazakhstan?", "What did he attend then?", ""])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(lines))
    assert main(["chat"]) == 0
    captured = capsys.readouterr()
    assert "2017" in captured.out
    assert "searched for:" in captured.err


def test_chat_routes_summary_requests(
    fake_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["ingest"])
    lines = iter(["Summarize the article", ""])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(lines))
    assert main(["chat"]) == 0
    out = capsys.readouterr().out
    assert out.lstrip().startswith("- ")
    assert "seeds/xi-kazakhstan-visit.txt" in out


def test_ask_source_filter_and_retrieval_flags(
    fake_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (fake_env / "other").mkdir()
    (fake_env / "other" / "bakery.txt").write_text(
        "The bakery on Elm Street sells rye bread every morning.", encoding="utf-8"
    )
    assert main(["ingest", "seeds", "other"]) == 0
    capsys.readouterr()
    question = "What does the bakery on Elm Street sell?"
    assert main(["ask", "--json", "--source", "seeds/", "--retriever", "bm25", question]) == 0
    data = json.loads(capsys.readouterr().out)
    assert "rye" not in data["answer"]
    assert {c["source"] for c in data["citations"]} <= {"seeds/xi-kazakhstan-visit.txt"}
    assert main(["ask", "--json", "--source", "other/bakery.txt", "--mmr", question]) == 0
    data = json.loads(capsys.readouterr().out)
    assert "rye bread" in data["answer"]
    assert {c["source"] for c in data["citations"]} == {"other/bakery.txt"}
    assert main(["ask", "--source", "nowhere.txt", question]) == 2
    err = capsys.readouterr().err
    assert "no indexed source 'nowhere.txt'" in err and "other/bakery.txt" in err


# --- issue 13 item 3: user- and model-controlled text is printed as plain text ------------------
def test_model_text_with_rich_markup_is_printed_verbatim(
    fake_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["ingest"])
    capsys.readouterr()
    reply = "[/INST] Xi visits [bold]Kazakhstan[/bold] first [1]. Bananas are [red]blue[/]."
    monkeypatch.setenv("CHATBOT_FAKE_LLM_REPLIES", json.dumps([reply]))
    assert main(["ask", "Which country does Xi visit first?"]) == 0
    captured = capsys.readouterr()
    assert "MarkupError" not in captured.err and "Traceback" not in captured.err
    assert "[/INST] Xi visits [bold]Kazakhstan[/bold] first [1]." in captured.out
    assert "unsupported: Bananas are [red]blue[/]." in captured.out


def test_chat_survives_markup_in_replies_questions_and_errors(
    fake_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["ingest"])
    capsys.readouterr()
    lines = iter(
        ["When did Xi visit [/x] Kazakhstan?", "And then [/y]?", "x" * 3000, "Summary?", ""]
    )
    monkeypatch.setattr("builtins.input", lambda prompt="": next(lines))
    assert main(["chat"]) == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and "MarkupError" not in captured.err
    assert "searched for: And then [/y]? (When did Xi visit [/x] Kazakhstan?)" in captured.err
    assert "CHATBOT_MAX_QUESTION_CHARS" in captured.err  # the session went on after it


@pytest.mark.parametrize("name", ["Meeting notes [final].txt", "a[/b].txt", "x [bold]y[/bold].txt"])
def test_source_names_with_brackets_are_printed_verbatim(
    fake_env: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    folder = fake_env / "docs"
    folder.mkdir()
    path = folder / name  # "a[/b].txt" is file "b].txt" in folder "a["
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("The bakery on Elm Street sells rye bread.", encoding="utf-8")
    assert main(["ingest", "docs"]) == 0
    assert f"added docs/{name}" in capsys.readouterr().err
    assert main(["ask", "What does the bakery on Elm Street sell?"]) == 0
    out = capsys.readouterr().out
    assert f"[1] docs/{name} (chars" in out
    assert main(["sources"]) == 0
    table = capsys.readouterr().out  # a narrow terminal folds the name at its spaces
    assert all(part in table for part in f"docs/{name}".split())
    assert main(["remove", f"docs/{name}"]) == 0
    assert f"removed docs/{name}" in capsys.readouterr().err


def test_terminal_control_characters_in_names_are_shown_escaped(
    fake_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = fake_env / "docs"
    folder.mkdir()
    (folder / "evil\x1b[2Jname\u202e.txt").write_text("Rye bread is sold daily.", encoding="utf-8")
    assert main(["ingest", "docs"]) == 0
    err = capsys.readouterr().err
    assert "\x1b[2J" not in err and "\u202e" not in err
    assert "docs/evil\\x1b[2Jname\\u202e.txt" in err
    assert main(["ask", "--source", "docs/\x1b]0;title\x07", "Rye?"]) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\x07" not in err
    assert "\\x1b]0;title\\x07" in err


def test_error_messages_with_markup_are_printed_verbatim(
    fake_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["ingest"])
    capsys.readouterr()
    assert main(["ask", "--source", "[/nowhere]", "What?"]) == 2
    err = capsys.readouterr().err
    assert "no indexed source '[/nowhere]'" in err and "Traceback" not in err


# --- install problems: one line naming the fix, never a traceback or a silent skip ------------
def test_a_missing_extractor_stops_the_ingest_with_one_line(
    fake_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = fake_env / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Plain text is fine.")
    (docs / "b.html").write_text("<html><body><p>A page about lighthouses.</p></body></html>")
    monkeypatch.setitem(sys.modules, "lxml_html_clean", None)  # as if it were not installed
    assert main(["ingest", "docs"]) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in err  # once, not once per file
    assert "html extractor cannot import lxml_html_clean" in errors[0]
    assert errors[0].endswith("make install")


def test_a_broken_dependency_is_one_line(
    fake_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The failure of issue 12 (SQLAlchemy's asyncio module without greenlet), raised where
    the index opens its store."""
    import chatbot.records

    def no_greenlet(path: object) -> None:
        raise ImportError(
            "The SQLAlchemy asyncio module requires that the Python 'greenlet' library is "
            "installed.  In order to ensure this dependency is available, use the "
            "'sqlalchemy[asyncio]' install target:  'pip install sqlalchemy[asyncio]'"
        )

    monkeypatch.setattr(chatbot.records, "connect", no_greenlet)
    assert main(["ingest"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "greenlet" in err and "make install" in err


def test_a_missing_module_is_named(
    fake_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "chromadb", None)
    assert main(["sources"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: missing dependency chromadb") and err.count("\n") == 1


def test_python_m_chatbot_is_the_command(fake_env: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "chatbot", "--help"], capture_output=True, text=True, check=True
    )
    assert "doctor" in result.stdout and "ingest" in result.stdout


def test_eval_runs_the_bundled_suite_from_any_folder(
    fake_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No suite path and no seeds/ in the working directory: the suite and its article ship
    in the package (the fake model fails some cases; the suite must still run)."""
    shutil.rmtree(fake_env / "seeds")
    assert main(["eval", "--json", "report.json"]) in (0, 1)
    report = json.loads((fake_env / "report.json").read_text(encoding="utf-8"))
    assert report["suite"] == "seed-smoke" and report["passed"] + report["failed"] == 18
    assert report["passed"] > 0


def test_ingest_if_empty_still_upgrades_an_older_index(
    fake_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`make chat` runs `chatbot ingest --if-empty seeds`: an index written without titles and
    headings is upgraded there, with a message, and nothing else is ingested."""
    guide = fake_env / "guide"
    guide.mkdir()
    (guide / "g.md").write_text("# Tide Guide\n\n## Spring tides\n\nThey come twice a month.")
    monkeypatch.setenv("CHATBOT_HEADINGS_IN_INDEX", "off")
    assert main(["ingest", "guide"]) == 0
    monkeypatch.setenv("CHATBOT_HEADINGS_IN_INDEX", "on")
    capsys.readouterr()
    assert main(["ingest", "--if-empty", "seeds"]) == 0
    printed = capsys.readouterr()
    said = " ".join((printed.out + printed.err).split())
    assert "nothing to ingest; upgraded 1 document(s) to the current index" in said
    assert main(["sources", "--json"]) == 0
    assert [row["source"] for row in json.loads(capsys.readouterr().out)] == ["guide/g.md"]
    assert main(["ingest", "--if-empty", "seeds"]) == 0
    printed = capsys.readouterr()
    assert "upgraded" not in printed.out + printed.err
