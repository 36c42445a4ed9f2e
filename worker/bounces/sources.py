"""Where inbound messages come from on the command line: files, folders, Maildir, mbox, stdin."""

from __future__ import annotations

import mailbox
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def read_messages(path: str, stdin: Any = None) -> Iterator[tuple[str, bytes]]:
    """Messages from a .eml file, a folder of them, a Maildir, an mbox, or ``-`` (stdin)."""
    if path == "-":
        yield "<stdin>", (stdin.buffer.read() if hasattr(stdin, "buffer") else stdin.read())
        return
    p = Path(path)
    if p.is_dir():
        if (p / "cur").is_dir() and (p / "new").is_dir():
            box = mailbox.Maildir(str(p), factory=None, create=False)
            for key in box.iterkeys():
                yield f"{p}:{key}", box.get_bytes(key)
            return
        for child in sorted(p.iterdir()):
            if child.is_file() and not child.name.startswith("."):
                yield from read_messages(str(child))
        return
    with p.open("rb") as fh:
        head = fh.read(5)
    if head == b"From ":
        mbox = mailbox.mbox(str(p), create=False)
        try:
            for n, key in enumerate(mbox.iterkeys()):
                yield f"{p}#{n}", mbox.get_bytes(key)
        finally:
            mbox.close()
        return
    yield str(p), p.read_bytes()
