"""Uploaded files: a safe name, a type the endpoint reads (else 415 naming the field), written to a folder.

Nothing is written before every file's type is checked, and :func:`discard` removes what an
upload left that was not kept (refused files, the whole folder on an error), so refused
uploads do not pile up in the data dir.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from typing import Any

from starlette.datastructures import UploadFile

from service.errors import ServiceError

_SAFE_NAME = re.compile(r"[^\w.\-\u4e00-\u9fff（）()]+")


def multipart_body(required: str, properties: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI request body of a route that parses its own multipart form (after its dependencies)."""
    schema = {"type": "object", "required": [required], "properties": properties}
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}}


def safe_name(upload: UploadFile) -> str:
    """The file name to store ``upload`` under (no folders, no odd characters, at most 120 characters)."""
    return _SAFE_NAME.sub("_", Path(upload.filename or "upload").name)[:120] or "upload"


def check_type(upload: UploadFile, allowed: Collection[str], field: str) -> None:
    """415 when the suffix of ``upload`` is not ``allowed``."""
    if Path(safe_name(upload)).suffix.lower() not in allowed:
        raise ServiceError(
            415,
            "unsupported_file_type",
            f"{upload.filename}: readable types are {', '.join(sorted(allowed))}",
            field,
        )


def save_upload(upload: UploadFile, folder: Path, allowed: Collection[str], field: str) -> Path:
    """Write ``upload`` under ``folder`` with a sanitised name; 415 when its suffix is not ``allowed``."""
    check_type(upload, allowed, field)
    # uploads may be unpublished drafts or enterprise data: the service's user only (uploads/, the batch)
    for level in (folder.parent, folder):
        level.mkdir(parents=True, exist_ok=True, mode=0o700)
        level.chmod(0o700)
    path = folder / safe_name(upload)
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out:
        shutil.copyfileobj(upload.file, out, 1 << 20)
    return path


def save_all(uploads: Sequence[UploadFile], folder: Path, allowed: Collection[str], field: str) -> list[Path]:
    """Check every type first (415 writes nothing), then write them all; on any error nothing is left."""
    for upload in uploads:
        check_type(upload, allowed, field)
    try:
        return [save_upload(upload, folder, allowed, field) for upload in uploads]
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def discard(folder: Path, keep: Iterable[str] = ()) -> None:
    """Delete the files of ``folder`` not in ``keep`` (paths), and the folder once it is empty."""
    kept = {str(Path(p)) for p in keep}
    if not folder.is_dir():
        return
    for path in folder.rglob("*"):
        if path.is_file() and str(path) not in kept:
            path.unlink(missing_ok=True)
    if not any(folder.rglob("*")):
        shutil.rmtree(folder, ignore_errors=True)
