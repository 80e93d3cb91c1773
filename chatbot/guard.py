"""Defences against instructions planted in documents (prompt injection), shared by answers,
follow-up rewriting and summaries.

Document text reaches a model only through `defuse` (it cannot forge the prompt's passage
headers, the question line or the chat template's special tokens). A sentence of a passage that
reads as an instruction to an AI (`instruction_spans`, recognised in `instructions.py`) is
withheld from the model and reported (`withhold`). What the model writes goes through `screen`
before the user sees it: a URL, link or image the user's question does not contain, a sentence
that echoes words only found in a planted instruction, and a sentence that repeats our own prompt
are removed, each with a note, so nothing is dropped silently. The rules are deterministic: they
hold whatever the model does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from chatbot import markers

# Re-exported: answers, tests and benchmarks reach the detector as guard.<name>.
from chatbot.instructions import WITHHELD as WITHHELD
from chatbot.instructions import Withheld as Withheld
from chatbot.instructions import instruction_spans as instruction_spans
from chatbot.instructions import is_instruction as is_instruction
from chatbot.instructions import withhold as withhold
from chatbot.retrieve import bm25_tokens
from chatbot.sentences import sentence_spans

# --- what a document may not imitate ----------------------------------------------------------
#: A line of document text that would read as a passage header or as the user's question.
_FORGED = re.compile(r"^[ \t]*(?:\[(\d+)\]|(question|passages|source)\s*:)", re.I | re.M)
#: Chat-template control tokens (`<|im_start|>`, `<|endoftext|>`): a server that parses special
#: tokens in message text would otherwise let a document open a system turn of its own.
_SPECIAL_TOKEN = re.compile(r"<\|([^|<>\n]{1,40})\|>")


def _unforge(text: str) -> str:
    return _FORGED.sub(
        lambda m: f"({m.group(1)})" if m.group(1) else f"{m.group(2).lower()} -", text
    )


def defuse(text: str) -> str:
    """Document text as data: lines imitating the prompt's structure ("[7] ...", "Source:",
    "Question:") are shown "(7)", "question -", and chat-template tokens lose their bars, so
    only our own code draws passage boundaries and message turns."""
    return _unforge(_SPECIAL_TOKEN.sub(lambda m: f"<{m.group(1)}>", text))


def as_data(text: str, on: bool = True) -> str:
    """A passage's text as the model reads it: instruction sentences withheld, then defused.
    With the guard off (`injection_guard`, the measured baseline) only forged passage headers
    are defused, as before this module existed."""
    return defuse(withhold(text).text) if on else _unforge(text)


#: Every note of this module starts so; the CLI and the app show these notes always.
NOTE = "guard: "


def is_note(note: str) -> bool:
    return note.startswith(NOTE)


def shown_notes(notes: Iterable[str]) -> list[str]:
    """This module's notes among `notes`, without their prefix: what the CLI and app show."""
    return [n.removeprefix(NOTE) for n in notes if is_note(n)]


def withheld_notes(texts: Iterable[str], where: str = "") -> list[str]:
    """Notes naming what `withhold` keeps from the model in `texts` (the user sees them; the
    cited passage still shows the whole text)."""
    return [
        f"{NOTE}withheld from the model{where}, as an instruction to an AI found in a document: "
        f"{shorten(defang(r))!r}"
        for text in texts
        for r in withhold(text).removed
    ]


# --- URLs, links and images --------------------------------------------------------------------
_URL = re.compile(r"(?:(?:https?|ftp)://|www\.)[^\s<>\[\]()\"'`]+[^\s<>\[\]()\"'`.,;:!?]", re.I)
_IMAGE = re.compile(r"!\[[^\]\n]*\]\([^)\n]*\)|<img\b[^>\n]*>?", re.I)
#: `[words](target)`; a citation marker followed by a bracket ("[1](p. 2)") is not a link.
_LINK = re.compile(r"(?<!!)\[(?![\d, ]+\])([^\]\n]*)\]\(([^)\n]*)\)")


def defang(text: str) -> str:
    """URLs written so that no renderer or terminal makes them clickable (`hxxps://a[.]b`)."""

    def one(match: re.Match[str]) -> str:
        url = re.sub(r"^(?i:http)", "hxxp", match.group(0))
        return url.replace(".", "[.]")

    return _URL.sub(one, text)


