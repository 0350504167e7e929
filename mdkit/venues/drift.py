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

Typed fast paths (Bitget trades and ``books1/5/15``, Crypto.com trades: compiled msgspec
decoders) check no dict per item. Their item structs forbid unknown fields and require
the required ones (and a book level is a fixed ``(price, size)`` pair), so an item with
an ``unknown`` or ``missing`` field fails the typed decode and its frame is read by the
session's general reader, which calls :meth:`Fields.check` on every item:
those counts stay exact, per item. The typed decode reads a number where a string was
expected (lax numbers), so ``type`` drift is seen only on the frames the session samples
with :meth:`Fields.due` (a kind's first frame and every :data:`TYPE_EVERY` th after it,
each of their items checked in full) and on the frames the general reader reads: a
``type`` count is of checked frames, not of every frame that showed the change.

Array-shaped items (a Bitget candle row ``[ts, o, h, l, c, vol, quoteVol, usdtVol]``, a
book level ``[price, size]``) are checked by a :class:`Row`: its fields are named by
position, ``[6]``, after an optional prefix naming where the array sits (``bids[2]``: a
third element in a bid level). A row longer than known reports each extra position as
``unknown``, a shorter one each absent position as ``missing``; element types are
sampled like a :class:`Fields`'s. :meth:`Row.levels` checks a whole book side at once
(the lengths of every level, the types of its first level on sampled calls) and returns
the levels a depth writer can take: the same list, or, when some differ, the levels cut
to the known length (a level too short to hold them is dropped and counted ``missing``).
Book levels that are objects (iTick ``{po, p, v, o}``) go through :meth:`Fields.items`.

Channel names are the venue's own (``books``, ``candle``, ``orders``, ``depth``); a
nested object gets its own name so its fields read plainly: ``kline`` for a bar and
``kline_push`` for the push around it (iTick, BitTap), ``depth_level`` for iTick's
levels. Every session reads its channels' shapes from the venue's docs in
``shared/protocols`` and recorded samples (Bitget's private shapes: Bitget's API docs).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

__all__ = ["TYPE_EVERY", "Fields", "Row", "json_type"]

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

    def due_many(self, n: int) -> range:
        """Offsets among the next ``n`` frames that :meth:`due` would pick, one call each."""
        frames = self._frames
        self._frames = frames + n
        return range(-frames % TYPE_EVERY, n, TYPE_EVERY)

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

    def items(self, session: _Reports, items: Any) -> None:
        """Check a list of items (book levels as objects): every item's keys, the types of
        the first item on its kind's first call and every :data:`TYPE_EVERY` th after."""
        if type(items) is not list or not items:
            return
        keys, check = self.keys, self.check
        first = items[0]
        for item in items:
            if type(item) is dict and item.keys() != keys:
                check(session, item, types=True)
        seen = self._frames
        self._frames = seen + 1
        if not seen % TYPE_EVERY and type(first) is dict and first.keys() == keys:
            check(session, first, types=True)  # (checked above if its keys differ)


class Row:
    """The known shape of an array item (a candle row, a book level): types by position.

    Parameters
    ----------
    channel : str
        Name used in reports (``candle``, ``books``).
    types : sequence of str
        The JSON type of each position (as in :class:`Fields`; ``any`` is never checked).
    prefix : str
        Put before the position in reports (``bids`` → ``bids[2]``).
    """

    __slots__ = ("channel", "prefix", "types", "length", "_seen")

    def __init__(self, channel: str, types: Sequence[str], prefix: str = "") -> None:
        self.channel = channel
        self.prefix = prefix
        self.types = tuple(frozenset(t.split("|")) if t != "any" else None for t in types)
        self.length = len(types)
        self._seen = 0

    def check(self, session: _Reports, row: Any, *, types: bool = False) -> None:
        """Report how ``row`` (a decoded JSON array) differs from the known shape.

        The types are checked when the length differs, on the first row and every
        :data:`TYPE_EVERY` th, and always with ``types=True``.
        """
        if type(row) is not list:
            return
        seen = self._seen
        self._seen = seen + 1
        size, known = len(row), self.length
        if size != known:
            channel, prefix = self.channel, self.prefix
            for i in range(known, size):
                session.drift(channel, f"{prefix}[{i}]", "unknown")
            for i in range(size, known):
                session.drift(channel, f"{prefix}[{i}]", "missing")
        elif seen % TYPE_EVERY and not types:
            return
        for i, allowed in enumerate(self.types[:size]):
            if allowed is not None and json_type(row[i]) not in allowed:
                session.drift(self.channel, f"{self.prefix}[{i}]", "type " + json_type(row[i]))

    def levels(self, session: _Reports, rows: Any, *, types: bool = False) -> Any:
        """Check one book side's levels; return the levels to write.

        Every level's length is compared (one C-level pass); the first level's types on
        the first call, every :data:`TYPE_EVERY` th and with ``types=True``. Returns
        ``rows`` itself when every level has the known length, else the levels cut to it
        (levels too short are dropped: they have no value to write).
        """
        if type(rows) is not list or not rows:
            return rows
        known = self.length
        seen = self._seen
        if set(map(len, rows)) == {known}:
            self._seen = seen + 1
            if types or not seen % TYPE_EVERY:
                self.check(session, rows[0], types=True)
                self._seen = seen + 1
            return rows
        check = self.check
        for row in rows:
            if len(row) != known:
                check(session, row)
        self._seen = seen + 1
        return [row[:known] for row in rows if len(row) >= known]
