"""The mdkit error tree.

Every error mdkit raises derives from :class:`MdkitError`, and also from the
built-in exception it resembles, so ``except ValueError`` keeps working::

    MdkitError
    ├── InvalidArgument (ValueError)       bad input, raised before any network call
    │   ├── UnknownInterval                names the valid intervals
    │   ├── UnknownSymbol                  names close matches
    │   ├── UnknownChannel                 names the venue's channels
    │   └── UnknownVenue                   names the venues
    ├── TradingDisabled (PermissionError)  order-changing call without trading=True
    ├── VenueError                         the venue answered with an error code
    │   └── AuthError (PermissionError)    missing or rejected credentials
    ├── RateLimitError                     still rate limited after the retries
    ├── NetworkError (ConnectionError)     connection failed, timed out, dropped
    └── ProtocolError                      a response or frame that cannot be understood

Messages never contain secrets: credentials are redacted before an error is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # errors import nothing at run time (every module imports them)
    from mdkit.capture import Capture

__all__ = [
    "AuthError",
    "DatasetError",
    "InvalidArgument",
    "LoopThreadError",
    "MdkitError",
    "NetworkError",
    "ProtocolError",
    "RateLimitError",
    "TradingDisabled",
    "UnknownChannel",
    "UnknownInterval",
    "UnknownSymbol",
    "UnknownVenue",
    "VenueError",
]


class MdkitError(Exception):
    """Base class of every error raised by mdkit.

    Attributes
    ----------
    capture : Capture or None
        Set on an error that ended a capture after it connected: what arrived
        before the error (``exc.capture.trades``, ``exc.capture.stats``...).
    """

    capture: Capture | None = None


class InvalidArgument(MdkitError, ValueError):
    """An argument is not valid; raised before any network call."""


class UnknownInterval(InvalidArgument):
    """An interval spelling that the venue does not offer."""


class UnknownSymbol(InvalidArgument):
    """A symbol the venue does not list; the message names close matches."""


class UnknownChannel(InvalidArgument):
    """A channel the venue does not offer; the message names the valid channels."""


class UnknownVenue(InvalidArgument):
    """A venue key mdkit does not know; the message names the venues."""


class TradingDisabled(MdkitError, PermissionError):
    """An order-changing call on an account opened without ``trading=True``."""


class VenueError(MdkitError):
    """The venue answered with an error.

    Parameters
    ----------
    code : str
        The venue's error code (``"100005"``) or ``"HTTP <status>"``.
    msg : str
        The venue's message, or mdkit's explanation of the HTTP status.
    """

    def __init__(self, code: str, msg: str) -> None:
        super().__init__(f"[{code}] {msg}")
        self.code = code
        self.msg = msg


class AuthError(VenueError, PermissionError):
    """Credentials are missing, unknown to the venue, or the signature was rejected."""


class RateLimitError(MdkitError):
    """The venue kept answering "too many requests" after every retry."""


class NetworkError(MdkitError, ConnectionError):
    """The venue could not be reached, timed out, or dropped the connection.

    Attributes
    ----------
    reached : bool
        True when the request may have reached the venue before the failure (a read
        timeout, a reset after sending): a state-changing call may have taken effect.
    """

    reached: bool = False


class ProtocolError(MdkitError):
    """A response or frame that cannot be understood."""


class DatasetError(MdkitError, OSError):
    """A dataset that cannot be written, or a damaged part read with ``on_damaged="raise"``;
    the message names the path."""


class LoopThreadError(MdkitError, RuntimeError):
    """A synchronous mdkit call made on mdkit's own event-loop thread (for example from a
    ``record(on_status=...)`` callback), where it would deadlock; use the async form."""
