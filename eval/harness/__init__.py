"""The evaluation harness: suites, the runner, scores with intervals, reports, comparisons, the gate."""
