"""Uploaded files: a safe name, a type the endpoint reads (else 415 naming the field), written to a folder."""

from __future__ import annotations

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
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(upload.file.read())
    return path
