"""Policy documents in, cited passages out: embeddings, vector index, retrieval.

``knowledge`` never imports ``agents`` or ``service``.
"""

from tools import offline as _offline

_offline.apply()
