"""A parsed message whose header lookups go through an index of its headers, built once."""

from __future__ import annotations

from email.message import Message
from typing import Any

__all__ = ["IndexedMessage"]


class IndexedMessage(Message):
    """A Message whose get() and get_all() find a header by name in an index instead of
    reading every header each time (the parser asks the same message dozens of times).
    The index is rebuilt whenever the header list has changed; the rest is Message's."""

    _index: dict[str, list[tuple[str, Any]]]
    _indexed: list[tuple[str, Any]] | None = None
    _indexed_length: int = -1

    def _lookup(self, name: str) -> list[tuple[str, Any]]:
        headers: list[tuple[str, Any]] = self._headers  # type: ignore[attr-defined]
        if self._indexed is not headers or self._indexed_length != len(headers):
            index: dict[str, list[tuple[str, Any]]] = {}
            for key, value in headers:
                index.setdefault(key.lower(), []).append((key, value))
            self._index = index
            self._indexed, self._indexed_length = headers, len(headers)
        return self._index.get(name.lower(), [])

    def get(self, name: str, failobj: Any = None) -> Any:
        for key, value in self._lookup(name):
            return self.policy.header_fetch_parse(key, value)
        return failobj

    def get_all(self, name: str, failobj: Any = None) -> Any:
        found = self._lookup(name)
        if not found:
            return failobj
        return [self.policy.header_fetch_parse(key, value) for key, value in found]

    def replace_header(self, _name: str, _value: Any) -> None:
        super().replace_header(_name, _value)
        self._indexed = None  # changed in place: the list and its length stay the same
