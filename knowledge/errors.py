"""Errors of the knowledge package.

::

    KnowledgeError
    ├── EmbeddingError              the embedding model could not be loaded or refused the input
    │   └── EmbeddingUnavailableError   a remote embeddings endpoint did not answer -> 503
    ├── RerankerUnavailableError    a reranking endpoint did not answer, or answered nonsense
    │                               (the search keeps the fused order and says so in the log)
    ├── VectorStoreUnavailableError the vector store cannot be opened or reached -> 503
    └── DocumentNotHeldError        release/reject of a document that is not held for review -> 404
"""

from __future__ import annotations


class KnowledgeError(Exception):
    """Base of the knowledge package's errors."""


class EmbeddingError(KnowledgeError):
    """The embedding model could not be loaded, or its output was unusable."""


class EmbeddingUnavailableError(EmbeddingError):
    """A remote embeddings endpoint could not be reached."""


class RerankerUnavailableError(KnowledgeError):
    """A reranking endpoint could not be reached, or its answer was unusable."""


class VectorStoreUnavailableError(KnowledgeError):
    """The vector store cannot be opened (locked, missing) or reached."""


class DocumentNotHeldError(KnowledgeError):
    """No document with that id is held for review."""
