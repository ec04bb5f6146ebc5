"""The demo city's enterprise data dictionary, for tests of the registry, the rules and the matcher."""

from service.demo_city import DEMO_DICTIONARY
from tools.enterprises.dictionary import load_dictionary

DEMO_FIELDS = load_dictionary(DEMO_DICTIONARY)
