"""The composition root: build every service once from the settings; the app and the CLI share it."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Engine

from agents.dispatch import DispatchDeps
from agents.resident import ResidentDeps
from agents.resident import build_graph as build_resident_graph
from agents.resident.runner import ResidentAssistant
from knowledge.config import evidence_cosine
from knowledge.embeddings import Embedder, build_embedder
from knowledge.errors import KnowledgeError
from knowledge.index import VectorIndex, open_index
from knowledge.lawfirst import RankerWeights
from knowledge.retriever import PolicyRetriever
from service.checkpoints import Checkpoints
from service.ratelimit import RateLimiter
from service.secret_key import signing_secret
from service.settings import Settings
from tools.audit import AuditLog
from tools.citypack import City, loaded_city, unnamed_city
from tools.db import DatabaseError, make_engine, migrate
from tools.db import ping as ping_db
from tools.dispatch.history import DispatchHistory
from tools.dispatch.location import Gazetteer
from tools.dispatch.model import DispatchModel, load_model
from tools.llm import LLMError, LLMRuntime
from tools.work_orders import WorkOrderStore
from tools.work_orders.contacts import PendingContacts

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
    _matcher: Any = field(default=None, repr=False)
    _matcher_version: tuple[int, Any] = (0, None)
    _matcher_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _jobs_pool: ThreadPoolExecutor | None = field(default=None, repr=False)
    assistant: ResidentAssistant | None = field(default=None, repr=False)
    session_limiter: RateLimiter = field(default_factory=lambda: RateLimiter(20))
    ip_limiter: RateLimiter = field(default_factory=lambda: RateLimiter(120))
    login_limiter: RateLimiter = field(default_factory=lambda: RateLimiter(10))
    account_limiter: RateLimiter = field(default_factory=lambda: RateLimiter(5))
    open311_post_limiter: RateLimiter = field(default_factory=lambda: RateLimiter(30))
    open311_read_limiter: RateLimiter = field(default_factory=lambda: RateLimiter(120))
    secret: str = field(default="", repr=False)  # signs sessions: see service.secret_key

    def __post_init__(self) -> None:
        self.session_limiter = RateLimiter(self.settings.chat.session_per_minute)
        self.ip_limiter = RateLimiter(self.settings.chat.ip_per_minute)
        self.login_limiter = RateLimiter(self.settings.auth.login_per_minute)
        self.account_limiter = RateLimiter(self.settings.auth.account_login_per_minute)
        self.open311_post_limiter = RateLimiter(self.settings.open311.post_per_minute)
        self.open311_read_limiter = RateLimiter(self.settings.open311.read_per_minute)
        self.secret = self.secret or signing_secret(self.settings)

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

    def enterprise_dictionary(self) -> Any:
        """The city's enterprise data dictionary in force (NoDictionaryError before a city pack is loaded)."""
        from tools.enterprises.dictionary import current_dictionary  # noqa: PLC0415

        return current_dictionary(self.engine)

    def subsidy_matcher(self) -> Any:
        """The DuckDB matcher over the registry's enterprises (loaded on first use, again after an import)."""
        from tools.enterprises import EnterpriseRegistry  # noqa: PLC0415

        dictionary = self.enterprise_dictionary()
        registry = EnterpriseRegistry(self.engine, dictionary)
        # an import (or a new dictionary) by any worker or the CLI makes the loaded copy stale
        version = (registry.last_import(), dictionary)  # the dictionary is frozen: compared by value
        with self._matcher_lock:
            if self._matcher is None or version != self._matcher_version:
                from tools.subsidies.matcher import Matcher  # noqa: PLC0415 - DuckDB loads only when used

                matcher = Matcher(dictionary)
                matcher.load_rows(registry.all_rows())
                self._matcher, self._matcher_version = matcher, version
            return self._matcher

    @property
    def match_jobs(self) -> Any:
        """Background match runs (state in the database, push lists under ``data_dir/match-jobs``)."""
        from tools.subsidies.jobs import MatchJobs  # noqa: PLC0415

        return MatchJobs(self.engine, self.settings.data_dir / "match-jobs")

    def submit_match_job(self, rules: list[Any], as_of: date, user: str) -> dict[str, Any]:
        """Queue a match run of ``rules`` (one job runs at a time; the matcher uses both cores)."""
        jobs = self.match_jobs
        job: dict[str, Any] = jobs.create(rules, as_of, user)
        if self._jobs_pool is None:
            self._jobs_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="match-job")
        self._jobs_pool.submit(lambda: jobs.run(job["job_id"], self.subsidy_matcher(), rules, as_of))
        return job

    def subsidy_rules(self) -> list[Any]:
        """The rules in force: the approved ones in the database, or the folder ``subsidies.rules_dir``."""
        from tools.subsidies.rules import load_rules  # noqa: PLC0415 - rules read with the city's fields
        from tools.subsidies.store import RuleStore  # noqa: PLC0415

        folder = self.settings.subsidies.rules_dir
        return load_rules(folder, self.enterprise_dictionary()) if folder else RuleStore(self.engine).active()

    def explain_subsidies(
        self, credit_code: str, stated: dict[str, str] | None = None, *, shared_data: bool = True
    ) -> list[Any]:
        """The matcher's explained decisions for one enterprise today (with facts it stated, unverified).

        ``shared_data=False`` (a visitor who does not speak for the enterprise): the decisions rest
        on the stated facts alone, and the registry's record is not read at all.
        """
        from tools.subsidies.matcher import Matcher, coerce_facts  # noqa: PLC0415

        rules, today, fields = self.subsidy_rules(), date.today(), self.enterprise_dictionary()
        if not shared_data:
            return Matcher.explain_declared(
                fields, credit_code, coerce_facts(stated or {}, fields), rules, today
            )
        matcher = self.subsidy_matcher()
        if stated:
            return list(matcher.explain_with(credit_code, coerce_facts(stated, fields), rules, today))
        return list(matcher.explain(credit_code, rules, today))

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

    @property
    def retriever(self) -> PolicyRetriever:
        """The one retriever every agent uses."""
        if self._retriever is None:
            cfg = self.settings.retrieval
            self._retriever = PolicyRetriever(
                self.index, self.embedder, candidates=cfg.candidates, rrf_k=cfg.rrf_k,
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
        deps = ResidentDeps(
            retriever=lambda: self.retriever,
            llm=lambda: self.llm.client,
            store=self.store,
            gazetteer=self.gazetteer,
            subsidies=self.explain_subsidies,
            city=self.city,
            min_dense_score=evidence_cosine(self.settings.embeddings.backend, chat.min_dense_score),
            min_bm25_score=chat.min_bm25_score,
            contacts=contacts,
        )
        self.checkpointer = saver
        graph = build_resident_graph(deps, saver)
        self.assistant = ResidentAssistant(
            graph,
            self.audit,
            describe_model=self.llm.client.describe,
            contacts=contacts,
            hotline=self.city.hotline,
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
            interrupted = await asyncio.to_thread(self.match_jobs.recover)
            if interrupted:
                logger.warning("%d match jobs were cut off by the last stop: marked interrupted", interrupted)
        return True

    async def close(self) -> None:
        """Stop the model server and release connections."""
        await self.llm.stop()
        if self._jobs_pool is not None:
            self._jobs_pool.shutdown(wait=False, cancel_futures=True)
        if self.checkpoints is not None:
            await self.checkpoints.close()
        if self._index is not None:
            self._index.close()
            self._index = None
        self.engine.dispose()

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


def build_services(settings: Settings) -> Services:
    """Build (but do not start) every service the settings describe."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    city = loaded_city(settings.data_dir) or unnamed_city()
    return Services(
        settings=settings,
        llm=LLMRuntime(settings.llm, settings.model_dir, settings.log_dir),
        embedder=build_embedder(settings.embeddings),
        engine=make_engine(settings.database, settings.data_dir),
        gazetteer=_gazetteer(settings.dispatch.gazetteer_path, city),
        city=city,
    )
