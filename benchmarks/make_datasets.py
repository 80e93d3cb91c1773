"""Build the two extra retrieval benchmarks in benchmarks/data/ (corpus/questions JSONL).

    .venv/bin/python benchmarks/make_datasets.py

- pydoc_en: docstrings of Python 3.11 standard-library functions and classes (PSF licence) as
  passages, and 100 hand-written questions phrased the way users ask ("how do I ..."), mostly
  without the function's name: dense retrieval is strong here and keyword search weak, the
  opposite of XQuAD. 10 questions name modules that are not in the corpus (unanswerable).
- seed_en: the paragraphs of seeds/xi-kazakhstan-visit.txt as passages and 32 hand-written
  questions, 4 of them unanswerable.

The committed JSONL files are the reference: docstrings change between Python versions, so
rebuilding on another version gives a slightly different corpus.
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "data"
MODULES = [
    "os",
    "os.path",
    "shutil",
    "json",
    "re",
    "itertools",
    "functools",
    "collections",
    "statistics",
    "math",
    "random",
    "string",
    "textwrap",
    "datetime",
    "time",
    "pathlib",
    "subprocess",
    "tempfile",
    "glob",
    "fnmatch",
    "csv",
    "hashlib",
    "base64",
    "zipfile",
    "tarfile",
    "heapq",
    "bisect",
    "copy",
    "pprint",
    "difflib",
    "gzip",
    "urllib.parse",
    "html",
    "uuid",
    "secrets",
    "operator",
    "struct",
    "calendar",
    "zlib",
    "shlex",
    "socket",
    "threading",
    "queue",
    "sqlite3",
    "logging",
    "unicodedata",
    "decimal",
    "fractions",
    "array",
    "getpass",
    "platform",
    "locale",
    "codecs",
    "io",
    "contextlib",
    "dataclasses",
    "enum",
    "typing",
    "inspect",
    "traceback",
    "warnings",
    "weakref",
]

# (question, gold qualified names, answer strings)
PYDOC_QUESTIONS: list[tuple[str, list[str], list[str]]] = [
    (
        "How can I create a directory together with all the missing parent folders?",
        ["os.makedirs"],
        ["makedirs"],
    ),
    (
        "Which call deletes a single file from disk?",
        ["os.remove", "os.unlink"],
        ["remove", "unlink"],
    ),
    (
        "How do I rename a file so that an existing destination gets overwritten?",
        ["os.replace"],
        ["os.replace", "replace"],
    ),
    ("How many processors does this machine have?", ["os.cpu_count"], ["cpu_count"]),
    (
        "How do I read the system load averaged over the last 1, 5 and 15 minutes?",
        ["os.getloadavg"],
        ["getloadavg"],
    ),
    ("What gives me an iterator of DirEntry objects for a folder?", ["os.scandir"], ["scandir"]),
    (
        "How wide and tall is the terminal window?",
        ["os.get_terminal_size", "shutil.get_terminal_size"],
        ["get_terminal_size"],
    ),
    ("How do I find where an executable program lives on the PATH?", ["shutil.which"], ["which"]),
    ("How can I delete a folder and everything inside it?", ["shutil.rmtree"], ["rmtree"]),
    ("How much free space is left on the drive?", ["shutil.disk_usage"], ["disk_usage"]),
    (
        "Which copy function also preserves file metadata such as timestamps?",
        ["shutil.copy2"],
        ["copy2"],
    ),
    ("How do I copy an entire directory tree recursively?", ["shutil.copytree"], ["copytree"]),
    ("What is the Python equivalent of the Unix mv command?", ["shutil.move"], ["move"]),
    (
        "How can I build a zip or tar archive from a folder?",
        ["shutil.make_archive"],
        ["make_archive"],
    ),
    ("How do I turn a Python object into a JSON string?", ["json.dumps"], ["dumps"]),
    ("How do I parse a JSON document held in a str or bytes?", ["json.loads"], ["loads"]),
    (
        "How do I break a string apart wherever a regular expression matches?",
        ["re.split"],
        ["split"],
    ),
    ("How can I replace every match of a pattern in some text?", ["re.sub"], ["sub"]),
    (
        "Which tool groups consecutive items that share the same key?",
        ["itertools.groupby"],
        ["groupby"],
    ),
    (
        "How do I take a slice of an iterator without converting it to a list?",
        ["itertools.islice"],
        ["islice"],
    ),
    (
        "How do I zip sequences of unequal length, padding the shorter ones?",
        ["itertools.zip_longest"],
        ["zip_longest"],
    ),
    (
        "What computes the cartesian product of several iterables?",
        ["itertools.product"],
        ["product"],
    ),
    (
        "How can I memoize a function's results with a bounded cache?",
        ["functools.lru_cache"],
        ["lru_cache"],
    ),
    (
        "When writing a decorator, how do I keep the wrapped function's name and docstring?",
        ["functools.wraps", "functools.update_wrapper"],
        ["wraps", "update_wrapper"],
    ),
    (
        "How do I fold a list into a single value by applying a two-argument function "
        "cumulatively?",
        ["functools.reduce"],
        ["reduce"],
    ),
    (
        "How do I write a generic function whose behaviour depends on the type of its first "
        "argument?",
        ["functools.singledispatch"],
        ["singledispatch"],
    ),
    (
        "How do I get the n most frequent elements with their counts?",
        ["collections.Counter.most_common"],
        ["most_common"],
    ),
    (
        "How can several dictionaries be combined into one view that searches them in order?",
        ["collections.ChainMap"],
        ["ChainMap"],
    ),
    (
        "What dict subclass creates a value automatically for a missing key?",
        ["collections.defaultdict"],
        ["defaultdict"],
    ),
    (
        "With an even number of data points, which function returns the smaller of the two middle"
        " values?",
        ["statistics.median_low"],
        ["median_low"],
    ),
    (
        "How do I compute quartiles or percentiles of my data?",
        ["statistics.quantiles"],
        ["quantiles"],
    ),
    (
        "How do I compute Pearson's r between two lists?",
        ["statistics.correlation"],
        ["correlation"],
    ),
    (
        "How can I fit a straight line with ordinary least squares?",
        ["statistics.linear_regression"],
        ["linear_regression"],
    ),
    (
        "What is the right average for rates such as speeds?",
        ["statistics.harmonic_mean"],
        ["harmonic_mean"],
    ),
    (
        "How do I get the standard deviation of an entire population?",
        ["statistics.pstdev"],
        ["pstdev"],
    ),
    (
        "Which function returns all the values that tie for most frequent?",
        ["statistics.multimode"],
        ["multimode"],
    ),
    ("How should I compare two floats for approximate equality?", ["math.isclose"], ["isclose"]),
    ("How many ways are there to choose k items out of n?", ["math.comb"], ["comb"]),
    ("How do I measure the straight-line distance between two points?", ["math.dist"], ["dist"]),
    ("How do I multiply together all the numbers in a list?", ["math.prod"], ["prod"]),
    (
        "How do I draw random picks with replacement, optionally weighted?",
        ["random.Random.choices"],
        ["choices"],
    ),
    (
        "How can I pick k distinct random elements from a population?",
        ["random.Random.sample"],
        ["sample"],
    ),
    (
        "How do I strip the common leading indentation from a block of text?",
        ["textwrap.dedent", "inspect.cleandoc"],
        ["dedent", "cleandoc"],
    ),
    (
        "How can I truncate text to a given width and end it with a placeholder?",
        ["textwrap.shorten"],
        ["shorten"],
    ),
    ("How do I add a prefix to the beginning of selected lines?", ["textwrap.indent"], ["indent"]),
    (
        "How do I parse a date string according to a format into a time tuple?",
        ["time.strptime"],
        ["strptime"],
    ),
    ("How do I pause my program for a few seconds?", ["time.sleep"], ["sleep"]),
    ("How do I change a path's file extension?", ["pathlib.PurePath.with_suffix"], ["with_suffix"]),
    (
        "How can I get a path relative to another directory?",
        ["pathlib.PurePath.relative_to"],
        ["relative_to"],
    ),
    (
        "How do I find matching files recursively in all subdirectories with pathlib?",
        ["pathlib.Path.rglob"],
        ["rglob"],
    ),
    (
        "What is the recommended way to run an external command and wait for it to finish?",
        ["subprocess.run"],
        ["run"],
    ),
    (
        "How do I run a command and capture what it prints?",
        [
            "subprocess.check_output",
            "subprocess.getoutput",
            "subprocess.getstatusoutput",
            "subprocess.run",
        ],
        ["check_output", "getoutput", "getstatusoutput", "run"],
    ),
    (
        "How do I make a fresh temporary folder?",
        ["tempfile.mkdtemp", "tempfile.TemporaryDirectory"],
        ["mkdtemp", "TemporaryDirectory"],
    ),
    (
        "How can I get a temporary file that has a visible name in the filesystem?",
        ["tempfile.NamedTemporaryFile"],
        ["NamedTemporaryFile"],
    ),
    (
        "Is there a temporary file that stays in memory until it grows past a size?",
        ["tempfile.SpooledTemporaryFile"],
        ["SpooledTemporaryFile"],
    ),
    (
        "How do I match a filename against a shell wildcard pattern, case-sensitively?",
        ["fnmatch.fnmatchcase"],
        ["fnmatchcase"],
    ),
    (
        "How do I raise the maximum field size the CSV parser accepts?",
        ["csv.field_size_limit"],
        ["field_size_limit"],
    ),
    (
        "How can I hash the contents of a file object efficiently?",
        ["hashlib.file_digest"],
        ["file_digest"],
    ),
    (
        "How do I base64-encode bytes so the result is safe in URLs?",
        ["base64.urlsafe_b64encode"],
        ["urlsafe_b64encode"],
    ),
    ("How can I tell whether a file is a ZIP archive?", ["zipfile.is_zipfile"], ["is_zipfile"]),
    (
        "How do I combine several already-sorted inputs into one sorted stream?",
        ["heapq.merge"],
        ["merge"],
    ),
    (
        "How do I insert an item into a sorted list while keeping it sorted?",
        ["bisect.insort", "bisect.insort_left"],
        ["insort"],
    ),
    (
        "How do I find the words closest to a misspelled word from a list of candidates?",
        ["difflib.get_close_matches"],
        ["get_close_matches"],
    ),
    ("How do I produce a diff in the unified format?", ["difflib.unified_diff"], ["unified_diff"]),
    (
        "How can I measure how similar two sequences are as a number between 0 and 1?",
        ["difflib.SequenceMatcher.ratio"],
        ["ratio"],
    ),
    (
        "How do I turn a dictionary into a URL query string?",
        ["urllib.parse.urlencode"],
        ["urlencode"],
    ),
    (
        "How do I split a query string into a dictionary of parameters?",
        ["urllib.parse.parse_qs", "urllib.parse.parse_qsl"],
        ["parse_qs"],
    ),
    (
        "How do I make text safe to put inside HTML by escaping <, > and &?",
        ["html.escape"],
        ["escape"],
    ),
    (
        "How do I convert character references like &gt; back into characters?",
        ["html.unescape"],
        ["unescape"],
    ),
    (
        "How do I get the machine's hardware (MAC) address as an integer?",
        ["uuid.getnode"],
        ["getnode"],
    ),
    (
        "How do I generate a random token that I can put in a password-reset link?",
        ["secrets.token_urlsafe"],
        ["token_urlsafe"],
    ),
    (
        "How do I compare two secrets without leaking timing information?",
        ["secrets.compare_digest"],
        ["compare_digest"],
    ),
    (
        "How do I make a key function that fetches an attribute, for sorting objects?",
        ["operator.attrgetter"],
        ["attrgetter"],
    ),
    ("How do I compute an Adler-32 checksum?", ["zlib.adler32"], ["adler32"]),
    (
        "How do I open a TCP connection to a host and port in one call?",
        ["socket.create_connection"],
        ["create_connection"],
    ),
    (
        "How can a fixed number of threads wait for each other at a common point?",
        ["threading.Barrier"],
        ["Barrier"],
    ),
    (
        "How do I send warnings to the logging system?",
        ["logging.captureWarnings"],
        ["captureWarnings"],
    ),
    (
        "Which logging call records an error together with the current exception's traceback?",
        ["logging.exception"],
        ["exception"],
    ),
    (
        "How do I round a Decimal to a fixed number of decimal places?",
        ["decimal.Decimal.quantize"],
        ["quantize"],
    ),
    (
        "How do I find the closest fraction with a small denominator, like 22/7 for pi?",
        ["fractions.Fraction.limit_denominator"],
        ["limit_denominator"],
    ),
    ("What is the login name of the current user?", ["getpass.getuser"], ["getuser"]),
    (
        "How do I ignore a specific exception inside a with block?",
        ["contextlib.suppress"],
        ["suppress"],
    ),
    (
        "How do I temporarily send print output to a file instead of the screen?",
        ["contextlib.redirect_stdout"],
        ["redirect_stdout"],
    ),
    (
        "How do I manage a variable number of context managers, for example many open files?",
        ["contextlib.ExitStack"],
        ["ExitStack"],
    ),
    (
        "How do I make a copy of a frozen dataclass with one field changed?",
        ["dataclasses.replace"],
        ["replace"],
    ),
    (
        "How do I declare a distinct type such as UserId that is just an int at runtime?",
        ["typing.NewType"],
        ["NewType"],
    ),
    (
        "How do I tell the type checker that a line of code can never be reached?",
        ["typing.assert_never"],
        ["assert_never"],
    ),
    (
        "How do I register a callback that runs when an object is garbage collected?",
        ["weakref.finalize"],
        ["finalize"],
    ),
    (
        "How can I temporarily change the warnings filters and restore them afterwards?",
        ["warnings.catch_warnings"],
        ["catch_warnings"],
    ),
    (
        "How do I get the names of the nonlocal and global variables a function refers to?",
        ["inspect.getclosurevars"],
        ["getclosurevars"],
    ),
    # unanswerable: modules not in the corpus
    ("How do I send an email through an SMTP server?", [], []),
    ("How do I read a TOML configuration file?", [], []),
    ("How do I run two coroutines concurrently with asyncio?", [], []),
    ("How do I serialise an object to bytes with pickle?", [], []),
    ("How do I define command-line options with argparse?", [], []),
    ("How do I verify a server's TLS certificate?", [], []),
    ("How do I write a unit test class with setUp and tearDown?", [], []),
    ("How do I parse an XML document into an element tree?", [], []),
    ("How do I start a simple HTTP file server?", [], []),
    ("How do I read a value from the Windows registry?", [], []),
]

# (question, gold paragraph numbers, answer strings)
SEED_QUESTIONS: list[tuple[str, list[int], list[str]]] = [
    ("Where does Xi stop before going on to Samarkand?", [1, 4], ["Kazakhstan"]),
    ("On which dates will the Chinese leader be in Central Asia?", [2], ["September 14 to 16"]),
    ("Which ministry announced the trip on Monday?", [2], ["Foreign Ministry"]),
    ("What makes this his first journey abroad in a long time?", [3, 5], ["pandemic", "COVID-19"]),
    ("Who is the Kazakh head of state Xi will hold talks with?", [4], ["Tokayev"]),
    ("What was the Kazakh capital called at the time of the visit?", [4], ["Nur-Sultan"]),
    ("Who spoke for the Kazakh foreign ministry about the visit?", [5], ["Smadiyarov"]),
    ("Why does Kazakhstan call the visit unique?", [5], ["first country"]),
    ("When did Xi last travel to Kazakhstan?", [7, 10], ["2017"]),
    ("Which exhibition did Xi attend on his previous trip?", [7], ["Expo 2017"]),
    ("What was the old name of the capital city?", [7], ["Astana"]),
    (
        "Where did Xi give the speech that unveiled the Silk Road Economic Belt?",
        [9],
        ["Nazarbayev University"],
    ),
    ("In what year were the plans for the new Silk Road first announced?", [9], ["2013"]),
    ("Where was the Maritime Silk Road proposal made?", [9], ["Indonesian parliament"]),
    ("What is the unfortunate English acronym of the initiative?", [9], ["OBOR"]),
    ("What violent events in early 2022 still trouble Kazakhstan?", [10], ["January"]),
    ("How does Russia's invasion of Ukraine affect Kazakhstan?", [10], ["pressure"]),
    (
        "In which newspaper did Xi publish an article before the trip?",
        [12],
        ["Kazakhstanskaya Pravda"],
    ),
    ("How many times has Xi been to the country, counting this trip?", [12], ["fourth"]),
    ("How long have China and Kazakhstan had diplomatic ties?", [13], ["30 years"]),
    ("How did Xi describe the two nations in his article?", [13], ["good neighbors"]),
    (
        "What do the two countries support each other on regarding borders and sovereignty?",
        [15, 16],
        ["territorial integrity"],
    ),
    ("What four areas of focus did Xi outline?", [17], ["good neighborliness"]),
    ("Which kinds of security cooperation does Xi offer to expand?", [18], ["law enforcement"]),
    ("What are the threats Xi calls the three evils?", [18], ["three evils"]),
    (
        "How has the balance between Beijing and Moscow in the region changed?",
        [21],
        ["Beijing’s favor", "favor"],
    ),
    (
        "What was the old division of labor between China and Russia in Central Asia?",
        [21],
        ["security partner"],
    ),
    ("How much does a subscription cost per month?", [8, 19], ["$5"]),
    ("What agreements did Xi sign with Uzbekistan in Samarkand?", [], []),
    ("How much money did China invest in Kazakhstan in 2021?", [], []),
    ("What did Putin and Xi agree at their meeting?", [], []),
    ("Who is the president of Uzbekistan?", [], []),
]


def _write(folder: Path, corpus: list[dict[str, str]], questions: list[dict[str, object]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in (("corpus.jsonl", corpus), ("questions.jsonl", questions)):
        text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        (folder / name).write_text(text, encoding="utf-8")


def _targets(module_name: str) -> list[tuple[str, object]]:
    module = importlib.import_module(module_name)
    found: list[tuple[str, object]] = []
    for name, obj in sorted(vars(module).items()):
        if name.startswith("_"):
            continue
        if inspect.isfunction(obj) or inspect.isbuiltin(obj):
            found.append((f"{module_name}.{name}", obj))
        elif inspect.isclass(obj) and obj.__module__.split(".")[0] == module_name.split(".")[0]:
            found.append((f"{module_name}.{name}", obj))
            for member, value in sorted(vars(obj).items()):
                callable_member = inspect.isfunction(value) or inspect.ismethoddescriptor(value)
                if not member.startswith("_") and callable_member:
                    found.append((f"{module_name}.{name}.{member}", value))
    return found


def pydoc_corpus() -> list[dict[str, str]]:
    rows, seen = [], set()
    for module_name in MODULES:
        for qualname, obj in _targets(module_name):
            doc = inspect.getdoc(obj)
            if not doc or not 120 <= len(doc) <= 2500 or doc.strip() in seen:
                continue
            seen.add(doc.strip())
            try:
                signature = str(inspect.signature(obj))  # type: ignore[arg-type]
            except (TypeError, ValueError):
                signature = ""
            text = re.sub(r" at 0x[0-9a-f]+>", ">", f"{qualname}{signature}\n\n{doc}")
            text = text.replace(sys.executable, "python3")  # no machine paths
            rows.append({"id": f"pydoc-{qualname}", "title": qualname, "text": text})
    return rows


def build_pydoc() -> None:
    corpus = pydoc_corpus()
    by_id = {row["id"]: row for row in corpus}
    questions: list[dict[str, object]] = []
    for number, (question, gold, answers) in enumerate(PYDOC_QUESTIONS):
        ids = [f"pydoc-{g}" for g in gold]
        missing = [i for i in ids if i not in by_id]
        if missing:
            raise SystemExit(f"gold passage {missing[0]} not in this Python's corpus")
        questions.append(
            {
                "id": f"pydoc-q{number:03d}",
                "question": question,
                "answers": answers,
                "gold_passage_ids": ids,
            }
        )
    _write(OUT / "pydoc_en", corpus, questions)


def build_seed() -> None:
    text = (ROOT / "seeds" / "xi-kazakhstan-visit.txt").read_text(encoding="utf-8")
    paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
    title = "Why China's Xi Is Visiting Kazakhstan First"
    corpus = [{"id": f"seed-p{i:02d}", "title": title, "text": p} for i, p in enumerate(paragraphs)]
    questions: list[dict[str, object]] = []
    for number, (question, gold, answers) in enumerate(SEED_QUESTIONS):
        for answer in answers:
            if not any(answer.lower() in paragraphs[g].lower() for g in gold):
                raise SystemExit(f"answer {answer!r} not in the gold paragraphs of {question!r}")
        questions.append(
            {
                "id": f"seed-q{number:02d}",
                "question": question,
                "answers": answers,
                "gold_passage_ids": [corpus[g]["id"] for g in gold],
            }
        )
    _write(OUT / "seed_en", corpus, questions)


if __name__ == "__main__":
    build_pydoc()
    build_seed()
