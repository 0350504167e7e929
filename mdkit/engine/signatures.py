"""Signatures a login sends, learnt so that a server echoing them is redacted too."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from mdkit.venues.base import Credentials, Event, Send

if TYPE_CHECKING:
    from mdkit.engine.link import Link

__all__ = ["learn_signatures"]


def learn_signatures(link: Link, events: Sequence[Event]) -> None:
    """Note the signatures a login sends, so an echo of them is redacted too."""
    for event in events:
        if type(event) is not Send or not link.stream.credentials:
            continue
        try:
            body = orjson.loads(event.message)
        except orjson.JSONDecodeError:
            continue
        known = link.secrets.secrets()
        n = len(link.secrets)
        found = {f"signed {n + i}": v for i, v in enumerate(_signed_values(body)) if v not in known}
        if found:
            link.secrets = Credentials({**link.secrets, **found})


def _signed_values(body: Any, depth: int = 0) -> Iterable[str]:
    """String values under keys that name a signature or credential, in a login message."""
    if depth > 6:
        return
    if isinstance(body, Mapping):
        for key, value in body.items():
            name = str(key).lower()
            if isinstance(value, str) and len(value) >= 8 and ("sign" in name or "key" in name):
                yield value
            elif isinstance(value, Mapping | list):
                yield from _signed_values(value, depth + 1)
    elif isinstance(body, list):
        for item in body:
            yield from _signed_values(item, depth + 1)