def shorten(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def strip_links(text: str, question: str, notes: list[str]) -> str:
    """Remove images, links and URLs that the user's question does not contain; a link keeps
    its words, an image goes whole (its only purpose can be to make the reader fetch it)."""
    allowed = set(_URL.findall(question))

    def image(match: re.Match[str]) -> str:
        urls = _URL.findall(match.group(0))
        if urls and all(u in allowed for u in urls):
            return match.group(0)
        notes.append(f"{NOTE}removed an image from the answer: {shorten(defang(match.group(0)))!r}")
        return ""

    def link(match: re.Match[str]) -> str:
        target = match.group(2).strip()
        if target in allowed:
            return match.group(0)
        notes.append(f"{NOTE}removed a link to {shorten(defang(target))!r}; its words stay")
        return match.group(1)

    def url(match: re.Match[str]) -> str:
        if match.group(0) in allowed:
            return match.group(0)
        shown = shorten(defang(match.group(0)))
        notes.append(f"{NOTE}removed a web address not in your question: {shown!r}")
        return "(link removed)"

    return _URL.sub(url, _LINK.sub(link, _IMAGE.sub(image, text)))


# --- what the model wrote ----------------------------------------------------------------------
#: Words of instructions that also occur in plain answers; never a sign of an echo.
_PLAIN = frozenset(bm25_tokens(
    "answer answers reply question questions word words say tell user users reader readers "
    "always every each end start begin only include add append write print output following"
))
#: A sentence with this many words found only in planted instructions echoes one.
ECHO_WORDS = 3
#: A sentence sharing this many consecutive words with our own prompt repeats it.
PROMPT_ECHO_WORDS = 6


@dataclass
class Screen:
    """What a reply may not contain, worked out once per prompt.

    `planted` are words that occur in the passages only inside instruction sentences (and not
    in the user's question); `payload` are those of them written like a token to echo (in
    capitals, with a digit, or hyphenated: "PWNED", "ZEBRA42", "QX-17", "11 am")."""

    question: str
    planted: frozenset[str]
    payload: frozenset[str]
    prompt_ngrams: frozenset[tuple[str, ...]]
    #: Words of the passages outside instructions, and of the question: what an answer may say.
    facts: frozenset[str] = frozenset()


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def _ngrams(words: Sequence[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


_TOKEN_LIKE = re.compile(r"[\w-]+")


def _token_like(word: str) -> bool:
    return (len(word) >= 3 and word.isupper()) or any(c.isdigit() for c in word) or (
        "-" in word.strip("-")
    )


def make_screen(
    texts: Sequence[str], question: str, prompts: Sequence[str] = (), says: Sequence[str] = ()
) -> Screen:
    """The screen for a reply to `question` written from `texts` under `prompts`; `says` are
    replies the prompts ask for word for word (the abstention), which repeat no instruction."""
    inside: set[str] = set()
    shouted: set[str] = set()
    outside: set[str] = set(bm25_tokens(question))
    for text in texts:
        done = 0
        for a, b in instruction_spans(text):
            outside.update(bm25_tokens(text[done:a]))
            inside.update(bm25_tokens(text[a:b]))
            for word in _TOKEN_LIKE.findall(text[a:b]):
                if _token_like(word):
                    shouted.update(bm25_tokens(word.replace("-", " ")))
            done = b
        outside.update(bm25_tokens(text[done:]))
    ngrams: set[tuple[str, ...]] = set()
    for prompt in prompts:
        ngrams |= _ngrams(_words(markers.strip(prompt)), PROMPT_ECHO_WORDS)
    for reply in says:
        ngrams -= _ngrams(_words(reply), PROMPT_ECHO_WORDS)
    planted = inside - outside - _PLAIN
    return Screen(
        question, frozenset(planted), frozenset(planted & shouted), frozenset(ngrams),
        frozenset(outside),
    )


def _verdict(sentence: str, screen: Screen) -> str | None:
    """Why a sentence of a reply must not be shown, or None."""
    words = set(bm25_tokens(markers.strip(sentence)))
    echoed = sorted(words & screen.planted)
    if words & screen.payload or len(echoed) >= ECHO_WORDS:
        return f"echoes an instruction planted in a document ({', '.join(echoed[:3])})"
    if _ngrams(_words(markers.strip(sentence)), PROMPT_ECHO_WORDS) & screen.prompt_ngrams:
        return "repeats the assistant's own instructions"
    if is_instruction(markers.strip(sentence)):
        return "reads as an instruction to an AI"
    return None


_DIGIT = re.compile(r"\d")


def _trim(sentence: str, screen: Screen) -> tuple[str, str] | None:
    """(the sentence without its echoed words, those words) when what is left is a statement
    the passages support ("ARRR-MATEY, the food bank opens on Wednesdays [1]."); None when the
    whole sentence must go (an echoed number would leave a false or broken statement)."""
    kept: list[str] = []
    dropped: list[str] = []
    for match in re.finditer(r"\S+\s*", sentence):
        word = match.group(0)
        tokens = set(bm25_tokens(markers.strip(word)))
        if tokens and tokens <= screen.planted:
            dropped.append(word.strip())
        else:
            kept.append(word)
    rest = "".join(kept).strip()
    content = set(bm25_tokens(markers.strip(rest)))
    if not dropped or len(content) < 2 or content & screen.planted:
        return None
    if any(c.isdigit() for c in "".join(dropped)) and not _DIGIT.search(markers.strip(rest)):
        return None  # the number was the planted one: what is left would mislead
    if len(content & screen.facts) < len(content) / 2 or _verdict(rest, screen) is not None:
        return None
    return rest, " ".join(dropped)


def screen_text(text: str, screen: Screen, notes: list[str]) -> str:
    """`text` without foreign links and without sentences that obey a planted instruction."""
    before = len(notes)
    text = strip_links(text, screen.question, notes)
    pieces: list[str] = []
    done = 0
    for a, b in sentence_spans(text, lines=True):
        reason = _verdict(text[a:b], screen)
        if reason is None:
            continue
        trimmed = _trim(text[a:b], screen) if reason.startswith("echoes") else None
        if trimmed is None:
            notes.append(f"{NOTE}removed a sentence that {reason}: {shorten(defang(text[a:b]))!r}")
        else:
            notes.append(
                f"{NOTE}removed words that echo an instruction planted in a document: "
                f"{shorten(defang(trimmed[1]))!r}"
            )
        pieces += [text[done:a], trimmed[0] if trimmed else ""]
        done = b
    pieces.append(text[done:])
    if len(notes) == before:
        return text  # nothing removed: the reply stays exactly as written
    return re.sub(r"\n{3,}", "\n\n", re.sub(r"[ \t]+\n", "\n", "".join(pieces))).strip()


#: Where a link, URL or image may begin: text from here on waits for the end of its sentence.
_LINK_START = re.compile(r"!\[|\]\(|<img|https?:|ftp:|www\.|\[[^\]\d]", re.I)


def screen_stream(tokens: Iterable[str], screen: Screen) -> Iterator[str]:
    """What to display while a reply streams in. When the passages held a planted instruction
    (`screen.planted`), each sentence waits until it is complete and screened, so an echo never
    shows even for a moment; otherwise words pass at once and only a possible link waits for
    its sentence. The final text is `screen_text` of the whole reply, not this."""
    careful = bool(screen.planted)
    buffer = ""
    try:
        for token in tokens:
            buffer += token
            spans = sentence_spans(buffer, lines=True)
            if len(spans) >= 2:
                cut = spans[-1][0]
                yield _screen_piece(buffer[:cut], screen)
                buffer = buffer[cut:]
            if careful or _LINK_START.search(buffer):
                continue
            cut = max(buffer.rfind(" "), buffer.rfind("\n")) + 1  # a word may still grow
            if cut:
                yield buffer[:cut]
                buffer = buffer[cut:]
    except Exception:  # the stream broke off: the user still sees what came, screened
        if buffer:
            yield _screen_piece(buffer, screen)
        raise
    if buffer:
        yield _screen_piece(buffer, screen)


def _screen_piece(piece: str, screen: Screen) -> str:
    kept = screen_text(piece, screen, [])
    if kept == piece:
        return piece
    lead = piece[: len(piece) - len(piece.lstrip())]
    tail = piece[len(piece.rstrip()) :]
    return f"{lead}{kept}{tail}" if kept else ""


def rewrite_problem(
    rewritten: str, said: Sequence[str], asked: Sequence[str], prompt: str
) -> str | None:
    """Why a follow-up rewritten by the model must not be used (it obeys an instruction quoted
    in an earlier answer `said`, or carries a link the user never wrote), or None."""
    notes: list[str] = []
    user = " ".join(asked)
    screen = make_screen(said, user, [prompt])
    kept = screen_text(rewritten, screen, notes)
    if not notes and is_instruction(rewritten) and not any(is_instruction(q) for q in asked):
        notes.append("reads as an instruction to an AI")
    if not notes and kept:
        return None
    return (
        f"{NOTE}discarded the rewritten follow-up {shorten(defang(rewritten))!r} "
        "(it follows text from an earlier answer, not your question); searched for your "
        "question as asked"
    )
