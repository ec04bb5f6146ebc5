"""Open311 GeoReport v2 over the work-order store: client apps' keys, request intake, request details."""

from tools.open311.errors import InvalidRequestError, Open311Error, UnknownClientError
from tools.open311.intake import Submission, intake
from tools.open311.keys import ApiKeys, Client
from tools.open311.records import MAX_RESULTS, Details, Open311Records

__all__ = [
    "MAX_RESULTS",
    "ApiKeys",
    "Client",
    "Details",
    "InvalidRequestError",
    "Open311Error",
    "Open311Records",
    "Submission",
    "UnknownClientError",
    "intake",
]
