"""免申即享 for one installation: the rules in force, the matcher over the registry, match jobs, explanations.

The composition root (``service.container``) holds one :class:`Subsidies`; the routes, the CLI,
the resident assistant and the eval harness go through it. DuckDB is imported on first use only.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

if TYPE_CHECKING:
    from tools.enterprises.dictionary import Dictionary
    from tools.subsidies.cases import CaseResult
    from tools.subsidies.jobs import MatchJobs
    from tools.subsidies.matcher import Decision, Matcher
    from tools.subsidies.rules import PolicyRule
    from tools.subsidies.whatif import Simulation


class Subsidies:
    """The subsidy services over one database (``rules_dir``: read the rules from a folder instead)."""

    def __init__(self, engine: Engine, jobs_dir: Path, rules_dir: Path | None = None) -> None:
        self._engine = engine
        self._jobs_dir = jobs_dir
        self._rules_dir = rules_dir
        self._matcher: Matcher | None = None
        self._matcher_version: tuple[int, Any] = (0, None)
        self._matcher_lock = threading.Lock()
        self._jobs_pool: ThreadPoolExecutor | None = None

    def dictionary(self) -> Dictionary:
        """The city's enterprise data dictionary in force (NoDictionaryError before a city pack is loaded)."""
        from tools.enterprises.dictionary import current_dictionary  # noqa: PLC0415

        return current_dictionary(self._engine)

    def matcher(self) -> Matcher:
        """The DuckDB matcher over the registry's enterprises (loaded on first use, again after an import)."""
        from tools.enterprises import EnterpriseRegistry  # noqa: PLC0415

        dictionary = self.dictionary()
        registry = EnterpriseRegistry(self._engine, dictionary)
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
    def jobs(self) -> MatchJobs:
        """Background match runs (state in the database, push lists under ``jobs_dir``)."""
        from tools.subsidies.jobs import MatchJobs  # noqa: PLC0415

        return MatchJobs(self._engine, self._jobs_dir)

    def submit_job(self, rules: list[PolicyRule], as_of: date, user: str) -> dict[str, Any]:
        """Queue a match run of ``rules`` (one job runs at a time; the matcher uses both cores)."""
        jobs = self.jobs
        job: dict[str, Any] = jobs.create(rules, as_of, user)
        if self._jobs_pool is None:
            self._jobs_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="match-job")
        self._jobs_pool.submit(lambda: jobs.run(job["job_id"], self.matcher(), rules, as_of))
        return job

    def rules(self) -> list[PolicyRule]:
        """The rules in force: the approved ones in the database, or the folder ``rules_dir``."""
        from tools.subsidies.rules import load_rules  # noqa: PLC0415 - rules read with the city's fields
        from tools.subsidies.store import RuleStore  # noqa: PLC0415

        folder = self._rules_dir
        return load_rules(folder, self.dictionary()) if folder else RuleStore(self._engine).active()

    def case_results(self, rule: PolicyRule) -> list[CaseResult]:
        """The rule's test cases run against the city's fields (every one, passing or not)."""
        from tools.subsidies.cases import run_cases  # noqa: PLC0415

        return run_cases(rule, self.dictionary())

    def approve(self, rule_id: str, version: int, officer: str, *, allow_self: bool = False) -> PolicyRule:
        """Make a draft active once its test cases pass (:class:`CasesFailed` names the failing ones).

        The four-eyes rule and the draft's status are the store's to check (:meth:`RuleStore.approve`).
        """
        from tools.subsidies.cases import check_cases  # noqa: PLC0415
        from tools.subsidies.store import RuleStore  # noqa: PLC0415

        store = RuleStore(self._engine)
        rule, status = store.version(rule_id, version)
        if status == "draft":
            check_cases(rule, self.dictionary())
        return store.approve(rule_id, version, officer, allow_self=allow_self)

    def simulate(self, rule_id: str, version: int, as_of: date, *, limit: int | None = None) -> Simulation:
        """Version ``version`` of ``rule_id`` against its active version on every enterprise of the registry.

        RuleError when there is no such version; with no active version the baseline is nothing eligible.
        """
        from tools.subsidies.store import RuleStore  # noqa: PLC0415
        from tools.subsidies.whatif import DEFAULT_LIMIT, simulate  # noqa: PLC0415

        store = RuleStore(self._engine)
        candidate, status = store.version(rule_id, version)
        baseline = next((r for r in store.active() if r.id == rule_id), None)
        baseline_status = "active"
        if baseline is not None and baseline.version == version:
            baseline_status = "retired"
            baseline = next(
                (
                    store.version(rule_id, int(v["version"]))[0]
                    for v in store.versions(rule_id)
                    if v["status"] == "retired" and int(v["version"]) < version
                ),
                None,
            )  # the active version itself: against the one it replaced
        return simulate(
            self.matcher(),
            candidate,
            baseline,
            as_of,
            candidate_status=status,
            baseline_status=baseline_status,
            limit=DEFAULT_LIMIT if limit is None else limit,
        )

    def explain(
        self, credit_code: str, stated: dict[str, str] | None = None, *, shared_data: bool = True
    ) -> list[Decision]:
        """The matcher's explained decisions for one enterprise today (with facts it stated, unverified).

        ``shared_data=False`` (a visitor who does not speak for the enterprise): the decisions rest
        on the stated facts alone, and the registry's record is not read at all.
        """
        from tools.subsidies.matcher import Matcher, coerce_facts  # noqa: PLC0415

        rules, today, fields = self.rules(), date.today(), self.dictionary()
        if not shared_data:
            return Matcher.explain_declared(
                fields, credit_code, coerce_facts(stated or {}, fields), rules, today
            )
        matcher = self.matcher()
        if stated:
            return list(matcher.explain_with(credit_code, coerce_facts(stated, fields), rules, today))
        return list(matcher.explain(credit_code, rules, today))

    def close(self) -> None:
        """Stop taking match jobs; a queued one is cancelled (the next start marks it interrupted)."""
        if self._jobs_pool is not None:
            self._jobs_pool.shutdown(wait=False, cancel_futures=True)
