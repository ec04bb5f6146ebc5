"""Debian's chromium for browser tests, launched the way STACK.md found to work here."""

from __future__ import annotations

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]  # fmt: skip
MISSING = "Debian's chromium is not installed (make test installs it: apt-get install chromium)"

EXPECT_TIMEOUT_MS = 20_000  # what an expectation waits for: the first order detail loads the embedding model
