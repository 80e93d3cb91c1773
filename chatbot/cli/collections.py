"""`chatbot collections` (list, create, delete) and the `--collection` option of every command
that touches the index."""

from __future__ import annotations

import argparse
import json
import sys

from rich.table import Table

from chatbot import Chatbot, CollectionInfo, Settings
from chatbot.collections import check_name, require
from chatbot.terminal import console, error, line, out, plain

#: Commands that may name a collection that does not exist yet (they create it).
CREATING = ("ingest", "collections")


def add_collection_option(parser: argparse.ArgumentParser, *, top: bool = False) -> None:
    """`--collection NAME`, before the command (`chatbot --collection X ask ...`) or after it;
    the one after the command wins."""
    parser.add_argument(
        "--collection", metavar="NAME", default=None if top else argparse.SUPPRESS,
        help="the collection to use (default: CHATBOT_COLLECTION; see `chatbot collections`)",
    )


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "collections", help="list, create or delete collections (separate piles of documents)"
    )
    actions = p.add_subparsers(dest="action", metavar="{list,create,delete}")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    listing = actions.add_parser("list", help="name, sources, chunks, embedding model")
    listing.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="print a JSON list"
    )
    create = actions.add_parser("create", help="make an empty collection")
    create.add_argument("name")
    delete = actions.add_parser("delete", help="delete a collection and everything in it")
    delete.add_argument("name")
    delete.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(handler=cmd_collections)


def scoped(settings: Settings, args: argparse.Namespace) -> Settings:
    """The settings with `--collection` applied; a command that only reads refuses a
    collection that does not exist instead of creating an empty one."""
    name = getattr(args, "collection", None)
    if not name or name == settings.collection:
        return settings
    check_name(name)
    if args.command not in CREATING:
        require(settings, name)
    return settings.with_overrides(collection=name)


def cmd_collections(settings: Settings, args: argparse.Namespace) -> int:
    bot = Chatbot(settings)
    if args.action == "create":
        info = bot.create_collection(args.name)
        console.print(line("created collection ", info.name, f" ({info.embedding_model})"))
        return 0
    if args.action == "delete":
        return _delete(bot, args.name, args.yes)
    rows = bot.collections()
    if args.json:
        out.print(json.dumps([r.to_json() for r in rows], ensure_ascii=False), markup=False)
    else:
        _table(rows, settings)
    return 0


def _table(rows: list[CollectionInfo], settings: Settings) -> None:
    if not rows:
        out.print("no collections yet; `chatbot ingest PATH` makes the default one", markup=False)
        return
    table = Table("", "collection", "sources", "chunks", "embedding model")
    for row in rows:
        current = "*" if row.name == settings.collection else ""
        model = plain(row.embedding_model or "-")
        if row.embedding_model and row.embedding_model != settings.embedding_model:
            model = line(model, ("  (not the configured model: rebuild to use it)", "yellow"))
        table.add_row(current, plain(row.name), str(row.sources), str(row.chunks), model)
    out.print(table)
    out.print(plain("* the collection in use (CHATBOT_COLLECTION or --collection)", "dim"))


def _delete(bot: Chatbot, name: str, yes: bool) -> int:
    info = next((row for row in bot.collections() if row.name == name), None)
    require(bot.settings, name)  # an unknown name: the not-found error, listing the others
    held = f"{info.sources} sources, {info.chunks} chunks" if info else "no documents"
    if not yes:
        if not sys.stdin.isatty():
            error(f"refusing to delete collection {name!r} ({held}) without confirmation; "
                  "add --yes")
            return 1
        console.print(line("Delete collection ", name, f" ({held})? Type its name to confirm: "),
                      end="")
        if input().strip() != name:
            console.print("not deleted", markup=False)
            return 1
    bot.delete_collection(name)
    console.print(line("deleted collection ", name, f" ({held})"))
    return 0
