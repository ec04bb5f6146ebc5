"""The FastAPI service, its settings (the composition root) and the ``cityagent`` CLI."""

from tools import offline as _offline

_offline.apply()
