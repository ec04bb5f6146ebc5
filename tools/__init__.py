"""What agents call and what the service exposes: the LLM runtime, stores, dispatch, subsidies.

``tools`` never imports ``agents`` or ``service``.
"""

from tools import offline as _offline

_offline.apply()
