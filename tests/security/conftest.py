"""The attack replays use the service tests' data folders (the demo city, staff accounts)."""

from tests.service.conftest import demo_dir, staffed_dir

__all__ = ["demo_dir", "staffed_dir"]
