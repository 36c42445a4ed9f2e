"""``python -m worker suppressions list|remove``: the addresses we no longer mail."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from worker.cli.output import STORE, emit, pipeline


def cmd_suppressions_list(args: argparse.Namespace) -> int:
    emit(
        pipeline().suppressions.list(),
        args.json,
        ["address", "reason", "status", "kind", "notice_id", "at"],
    )
    return 0


def cmd_suppressions_remove(args: argparse.Namespace) -> int:
    if not pipeline().suppressions.remove(args.address):
        print(f"{args.address} is not on the suppression list", file=sys.stderr)
        return 1
    print(f"removed {args.address}")
    return 0


def register(sub: Any) -> None:
    sup = sub.add_parser("suppressions", help="addresses not mailed").add_subparsers(
        dest="verb", required=True
    )
    p = sup.add_parser("list")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_suppressions_list, needs=STORE)
    p = sup.add_parser("remove")
    p.add_argument("address")
    p.set_defaults(func=cmd_suppressions_remove, needs=STORE)
