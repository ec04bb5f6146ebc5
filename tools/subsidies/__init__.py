"""免申即享 subsidies: the rule language, its SQL, and the deterministic matcher on DuckDB."""
