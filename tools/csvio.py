"""Reading city exports: text in UTF-8 or GB18030, and the report every import gives back."""

from __future__ import annotations

from dataclasses import dataclass, field


def decode_text(raw: bytes, where: str) -> str:
    """UTF-8 (with or without BOM), else GB18030 (common in government exports); else say where."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return raw.decode("gb18030")
        except UnicodeDecodeError as exc:
            raise ValueError(f"{where}: not UTF-8 or GB18030 text (byte {exc.start})") from exc


@dataclass
class ImportReport:
    """What an import stored, and every rejected row with its line number and reason."""

    source: str
    what: str
    stored: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    rejected: int = 0  # every rejected row; ``errors`` may keep only the first ones
    notes: list[str] = field(default_factory=list)  # about the whole file (e.g. fields it has no column for)

    @property
    def rejected_rows(self) -> int:
        """How many rows were rejected (at least as many as the reasons kept)."""
        return max(self.rejected, len(self.errors))

    def summary(self) -> str:
        """One line, then one line per rejected row (at most 20)."""
        head = f"{self.source}: {self.stored} {self.what} stored, {self.rejected_rows} rows rejected"
        lines = [f"  note: {note}" for note in self.notes]
        lines += [f"  line {line}: {reason}" for line, reason in self.errors[:20]]
        if self.rejected_rows > 20:
            lines.append(f"  … and {self.rejected_rows - 20} more")
        return "\n".join([head, *lines])
