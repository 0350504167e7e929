"""Containment: mutated real frames through every venue's session, via the ingestion core.

Seeds are the recorded samples (tests/samples) and frames a short capture of the
sandbox received. Each seed is mutated (keys deleted, types swapped, huge and odd
numbers, nested junk, truncation, non-JSON, gzip of the mutant) and fed to every
connection of a core holding all of the venue's channels, public and private.
Nothing may escape :meth:`Core.receive`, every table must still build its frame,
and the seeds themselves must make rows (the fuzz reaches the parsers).
"""

from __future__ import annotations

import copy
import gzip
import json
import random
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import orjson
import pytest

from mdkit.capture import Capture
from mdkit.data.wire import inflate
from mdkit.engine.core import Core, Link
from mdkit.engine.plan import Stream, shard
from mdkit.sandbox import Sandbox
from mdkit.venues import get_venue, venue_keys
from mdkit.venues.base import Credentials
from tests.conftest import SAMPLES, trading

SEED = 20261207
PER_VENUE = 1500
JUNK: list[Any] = [
    None,
    "",
    "abc",
    2**70,
    -(2**70),
    -1,
    0,
    1e15,
    10**15,
    1e308,
    -1e308,
    "NaN",
    "inf",
    "-Infinity",
    "1e400",
    [],
    {},
    [[]],
    [["1", "2", "3"]],
    {"a": {"b": [1, {"c": None}]}},
    True,
    "9" * 40,
]
CREDENTIALS = Credentials(
    {"api_key": "fuzz-key-0001", "secret_key": "fuzz-secret-0001", "passphrase": "fuzzpass"}
    | {"token": "fuzz-token-0001"}
)


def _raws(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if "raw" in node:
            yield node["raw"] if isinstance(node["raw"], str) else json.dumps(node["raw"])
        for value in node.values():
            yield from _raws(value)
    elif isinstance(node, list):
        for value in node:
            yield from _raws(value)


SAMPLE_DIRS = {
    "cryptocom": "cryptocom_v1",
    "bitget": "bitget_v2",
    "itick": "itick_crypto",
    "richamster": "richamster",
    "bittap": "bittap_spot",
}


def _sample_seeds(venue: str) -> list[bytes]:
    folder = SAMPLES / SAMPLE_DIRS.get(venue, venue)
    out = []
    for path in sorted(folder.glob("ws_*.json")) + sorted(folder.glob("*recorded*.json")):
        out += [raw.encode() for raw in _raws(json.loads(path.read_text()))]
    return list(dict.fromkeys(out))


@pytest.fixture(scope="module")
def sandbox_seeds() -> dict[str, list[bytes]]:
    """Frames a short capture of every venue's sandbox received (real sockets), trades
    made on every venue during it, up to 10 of each message shape."""
    import mdkit

    out: dict[str, list[bytes]] = {}
    with Sandbox(seed=11, set_env=True) as sb, ExitStack() as trades:
        parts = []
        for key in venue_keys():
            venue = get_venue(key)
            channels = [c for c in ("trades", "ticker", "book", "klines") if c in venue.channels]
            symbols = list(venue.example_symbols[:1])
            trades.enter_context(trading(sb, key, symbols))
            parts.append((key, symbols, channels))
        cap = mdkit.capture(parts, seconds=2.5)
        raw = cap.raw
        for key in venue_keys():
            mine = raw[raw["venue"] == key]
            out[key] = _varied(mine["payload"].tolist(), mine["decoded"].tolist())
    return out


def _varied(payloads: list[bytes], decoded: list[str], per_shape: int = 10) -> list[bytes]:
    """Up to ``per_shape`` payloads of each message shape (its top-level keys), so that a
    book flood leaves room for the rarer trades and tickers."""
    seen: Counter[Any] = Counter()
    out = []
    for payload, text in zip(payloads, decoded, strict=True):
        try:
            doc = orjson.loads(text)
        except orjson.JSONDecodeError:
            continue
        shape = tuple(sorted(doc)) if isinstance(doc, dict) else type(doc).__name__
        seen[shape] += 1
        if payload and seen[shape] <= per_shape:
            out.append(bytes(payload))
    return out


def _mutate(rng: random.Random, frame: bytes) -> bytes:
    data = frame
    gz = data[:2] == b"\x1f\x8b"
    if gz:
        data = inflate(data)
    roll = rng.random()
    if roll < 0.06:
        return data[: rng.randrange(len(data) + 1)]  # truncated
    if roll < 0.09:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40)))  # noise
    if roll < 0.11:
        return gzip.compress(bytes(rng.randrange(256) for _ in range(50)))
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        return data + b"}"
    for _ in range(rng.randrange(1, 4)):
        doc = _mutate_doc(rng, doc)
    out = json.dumps(doc, separators=(",", ":")).encode()  # big ints too
    return gzip.compress(out) if gz or rng.random() < 0.05 else out


