"""The enterprise registry (imported through the city's data dictionary) and credit-code checks."""

from tools.enterprises.dictionary import Dictionary, FieldSpec, load_dictionary
from tools.enterprises.registry import EnterpriseRegistry

__all__ = ["Dictionary", "EnterpriseRegistry", "FieldSpec", "load_dictionary"]
