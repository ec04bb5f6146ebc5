"""The knowledge layer as llama-index parts.

A city can bring any llama-index reader, embedding or postprocessor, and use ours in any llama-index pipeline.

Importing this package imports llama-index (about a second); the service's own path never does.

=================================  ======================================================================
:class:`PolicyFileReader`          ``BaseReader``: our file formats (md, txt, html, docx, text pdf)
:class:`ArticleNodeParser`         ``NodeParser``: the article chunker (第X条), ids and payload as stored
:class:`PolicyVectorStore`         ``BasePydanticVectorStore``: Qdrant Edge / qdrant-client + Chinese BM25
:func:`qdrant_server_store`        llama-index's own ``QdrantVectorStore`` on the configured server
:class:`LlamaPolicyRetriever`      ``BaseRetriever``: ``PolicyRetriever`` (law first, supersession, filters)
:class:`RerankerPostprocessor`     ``BaseNodePostprocessor``: our rerankers (cross-encoder, LLM, vLLM/TEI)
:class:`PostprocessorReranker`     any llama-index postprocessor as a ``PolicyRetriever`` reranker
:class:`EmbedderAsLlama`           ``BaseEmbedding``: our embedders
:class:`LlamaEmbedder`             any llama-index ``BaseEmbedding`` as our ``Embedder``
=================================  ======================================================================
"""

from knowledge.llama.embedding import EmbedderAsLlama, LlamaEmbedder
from knowledge.llama.nodes import ArticleNodeParser, PolicyFileReader, hit_to_node, node_to_hit
from knowledge.llama.retriever import LlamaPolicyRetriever, PostprocessorReranker, RerankerPostprocessor
from knowledge.llama.store import PolicyVectorStore, qdrant_server_store, search_filter

__all__ = [
    "ArticleNodeParser",
    "EmbedderAsLlama",
    "LlamaEmbedder",
    "LlamaPolicyRetriever",
    "PolicyFileReader",
    "PolicyVectorStore",
    "PostprocessorReranker",
    "RerankerPostprocessor",
    "hit_to_node",
    "node_to_hit",
    "qdrant_server_store",
    "search_filter",
]
