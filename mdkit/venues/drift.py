"""Drift: what a venue sends that its session does not expect, counted instead of guessed at.

A :class:`Fields` is the shape a session knows for one message kind (field name → JSON
type). Called on each received item, it reports to :meth:`Session.drift
<mdkit.venues.base.Session.drift>`:

- ``unknown``: a field the session does not read (a venue that added one);
- ``missing``: a field the session expects (the row is still written when the fields it
  needs parse; the missing one is NaN where the schema allows);
- ``type <json type>``: a known field whose JSON type changed (a number where the doc
  shows a string, ``null``...).

Cost: one C-level comparison of the item's keys with the known set per item; the types
are checked on a kind's first item and every :data:`TYPE_EVERY` th after it (they rarely
change mid-stream, and a check per field per item would double the parse cost of a trade).

Typed fast paths (Bitget trades, Crypto.com trades: compiled msgspec decoders) check no
dict per item. Their item structs forbid unknown fields and require the required ones,
so an item with an ``unknown`` or ``missing`` field fails the typed decode and its frame
is read by the session's general reader, which calls :meth:`Fields.check` on every item:
those counts stay exact, per item. The typed decode reads a number where a string was
expected (lax numbers), so ``type`` drift is seen only on the frames the session samples
with :meth:`Fields.due` (a kind's first frame and every :data:`TYPE_EVERY` th after it,
each of their items checked in full) and on the frames the general reader reads: a
``type`` count is of checked frames, not of every frame that showed the change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

__all__ = ["TYPE_EVERY", "Fields", "json_type"]

#: Types are checked on every this-many-th item of a kind (and on the first).
TYPE_EVERY = 64

_JSON_TYPES = {str: "string", int: "number", float: "number", bool: "boolean", type(None): "null"}


class _Reports(Protocol):
    def drift(self, channel: str, field: str, change: str) -> None: ...


def json_type(value: Any) -> str:
    """The JSON type name of a decoded value (``string number boolean null array object``)."""
    name = _JSON_TYPES.get(type(value))
    if name is not None:
        return name
    return "array" if isinstance(value, list) else "object"


class Fields:
    """The known fields of one message kind and their JSON types.

    Parameters
    ----------
    channel : str
        Name used in reports (the venue's channel or message kind: ``trade``, ``quote``).
    fields : mapping of str to str
        Field → JSON type (``string``, ``number``, ``boolean``, ``array``, ``object``;
        ``"string|number"`` accepts either; ``any`` is never checked).
    optional : iterable of str
        Known fields that may be absent without being ``missing``.
    """

    __slots__ = ("channel", "types", "keys", "required", "_seen", "_frames")

    def __init__(
        self, channel: str, fields: Mapping[str, str], optional: tuple[str, ...] = ()
    ) -> None:
        self.channel = channel
        self.types = {k: frozenset(v.split("|")) for k, v in fields.items() if v != "any"}
        self.keys = frozenset(fields)
        self.required = self.keys - frozenset(optional)
        self._seen = 0
        self._frames = 0

    def due(self) -> bool:
        """Whether a typed fast path checks this frame's items in full (``types=True``):
        True on the first call and every :data:`TYPE_EVERY` th after it."""
        frames = self._frames
        self._frames = frames + 1
        return not frames % TYPE_EVERY

    def check(self, session: _Reports, item: Any, *, types: bool = False) -> None:
        """Report how ``item`` (a decoded JSON object) differs from the known shape.

        The types are checked when the keys differ, on the first item and every
        :data:`TYPE_EVERY` th, and always with ``types=True``.
        """
        if type(item) is not dict:
            return
        seen = self._seen
        self._seen = seen + 1
        keys = item.keys()
        if keys != self.keys:
            channel = self.channel
            for name in sorted(keys - self.keys):
                session.drift(channel, name, "unknown")
            for name in sorted(self.required - keys):
                session.drift(channel, name, "missing")
        elif seen % TYPE_EVERY and not types:
            return
        for name, allowed in self.types.items():
            value = item.get(name)
            if name in item and json_type(value) not in allowed:
                session.drift(self.channel, name, "type " + json_type(value))
