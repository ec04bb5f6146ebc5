"""Metrics that need no judge model: text overlap for Chinese, citations, refusals, and intervals."""
