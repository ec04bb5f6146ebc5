"""Benchmarks run by ``cityagent bench …``: each returns a JSON-able dict of figures."""
