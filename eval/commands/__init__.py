"""The ``cityagent bench`` and ``cityagent eval`` command groups (``service.cli`` registers them)."""
