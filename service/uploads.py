"""Uploaded files: a safe name, a type the endpoint reads (else 415 naming the field), written to a folder."""

from __future__ import annotations

import os
import re
from collections.abc import Collection
from pathlib import Path

from fastapi import UploadFile

from service.errors import ServiceError

_SAFE_NAME = re.compile(r"[^\w.\-\u4e00-\u9fff（）()]+")


def save_upload(upload: UploadFile, folder: Path, allowed: Collection[str], field: str) -> Path:
    """Write ``upload`` under ``folder`` with a sanitised name; 415 when its suffix is not ``allowed``."""
    name = _SAFE_NAME.sub("_", Path(upload.filename or "upload").name)[:120] or "upload"
    if Path(name).suffix.lower() not in allowed:
        raise ServiceError(
            415,
            "unsupported_file_type",
            f"{upload.filename}: readable types are {', '.join(sorted(allowed))}",
            field,
        )
    # uploads may be unpublished drafts or enterprise data: the service's user only (uploads/, the batch)
    for level in (folder.parent, folder):
        level.mkdir(parents=True, exist_ok=True, mode=0o700)
        level.chmod(0o700)
    path = folder / name
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out:
        out.write(upload.file.read())
    return path