def _mutate_doc(rng: random.Random, doc: Any) -> Any:
    """Change one random spot of a JSON document."""
    if isinstance(doc, dict) and doc:
        key = rng.choice(list(doc))
        roll = rng.random()
        if roll < 0.2:
            doc.pop(key)
        elif roll < 0.55:
            doc[key] = _mutate_doc(rng, doc[key])
        else:
            doc[key] = _junk(rng)
        return doc
    if isinstance(doc, list) and doc:
        i = rng.randrange(len(doc))
        roll = rng.random()
        if roll < 0.15:
            doc.pop(i)
        elif roll < 0.6:
            doc[i] = _mutate_doc(rng, doc[i])
        else:
            doc[i] = _junk(rng)
        return doc
    return _junk(rng)


def _junk(rng: random.Random) -> Any:
    return copy.deepcopy(rng.choice(JUNK))


def _core(venue_key: str) -> tuple[Core, list[Link]]:
    venue = get_venue(venue_key)
    channels = list(venue.channels)
    symbols = list(venue.example_symbols)
    subs = tuple(venue.plan(symbols, channels, {}))
    urls = {name: "fuzz:" for name in venue.endpoints}
    core = Core([Stream(venue, subs, urls, CREDENTIALS)], raw_limit=None)
    links = [core.link(venue_key, endpoint, part) for endpoint, part in shard(core.streams[0])]
    for link in links:
        core.connect(link, 1_700_000_000_000_000_000)
    return core, links


def _readable(core: Core) -> None:
    cap = Capture(core)
    for kind in cap.frames():
        cap.frame(kind)
    if "depth" in cap.frames():
        cap.book(levels=5)
    assert len(cap.raw) == core.stats.messages
    assert len(cap.gaps) == len(core.stats.gaps)
    assert repr(cap)


@pytest.mark.parametrize("venue_key", venue_keys())
def test_mutated_frames_never_escape(venue_key: str, sandbox_seeds: dict[str, list[bytes]]) -> None:
    seeds = _sample_seeds(venue_key) + sandbox_seeds.get(venue_key, [])
    assert len(seeds) >= 5, f"{venue_key}: no seed frames"
    # The seeds themselves reach the parsers: they make rows.
    core, links = _core(venue_key)
    now = 1_700_000_000_000_000_000
    for seed in seeds:
        for link in links:
            now += 1000
            core.receive(link, seed, True, now)
    assert sum(sum(p.tables.counts().values()) for p in core.parts.values()) > 0
    _readable(core)
    rng = random.Random(f"{SEED}-{venue_key}")
    core, links = _core(venue_key)
    for i in range(PER_VENUE):
        frame = _mutate(rng, rng.choice(seeds))
        link = links[i % len(links)]
        now += 1000
        core.receive(link, frame, rng.random() < 0.5, now)  # must not raise
        if i % 500 == 499:
            _readable(core)
    _readable(core)
    stats = core.stats
    assert stats.messages == PER_VENUE
    assert stats.parse_errors == sum(k.count for k in stats.parse_error_kinds.values())
    assert stats.parse_errors > 0  # the mutants did hit the parsers' error paths


