"""Terminal output helpers: untrusted text is never markup and never a control sequence."""

from __future__ import annotations

from rich.console import Console

from chatbot.terminal import line, plain, shown


def test_shown_escapes_controls_and_bidi_overrides() -> None:
    assert shown("a\x1b[31mb\u202ec\x07") == "a\\x1b[31mb\\u202ec\\x07"
    assert shown("one\ntwo\tthree") == "one\\x0atwo\\x09three"
    assert shown("one\ntwo\tthree", lines=True) == "one\ntwo\tthree"
    assert shown("x\x9by") == "x\\x9by"


def test_plain_and_line_never_parse_markup() -> None:
    console = Console(width=200, record=True, color_system=None)
    console.print(line(("error:", "red"), " ", "[/INST] [bold]x[/bold] [link=http://e]"))
    console.print(plain("[red]y[/]"))
    assert console.export_text() == "error: [/INST] [bold]x[/bold] [link=http://e]\n[red]y[/]\n"
