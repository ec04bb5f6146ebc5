"""Our documents and passages as llama-index objects: a reader, the article node parser, hits as nodes.

* :class:`PolicyFileReader` (a ``BaseReader``) reads the formats :mod:`knowledge.loaders` reads (Markdown,
  text, HTML, DOCX, text PDFs) from a file or a folder (links followed) into ``Document`` objects whose
  metadata is the document's (title, issuer, dates, region, source …).
* :class:`ArticleNodeParser` (a ``NodeParser``) cuts a ``Document`` by article (第X条) with
  :func:`knowledge.chunking.chunk_document`; each ``TextNode`` carries the payload a stored point carries
  (article, heading path, offsets, citation) and the id the index gives that chunk, so a llama-index
  ``IngestionPipeline`` and :class:`knowledge.ingest.Ingestor` write the same points. A ``Document`` from
  any other reader is parsed too (its metadata's ``title``/``region``/``category`` are kept).
* :func:`hit_to_node` / :func:`node_to_hit`: a retrieved :class:`knowledge.retriever.Hit` as a
  ``NodeWithScore`` (text, score, citation ``〔文件名 第X条〕``) and back.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from llama_index.core.node_parser import NodeParser
from llama_index.core.readers.base import BaseReader
from llama_index.core.schema import (
    BaseNode,
    Document,
    NodeRelationship,
    NodeWithScore,
    RelatedNodeInfo,
    TextNode,
)

from knowledge.chunking import chunk_document
from knowledge.documents import DocumentMeta, PolicyDocument, make_document
from knowledge.index import point_id
from knowledge.ingest import chunk_payload, discover, read_document
from knowledge.retriever import Hit

# What a node shows a model (its citation) and an embedding model (its law's title); the rest is for code.
_LLM_KEYS = frozenset({"citation"})
_EMBED_KEYS = frozenset({"title"})
_NOT_PAYLOAD = frozenset({"citation", "ranks", "scores"})
_META_FIELDS = frozenset(DocumentMeta.__dataclass_fields__)
_DOC_ONLY = frozenset({"body_start", "extra"})


def citation(payload: dict[str, Any]) -> str:
    """``〔文件名 第X条〕`` for a point's payload."""
    return f"〔{payload.get('title', '')} {payload.get('label', '')}〕"


def _text_node(node_id: str, payload: dict[str, Any], extra: dict[str, Any] | None = None) -> TextNode:
    metadata = {**payload, "citation": citation(payload), **(extra or {})}
    metadata.pop("text", None)
    node = TextNode(
        id_=node_id,
        text=str(payload.get("text", "")),
        metadata=metadata,
        start_char_idx=payload.get("start"),
        end_char_idx=payload.get("end"),
        excluded_llm_metadata_keys=sorted(set(metadata) - _LLM_KEYS),
        excluded_embed_metadata_keys=sorted(set(metadata) - _EMBED_KEYS),
    )
    if payload.get("doc_id"):
        node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=str(payload["doc_id"]))
    return node


def hit_to_node(hit: Hit) -> NodeWithScore:
    """A hit as a scored node: its exact text, payload as metadata, ``citation``, ``ranks``, ``scores``."""
    node = _text_node(hit.point_id, hit.payload, {"ranks": dict(hit.ranks), "scores": dict(hit.scores)})
    return NodeWithScore(node=node, score=hit.score)


def node_to_hit(item: NodeWithScore) -> Hit:
    """The inverse of :func:`hit_to_node` (a node from elsewhere becomes a hit with what it has)."""
    meta = item.node.metadata
    payload = {k: v for k, v in meta.items() if k not in _NOT_PAYLOAD}
    payload["text"] = item.node.get_content()
    ranks = meta.get("ranks") if isinstance(meta.get("ranks"), dict) else {}
    scores = meta.get("scores") if isinstance(meta.get("scores"), dict) else {}
    return Hit(item.node.node_id, float(item.score or 0.0), payload, dict(ranks or {}), dict(scores or {}))


class PolicyFileReader(BaseReader):
    """Policy files (Markdown, text, HTML, DOCX, text PDF) as ``Document`` objects, one per file.

    ``load_data(path)`` takes a file or a folder (every readable file under it, symbolic links followed).
    Also usable as a ``SimpleDirectoryReader`` ``file_extractor`` (it accepts ``file=`` and ``extra_info=``).
    A file that cannot be read raises ``ValueError`` saying why.
    """

    def lazy_load_data(self, *args: Any, **load_kwargs: Any) -> Iterable[Document]:
        """Documents for ``file`` (a path: file or folder); ``extra_info`` overrides metadata."""
        target = Path(load_kwargs.get("file") or args[0])
        overrides: dict[str, Any] = dict(load_kwargs.get("extra_info") or {})
        for path, root in discover([target]):
            doc = read_document(path, root, {k: v for k, v in overrides.items() if k in _META_FIELDS})
            yield policy_document_to_llama(doc, {k: v for k, v in overrides.items() if k not in _META_FIELDS})


def policy_document_to_llama(doc: PolicyDocument, extra: dict[str, Any] | None = None) -> Document:
    """A :class:`PolicyDocument` as a llama-index ``Document`` (its id is our doc id)."""
    metadata = {**doc.meta.to_payload(), "doc_id": doc.doc_id, "body_start": doc.body_start, **(extra or {})}
    return Document(
        id_=doc.doc_id,
        text=doc.text,
        metadata=metadata,
        excluded_llm_metadata_keys=sorted(set(metadata) - {"title"}),
        excluded_embed_metadata_keys=sorted(set(metadata) - {"title"}),
    )


def llama_to_policy_document(node: BaseNode) -> PolicyDocument:
    """The :class:`PolicyDocument` a llama-index document stands for (read by us or by any reader)."""
    text = node.get_content()
    meta = node.metadata
    if "body_start" in meta and "title" in meta:  # ours: rebuild it as read
        fields = {k: v for k, v in meta.items() if k in _META_FIELDS}
        return PolicyDocument(
            str(meta.get("doc_id") or node.node_id),
            text,
            int(meta["body_start"]),
            DocumentMeta.from_payload(fields),
            make_document(text, str(meta.get("source", ""))).content_hash,
        )
    source = str(meta.get("source") or meta.get("file_path") or meta.get("file_name") or node.node_id)
    overrides = {k: str(meta[k]) for k in ("title", "region", "category", "issuer") if meta.get(k)}
    return make_document(text, source, overrides)


class ArticleNodeParser(NodeParser):
    """Cuts documents by article (第X条), as :mod:`knowledge.chunking` does.

    One ``TextNode`` per chunk, with the stored point's id and payload. The document's metadata is merged
    into each node here (not by llama-index afterwards), before the keys a model sees are chosen.
    """

    max_chars: int = 800
    chunk_overlap: int = 120
    include_metadata: bool = False

    @classmethod
    def class_name(cls) -> str:
        """llama-index's serialisation name."""
        return "ArticleNodeParser"

    def _parse_nodes(
        self, nodes: Sequence[BaseNode], show_progress: bool = False, **kwargs: Any
    ) -> list[BaseNode]:
        out: list[BaseNode] = []
        for node in nodes:
            doc = llama_to_policy_document(node)
            inherited = {k: v for k, v in node.metadata.items() if k not in _DOC_ONLY}
            for chunk in chunk_document(doc, max_chars=self.max_chars, overlap=self.chunk_overlap):
                payload = chunk_payload(doc, chunk)
                text_node = _text_node(point_id(chunk.key), payload, {**inherited, **payload})
                text_node.relationships[NodeRelationship.SOURCE] = node.as_related_node_info()
                out.append(text_node)
        return out
