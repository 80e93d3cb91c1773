"""`chatbot` command line: one thin module per group of commands over the public API.

    documents.py  ingest, sources, remove
    answers.py    ask, chat, summarize
    measure.py    eval, bench
    system.py     models, doctor, serve, ui
    collections.py  collections (list, create, delete) and the --collection option
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING, TypeAlias

from chatbot import ChatbotError, load_settings
from chatbot.cli import collections
from chatbot.cli.answers import cmd_ask, cmd_chat, cmd_summarize
from chatbot.cli.documents import cmd_ingest, cmd_remove, cmd_sources
from chatbot.cli.measure import cmd_bench, cmd_eval
from chatbot.cli.system import cmd_doctor, cmd_models, cmd_serve, cmd_ui
from chatbot.config import RETRIEVER_MODES
from chatbot.terminal import console, error

__all__ = ["build_parser", "cmd_bench", "cmd_eval", "main", "missing_dependency"]

if TYPE_CHECKING:
    Subparsers: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]


def _add_retrieval_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--k", type=int, help="passages to retrieve (default: CHATBOT_K)")
    p.add_argument(
        "--source", action="append", metavar="NAME",
        help="search only this indexed source or folder (repeatable; see `chatbot sources`)",
    )
    p.add_argument(
        "--retriever", choices=RETRIEVER_MODES, help="retrieval mode (default: CHATBOT_RETRIEVER)"
    )
    p.add_argument(
        "--mmr", action=argparse.BooleanOptionalAction, default=None,
        help="diversify passages by maximal marginal relevance (default: CHATBOT_MMR)",
    )


def _add_models_parser(sub: Subparsers) -> None:
    p = sub.add_parser("models", help="prepare the embedded models and report them")
    p.add_argument("--json", action="store_true", help="print a JSON report")
    p.set_defaults(handler=cmd_models)


def _add_ingest_parser(sub: Subparsers) -> None:
    p = sub.add_parser("ingest", help="add or update files and folders in the index")
    p.add_argument("paths", nargs="*", help="files or folders (default: seeds/)")
    p.add_argument(
        "--all", action="store_true",
        help="read every indexed source again from its file (works from any directory)",
    )
    p.add_argument("--prune", action="store_true", help="remove sources whose files are gone")
    p.add_argument("--include", action="append", help="glob of files to take (repeatable)")
    p.add_argument("--exclude", action="append", help="glob of files to leave out (repeatable)")
    p.add_argument(
        "--rebuild", action="store_true",
        help="build a new index from these paths (or --all) and switch to it when complete",
    )
    p.add_argument("--if-empty", action="store_true", help="only ingest into an empty index")
    p.add_argument(
        "--watch", action="store_true",
        help="then keep the index in step as files are added, changed, moved and deleted "
        "(implies --prune; Ctrl-C stops)",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(handler=cmd_ingest)


def _add_sources_parser(sub: Subparsers) -> None:
    p = sub.add_parser("sources", help="list indexed sources")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(handler=cmd_sources)


def _add_remove_parser(sub: Subparsers) -> None:
    p = sub.add_parser("remove", help="delete indexed sources")
    p.add_argument("sources", nargs="+", help="source names as listed by `chatbot sources`")
    p.set_defaults(handler=cmd_remove)


def _add_ask_parser(sub: Subparsers) -> None:
    p = sub.add_parser("ask", help="answer one question with citations")
    p.add_argument("question")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    _add_retrieval_flags(p)
    p.set_defaults(handler=cmd_ask)


def _add_chat_parser(sub: Subparsers) -> None:
    p = sub.add_parser("chat", help="interactive chat in the terminal")
    _add_retrieval_flags(p)
    p.set_defaults(handler=cmd_chat)


def _add_summarize_parser(sub: Subparsers) -> None:
    p = sub.add_parser("summarize", help="summarize whole documents with citations")
    p.add_argument("sources", nargs="*", help="indexed sources or folders (default: all)")
    p.add_argument("--bullets", type=int, default=5, help="number of bullets (default: 5)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=cmd_summarize)


def _add_eval_parser(sub: Subparsers) -> None:
    p = sub.add_parser("eval", help="run an evaluation suite (YAML cases with assertions)")
    p.add_argument(
        "suite", nargs="?", help="suite file (default: the bundled suite on the seed article)"
    )
    p.add_argument("--json", metavar="OUT", help="write the JSON report here")
    p.add_argument("--html", metavar="OUT", help="write the HTML report here")
    p.add_argument(
        "--collection", metavar="NAME", default=argparse.SUPPRESS,
        help="run on this existing collection instead of a throwaway one with the suite's "
        "documents",
    )
    p.set_defaults(handler=cmd_eval)


def _add_bench_parser(sub: Subparsers) -> None:
    p = sub.add_parser("bench", help="retrieval and answer metrics on corpus/questions JSONL")
    p.add_argument("--corpus", required=True, help="corpus.jsonl: {id, title, text} rows")
    p.add_argument("--questions", required=True, help="questions.jsonl rows")
    p.add_argument(
        "--retriever", default="all", choices=["hybrid", "dense", "bm25", "hybrid_rrf", "all"]
    )
    p.add_argument("--k", type=int, default=10, help="distinct passages ranked (default: 10)")
    p.add_argument("--answers", type=int, default=0, help="answer the first N questions")
    p.add_argument("--limit", type=int, help="retrieval on the first N questions only")
    p.add_argument("--no-baseline", action="store_true", help="skip the quick-start baseline")
    p.add_argument("--json", metavar="OUT", help="write the JSON report here")
    p.set_defaults(handler=cmd_bench)


def _add_doctor_parser(sub: Subparsers) -> None:
    p = sub.add_parser("doctor", help="check what works on this machine, each problem with its fix")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=cmd_doctor)


def _add_serve_parser(sub: Subparsers) -> None:
    p = sub.add_parser("serve", help="serve an OpenAI-compatible HTTP API with citations")
    p.add_argument("--host", help="address to listen on (default: CHATBOT_SERVE_HOST)")
    p.add_argument("--port", type=int, help="port (default: CHATBOT_SERVE_PORT)")
    p.set_defaults(handler=cmd_serve)


def _add_ui_parser(sub: Subparsers) -> None:
    p = sub.add_parser("ui", help="start the Streamlit app")
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--host", default="127.0.0.1")
    p.set_defaults(handler=cmd_ui)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chatbot", description="Cited answers from your own documents."
    )
    collections.add_collection_option(parser, top=True)
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (
        _add_models_parser, _add_ingest_parser, _add_sources_parser, _add_remove_parser,
        _add_ask_parser, _add_chat_parser, _add_summarize_parser, _add_eval_parser,
        _add_bench_parser, _add_doctor_parser, _add_serve_parser, _add_ui_parser,
    ):
        add(sub)
    collections.add_parser(sub)
    for name, command in sub.choices.items():  # every command that touches the index
        if name not in ("models", "bench", "eval", "collections"):
            collections.add_collection_option(command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "doctor":
            return cmd_doctor(args)  # builds the settings itself, to report them
        settings = collections.scoped(load_settings(), args)
        return int(args.handler(settings, args))
    except ChatbotError as exc:
        error(str(exc))
        return 2
    except ImportError as exc:  # a third-party package missing or broken: an install problem
        if (exc.name or "").partition(".")[0] == "chatbot":
            raise  # our own module failing to import is a bug: keep the traceback
        error(missing_dependency(exc))
        return 2
    except KeyboardInterrupt:
        console.print("interrupted")
        return 130


def missing_dependency(exc: ImportError) -> str:
    """One line naming what is missing and the fix."""
    from chatbot.loaders import REINSTALL

    if isinstance(exc, ChatbotError):  # MissingDependencyError: already one line with the fix
        return str(exc)
    detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        return f"missing dependency {exc.name} ({detail}); {REINSTALL}"
    return f"broken dependency ({detail}); {REINSTALL}"
