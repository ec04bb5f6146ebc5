"""The composition root: build every service once from the settings; the app and the CLI share it."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import Engine

from agents.dispatch import DispatchDeps
from agents.dispatch.runner import DispatchAgent
from agents.resident import ResidentDeps
from agents.resident import build_graph as build_resident_graph
from agents.resident.runner import ResidentAssistant
from knowledge.config import evidence_cosine
from knowledge.embeddings import Embedder, build_embedder
from knowledge.errors import KnowledgeError
from knowledge.index import VectorIndex, open_index
from knowledge.ingest import Ingestor
from knowledge.lawfirst import RankerWeights
from knowledge.registry import DocumentRegistry
from knowledge.rerank import build_reranker
from knowledge.retriever import PolicyRetriever
from service.checkpoints import Checkpoints
from service.ratelimit import RateLimiter
from service.secret_key import signing_secret
from service.settings import Settings
from tools import telemetry
from tools.audit import AuditLog
from tools.citypack import City, loaded_city, unnamed_city
from tools.db import DatabaseError, make_engine, migrate
from tools.db import ping as ping_db
from tools.dispatch.history import DispatchHistory
from tools.dispatch.location import Gazetteer
from tools.dispatch.model import DispatchModel, load_model
from tools.llm import LLMError, LLMRuntime
from tools.subsidies.service import Subsidies
from tools.work_orders import WorkOrderStore
from tools.work_orders.contacts import PendingContacts

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

logger = logging.getLogger(__name__)

Status = Literal["ok", "disabled", "down"]


@dataclass(frozen=True)
class ComponentStatus:
    """One component's readiness."""

    status: Status
    detail: str
    latency_ms: float


