"""The enterprise registry (imported from city CSV exports) and credit-code checks."""

from tools.enterprises.registry import EnterpriseRecord, EnterpriseRegistry

__all__ = ["EnterpriseRecord", "EnterpriseRegistry"]
