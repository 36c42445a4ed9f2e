"""Live reload: a fingerprint of the templates, catalogs and sample cases, for pages to poll."""

from __future__ import annotations

import hashlib
from pathlib import Path

from flask import Blueprint, Response, jsonify

from worker.resources import resource_dir
from worker.web.state import state

bp = Blueprint("live", __name__)
#: Milliseconds between two polls of an open preview page.
POLL_MS = 1500


def fingerprint(folders: list[Path]) -> str:
    """A hash of every file's name, size and modification time under ``folders``."""
    digest = hashlib.sha256()
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                stat = path.stat()
                digest.update(f"{path}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


@bp.get("/preview/changes")
def changes() -> Response:
    """``{"version": ...}``: it changes whenever a template, catalog or sample case does."""
    folders = [state().renderer.template_dir, resource_dir("locales"), resource_dir("samples")]
    response = jsonify({"version": fingerprint(folders)})
    response.headers["Cache-Control"] = "no-store"
    return response