@dataclass
class Services:
    """Everything the routes and the CLI use, built once."""

    settings: Settings
    llm: LLMRuntime
    embedder: Embedder
    engine: Engine
    _index: VectorIndex | None = field(default=None, repr=False)
    _retriever: PolicyRetriever | None = field(default=None, repr=False)
    _schema_ready: bool = False
    checkpoints: Checkpoints | None = field(default=None, repr=False)
    checkpointer: Any = field(default=None, repr=False)
    gazetteer: Gazetteer | None = field(default=None, repr=False)
    city: City = field(default_factory=unnamed_city)  # from the loaded city pack (``city load``)
    _dispatch_model: DispatchModel | None = field(default=None, repr=False)
    _dispatch_agent: DispatchAgent | None = field(default=None, repr=False)
    subsidies: Subsidies = field(init=False, repr=False)  # 免申即享: rules, matcher, match jobs
    assistant: ResidentAssistant | None = field(default=None, repr=False)
    session_limiter: RateLimiter = field(default_factory=lambda: RateLimiter(20))
    ip_limiter: RateLimiter = field(default_factory=lambda: RateLimiter(120))
    login_limiter: RateLimiter = field(default_factory=lambda: RateLimiter(10))
    account_limiter: RateLimiter = field(default_factory=lambda: RateLimiter(5))
    open311_post_limiter: RateLimiter = field(default_factory=lambda: RateLimiter(30))
    open311_read_limiter: RateLimiter = field(default_factory=lambda: RateLimiter(120))
    secret: str = field(default="", repr=False)  # signs sessions: see service.secret_key
    tracing: TracerProvider | None = field(default=None, repr=False)  # exports traces (None: off)

    def __post_init__(self) -> None:
        self.session_limiter = RateLimiter(self.settings.chat.session_per_minute)
        self.ip_limiter = RateLimiter(self.settings.chat.ip_per_minute)
        self.login_limiter = RateLimiter(self.settings.auth.login_per_minute)
        self.account_limiter = RateLimiter(self.settings.auth.account_login_per_minute)
        self.open311_post_limiter = RateLimiter(self.settings.open311.post_per_minute)
        self.open311_read_limiter = RateLimiter(self.settings.open311.read_per_minute)
        self.secret = self.secret or signing_secret(self.settings)
        self.subsidies = Subsidies(
            self.engine, self.settings.data_dir / "match-jobs", self.settings.subsidies.rules_dir
        )

    @property
    def store(self) -> WorkOrderStore:
        """Work orders."""
        return WorkOrderStore(self.engine, ticket_prefix=self.city.ticket_prefix, rules=self.city.rules)

    @property
    def dispatch_model(self) -> DispatchModel | None:
        """The current dispatch model (``data_dir/dispatch``), or None before one is trained."""
        if self._dispatch_model is None:
            try:
                model = load_model(self.settings.data_dir / "dispatch")
            except (FileNotFoundError, ValueError) as exc:
                logger.warning("no usable dispatch model: %s", exc)
                return None
            model.use_embedder(self.embedder.embed_documents)
            self._dispatch_model = model
        return self._dispatch_model

    def dispatch_deps(self) -> DispatchDeps | None:
        """What the dispatch graph needs, or None without a model."""
        model = self.dispatch_model
        if model is None:
            return None
        cfg = self.settings.dispatch
        return DispatchDeps(
            store=self.store, model=model, llm=self.llm.client, history=DispatchHistory(self.engine),
            gazetteer=self.gazetteer, review_threshold=cfg.review_threshold,
            auto_dispatch=cfg.auto_dispatch, always_review=cfg.always_review,
            duplicate_window=self.city.rules.duplicate_window,
        )  # fmt: skip

    def dispatch_agent(self) -> DispatchAgent | None:
        """The dispatch agent, built once per model (None without a model or a checkpointer)."""
        model = self.dispatch_model
        if model is None or self.checkpointer is None:
            return None
        if self._dispatch_agent is None or self._dispatch_agent.deps.model is not model:
            deps = self.dispatch_deps()
            assert deps is not None
            self._dispatch_agent = DispatchAgent(deps, self.checkpointer, self.audit)
        return self._dispatch_agent

    @property
    def audit(self) -> AuditLog:
        """The audit trail of agent turns."""
        return AuditLog(self.engine)

    @property
    def index(self) -> VectorIndex:
        """The vector index, opened on first use (a locked or unreachable store raises)."""
        if self._index is None:
            index = open_index(self.settings.vector_store, self.settings.index_path)
            index.ensure(self.embedder.dim)
            self._index = index
        return self._index

    def ingestor(self) -> Ingestor:
        """The knowledge ingestion over this index and database, embedding ``embeddings.max_chars``."""
        return Ingestor(
            self.index, DocumentRegistry(self.engine), self.embedder,
            embed_max_chars=self.settings.embeddings.max_chars,
        )  # fmt: skip

    @property
    def retriever(self) -> PolicyRetriever:
        """The one retriever every agent uses."""
        if self._retriever is None:
            cfg = self.settings.retrieval
            self._retriever = PolicyRetriever(
                self.index, self.embedder, reranker=build_reranker(self.settings.rerank),
                rerank_top=self.settings.rerank.top, candidates=cfg.candidates, rrf_k=cfg.rrf_k,
                weights={"dense": cfg.dense_weight, "bm25": cfg.bm25_weight},
                jurisdiction=cfg.jurisdiction or ([self.city.region] if self.city.region else []),
                law_first=RankerWeights.load() if cfg.ranker == "law_first" else None,
            )  # fmt: skip
        return self._retriever

    async def start(self, *, with_model: bool = True) -> None:
        """Bring the schema up to date and start the embedded model server.

        A database that is down at start-up does not stop the service: readiness reports it,
        and the schema is migrated as soon as the database answers again.
        """
        self.tracing = self.tracing or telemetry.configure(self.settings.telemetry)
        await self.ensure_schema()
        if with_model:
            await self.llm.start()
        await self.start_assistant()

    async def start_assistant(self) -> None:
        """Open the conversation checkpoints and build the resident assistant over them."""
        chat = self.settings.chat
        self.checkpoints = Checkpoints(chat.checkpoint_url, self.settings.data_dir / "checkpoints.db")
        try:
            saver = await self.checkpoints.open()
        except (OSError, RuntimeError) as exc:
            logger.error("conversation checkpoints unavailable, chat disabled: %s", exc)
            return
        contacts = PendingContacts(self.engine)
        deps = self.resident_deps(contacts)
        self.checkpointer = saver
        graph = build_resident_graph(deps, saver)
        self.assistant = ResidentAssistant(
            graph,
            self.audit,
            describe_model=self.llm.client.describe,
            contacts=contacts,
            hotline=self.city.hotline,
        )

    def resident_deps(self, contacts: PendingContacts | None = None) -> ResidentDeps:
        """What the resident assistant's nodes read: retriever, model, gate and judge as the settings say."""
        chat = self.settings.chat
        return ResidentDeps(
            retriever=lambda: self.retriever,
            llm=lambda: self.llm.client,
            store=self.store,
            gazetteer=self.gazetteer,
            subsidies=self.subsidies.explain,
            city=self.city,
            min_dense_score=evidence_cosine(self.settings.embeddings.backend, chat.min_dense_score),
            min_bm25_score=chat.min_bm25_score,
            gate=chat.gate_model(self.settings.embeddings.backend),
            judge_min=chat.judge_min,
            contacts=contacts if contacts is not None else PendingContacts(self.engine),
        )

    async def ensure_schema(self) -> bool:
        """Migrate the database once it answers; False (logged) while it does not."""
        if not self._schema_ready:
            try:
                await asyncio.to_thread(migrate, self.engine)
            except DatabaseError as exc:
                logger.error("database not migrated yet: %s", exc)
                return False
            self._schema_ready = True
            interrupted = await asyncio.to_thread(self.subsidies.jobs.recover)
            if interrupted:
                logger.warning("%d match jobs were cut off by the last stop: marked interrupted", interrupted)
        return True

    async def close(self) -> None:
        """Stop the model server and release connections."""
        await self.llm.stop()
        self.subsidies.close()
        if self.checkpoints is not None:
            await self.checkpoints.close()
        if self._index is not None:
            self._index.close()
            self._index = None
        self.engine.dispose()
        if self.tracing is not None:
            await asyncio.to_thread(self.tracing.shutdown)  # flushes the spans still queued
            self.tracing = None

    async def readiness(self) -> dict[str, ComponentStatus]:
        """Check the model, the embeddings, the vector store and the database (concurrently)."""
        names = ("model", "embeddings", "vector_store", "database")
        checks = await asyncio.gather(
            self._check_model(), self._check_embeddings(), self._check_vector_store(), self._check_database()
        )
        return dict(zip(names, checks, strict=True))

    async def _check_model(self) -> ComponentStatus:
        started = time.perf_counter()
        if self.settings.llm.backend == "none":
            return ComponentStatus("disabled", "llm.backend=none: agents answer in degraded mode", 0.0)
        try:
            name = await self.llm.client.ping()
        except LLMError as exc:
            return ComponentStatus("down", str(exc), _ms(started))
        return ComponentStatus("ok", f"{self.llm.settings.backend}: {name}", _ms(started))

    async def _check_embeddings(self) -> ComponentStatus:
        started = time.perf_counter()
        try:
            vector = await asyncio.to_thread(self.embedder.embed_query, "就绪检查")
        except KnowledgeError as exc:
            return ComponentStatus("down", str(exc), _ms(started))
        return ComponentStatus("ok", f"{self.embedder.name} ({vector.shape[0]}-dim)", _ms(started))

    async def _check_vector_store(self) -> ComponentStatus:
        started = time.perf_counter()
        try:
            points, dense = await asyncio.to_thread(
                lambda: (self.index.count(), self.index.count(dense_only=True))
            )
        except KnowledgeError as exc:
            return ComponentStatus("down", str(exc), _ms(started))
        detail = f"{self.index.describe}: {points} passages, {dense} with dense vectors"
        return ComponentStatus("ok", detail, _ms(started))

    async def _check_database(self) -> ComponentStatus:
        started = time.perf_counter()
        try:
            dialect = await asyncio.to_thread(ping_db, self.engine)
        except DatabaseError as exc:
            return ComponentStatus("down", str(exc), _ms(started))
        if not await self.ensure_schema():
            return ComponentStatus("down", f"{dialect}: schema migration failed (see the log)", _ms(started))
        return ComponentStatus("ok", dialect, _ms(started))


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def _gazetteer(path: Path | None, city: City) -> Gazetteer | None:
    """``dispatch.gazetteer_path`` when set, else the loaded city's gazetteer (None: generic patterns)."""
    if path is None:
        return city.gazetteer
    return Gazetteer.from_mapping(json.loads(path.read_text(encoding="utf-8")))


def open_database(settings: Settings) -> Engine:
    """The database engine of ``database`` (SQLite under ``data_dir`` by default); not migrated."""
    return make_engine(settings.database, settings.data_dir)


def build_services(settings: Settings) -> Services:
    """Build (but do not start) every service the settings describe."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    city = loaded_city(settings.data_dir) or unnamed_city()
    return Services(
        settings=settings,
        llm=LLMRuntime(settings.llm, settings.model_dir, settings.log_dir),
        embedder=build_embedder(settings.embeddings),
        engine=open_database(settings),
        gazetteer=_gazetteer(settings.dispatch.gazetteer_path, city),
        city=city,
    )
