"""Benchmark suites, runners and reports; drives agents and tools from outside."""

from tools import offline as _offline

_offline.apply()