def test_wrong_channel_shapes_are_parse_errors() -> None:
    """Shapes that used to escape the sessions (issue 17): parse errors, the link goes on."""
    frames = {
        "bitget": [b'{"action":"snapshot","arg":"abc","data":[]}'],
        "cryptocom": [b'{"channel":[],"tick":{}}', gzip.compress(b'{"channel":{},"tick":[]}')],
    }
    for key, bad in frames.items():
        core, links = _core(key)
        for frame in bad:
            core.receive(links[0], frame, True, 1_800_000_000_000_000_000)
        assert core.stats.messages == core.stats.parse_errors == len(bad)
        assert core.raw.errors == list(range(len(bad)))  # kept in raw, flagged
        assert links[0].session is not None  # still connected
        _readable(core)


def _time_paths(doc: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Paths to the values that look like epoch times in seconds or ms (ints or digit
    strings, 2001 to 5138)."""
    items = (
        doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    )
    for key, value in items:
        if isinstance(value, dict | list):
            yield from _time_paths(value, (*path, key))
        elif isinstance(value, int | str) and str(value).isdigit() and 10**9 <= int(value) < 10**14:
            yield (*path, key)


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        doc = doc[key]
    return doc


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    out = copy.deepcopy(doc)
    node = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return out


@pytest.mark.parametrize("venue_key", venue_keys())
def test_times_outside_the_contract_never_poison_a_table(
    venue_key: str, sandbox_seeds: dict[str, list[bytes]]
) -> None:
    """Every time field of every sample and sandbox frame set to 2**70, 1e15, 10**15,
    null, -1 or 0 (and, where the venue sends text, the same as text, and ""): the frame
    is a parse error, or its rows are in 1970–2262 or without a venue time (NaT); every
    table stays readable."""
    core, links = _core(venue_key)
    now = 1_800_000_000_000_000_000
    fed = 0
    for seed in _sample_seeds(venue_key) + sandbox_seeds.get(venue_key, []):
        try:
            doc = orjson.loads(seed)
        except orjson.JSONDecodeError:
            continue
        for path in _time_paths(doc):
            bads: list[Any] = [2**70, 1e15, 10**15, None, -1, 0]
            if isinstance(_get(doc, path), str):  # a venue that sends its times as text
                bads += [str(bad) for bad in (2**70, 10**15, -1, 0)] + ["1e15", ""]
            for bad in bads:
                frame = json.dumps(_set(doc, path, bad)).encode()
                for link in links:
                    now += 1000
                    core.receive(link, frame, True, now)
                    fed += 1
    assert fed > 0, f"{venue_key}: no time field in its samples or sandbox frames"
    cap = Capture(core)
    for kind in cap.frames():
        # A null time may be a row without a venue time (NaT, DESIGN's "time honesty").
        years = cap.frame(kind).index.dropna().year
        if len(years):
            assert years.min() >= 1971 and years.max() <= 2262, (kind, years.min(), years.max())


def test_a_balance_push_with_a_huge_time_is_a_parse_error_not_a_poisoned_table() -> None:
    """Issue 17: a BitTap balance push with "T": 2**70 made cap.balances raise forever."""
    core, links = _core("bittap")
    private = [link for link in links if link.endpoint != "public"]
    assert private
    seed = next(s for s in _sample_seeds("bittap") if b"BALANCE_UPDATE" in s)
    now = 1_800_000_000_000_000_000
    core.receive(private[0], seed, True, now)
    good = len(Capture(core).balances)
    assert good >= 1
    bad = orjson.loads(seed)
    bad["T"] = bad["E"] = 2**70
    core.receive(private[0], json.dumps(bad).encode(), True, now + 1)
    assert core.stats.parse_errors == 1
    assert len(Capture(core).balances) == good  # still readable, the bad row left out
