"""Dispatch: the history a city's dispatch model learns from (the model itself arrives with issue 5)."""

from tools.dispatch.history import DispatchHistory, HistoryColumns

__all__ = ["DispatchHistory", "HistoryColumns"]
