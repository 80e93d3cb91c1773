"""The command line shared by benchmarks that collect one JSON file per set, then analyse them.

    script.py --corpus C.jsonl --questions Q.jsonl --out R.json [--limit N]
    script.py --analyse R1.json [R2.json ...]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path


def run(
    doc: str,
    collect: Callable[[argparse.Namespace], None],
    analyse: Callable[[list[Path]], None],
) -> None:
    """Parse the arguments and either collect one run or analyse saved ones."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--corpus", type=Path)
    parser.add_argument("--questions", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--analyse", type=Path, nargs="+", help="print the trade-offs")
    args = parser.parse_args()
    if args.analyse:
        analyse(args.analyse)
    elif args.corpus and args.questions and args.out:
        collect(args)
    else:
        parser.error("--corpus, --questions and --out, or --analyse")
