"""``python -m worker suppressions list|show|add|remove``: the addresses we no longer mail."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from typing import Any

from worker.cli.arguments import address
from worker.cli.output import STORE, emit, pipeline


def cmd_suppressions_list(args: argparse.Namespace) -> int:
    emit(
        pipeline().suppressions.list(),
        args.json,
        ["address", "reason", "status", "kind", "notice_id", "at"],
    )
    return 0


def cmd_suppressions_show(args: argparse.Namespace) -> int:
    sup = pipeline().suppressions
    record, log = sup.get(args.address), sup.log(args.address)
    if record is None and not log:
        print(f"{args.address} is not on the suppression list and never was", file=sys.stderr)
        return 1
    if args.json:
        print(
            json.dumps(
                {"address": args.address, "suppression": record, "log": log}, ensure_ascii=False
            )
        )
        return 0
    if record:
        for key in ("address", "reason", "status", "kind", "source", "notice_id", "at"):
            print(f"{key:>10}: {record.get(key) or '-'}")
    else:
        print(f"{args.address} is not on the suppression list now")
    print("       log:")
    for entry in log:
        print(f"  {entry['at']}  {entry['action']:<8} by {entry['by']}: {entry['reason'] or '-'}")
    return 0


def cmd_suppressions_add(args: argparse.Namespace) -> int:
    sup = pipeline().suppressions
    if sup.get(args.address):
        print(f"{args.address} is on the suppression list already", file=sys.stderr)
        return 1
    sup.add(
        args.address,
        notice_id=None,
        reason=args.reason,
        status=None,
        kind="manual",
        source="operator",
        by=args.by or getpass.getuser(),
    )
    print(f"suppressed {args.address}")
    return 0


def cmd_suppressions_remove(args: argparse.Namespace) -> int:
    if not pipeline().suppressions.remove(
        args.address, by=args.by or getpass.getuser(), reason=args.reason or ""
    ):
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
    p = sup.add_parser("show", help="one address: why it is suppressed, and every change")
    p.add_argument("address")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_suppressions_show, needs=STORE)
    p = sup.add_parser("add", help="suppress an address by hand")
    p.add_argument("address", type=address)
    p.add_argument("--reason", required=True, help="why, kept in the address's log")
    p.add_argument("--by", help="who, kept in the log (default: the OS user)")
    p.set_defaults(func=cmd_suppressions_add, needs=STORE)
    p = sup.add_parser("remove")
    p.add_argument("address")
    p.add_argument("--reason", help="why, kept in the address's log")
    p.add_argument("--by", help="who, kept in the log (default: the OS user)")
    p.set_defaults(func=cmd_suppressions_remove, needs=STORE)
