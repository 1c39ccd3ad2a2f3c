"""One retry policy for every step that reads a source or opens the warehouse.

Transient errors (the source unreachable, timing out or rate limiting; the warehouse file locked
by another process) make the step retry with exponential backoff and jitter; anything else (bad
data, bad configuration, no data for the dates asked) fails the step at once, because a retry
cannot fix it. Usage, in an asset or asset check::

    with retry_transient_errors(context):
        ...  # the step's work
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

import dagster as dg

from warehouse.sources.base import SourceError, SourceUnavailableError
from warehouse.storage.connection import locked_error
from warehouse.storage.errors import WarehouseError, WarehouseLockedError

STEP_RETRIES_ENV = "MARKET_WAREHOUSE_STEP_RETRIES"
STEP_RETRY_BASE_SECONDS_ENV = "MARKET_WAREHOUSE_STEP_RETRY_BASE_SECONDS"
DEFAULT_STEP_RETRIES = 3
DEFAULT_STEP_RETRY_BASE_SECONDS = 60.0

# Network failures of yfinance's HTTP stacks, matched by class name so neither requests nor
# curl_cffi needs importing here: both name theirs ConnectionError / Timeout (not the builtins).
_TRANSIENT_CLASS_NAMES = frozenset(
    {"YFRateLimitError", "ConnectionError", "Timeout", "ConnectTimeout", "ReadTimeout"}
)


@dataclass(frozen=True)
class RetryPolicy:
    """How often a step retries a transient error, and how long it waits before each retry."""

    retries: int = DEFAULT_STEP_RETRIES
    base_seconds: float = DEFAULT_STEP_RETRY_BASE_SECONDS

    def delay(self, retry_number: int, jitter: float) -> float:
        """Doubles per retry, +/-50% jitter (``jitter`` in [0, 1]) so retries do not bunch up."""
        return self.base_seconds * (2**retry_number) * (0.5 + jitter)

    @classmethod
    def from_env(cls) -> RetryPolicy:
        """The policy set by MARKET_WAREHOUSE_STEP_RETRIES / ..._STEP_RETRY_BASE_SECONDS, read
        when a step fails (never at import), so tests and runs can shorten it."""
        return cls(
            retries=int(_env_number(STEP_RETRIES_ENV, DEFAULT_STEP_RETRIES)),
            base_seconds=_env_number(STEP_RETRY_BASE_SECONDS_ENV, DEFAULT_STEP_RETRY_BASE_SECONDS),
        )


def _env_number(name: str, default: float) -> float:
    value = os.environ.get(name)
    if not value:
        return default
    try:
        number = float(value)
    except ValueError as error:
        raise ValueError(f"{name}={value!r} is not a number") from error
    if number < 0:
        raise ValueError(f"{name}={value!r} must not be negative")
    return number


def _chain(error: BaseException) -> Iterator[BaseException]:
    """The error, then what caused it (``raise ... from``), then what it interrupted."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _classify(error: BaseException) -> bool | None:
    """True transient, False permanent, None when this link alone does not tell."""
    if isinstance(error, (SourceUnavailableError, WarehouseLockedError)):
        return True
    if isinstance(error, (SourceError, WarehouseError)):
        return False
    if locked_error(error) is not None:
        return True
    if isinstance(error, (ConnectionError, TimeoutError)):
        return True
    if any(cls.__name__ in _TRANSIENT_CLASS_NAMES for cls in type(error).__mro__):
        return True
    return None


def is_transient(error: BaseException) -> bool:
    """Whether a retry can fix ``error``: the outermost link of its cause/context chain that is
    classified decides (a SourceDataError raised from an OSError is bad data, not the network)."""
    for link in _chain(error):
        verdict = _classify(link)
        if verdict is not None:
            return verdict
    return False


def project_error(error: BaseException) -> BaseException:
    """The error to show: DuckDB's raw lock error becomes WarehouseLockedError (holder and fix
    named), a project error anywhere in the chain wins over the library errors around it."""
    for link in _chain(error):
        if isinstance(link, (SourceError, WarehouseError)):
            return link
        locked = locked_error(link)
        if locked is not None:
            return locked
    return error


class _StepContext(Protocol):
    @property
    def retry_number(self) -> int: ...

    @property
    def log(self) -> dg.DagsterLogManager: ...


@contextmanager
def retry_transient_errors(context: _StepContext) -> Iterator[None]:
    """Turns a transient error raised in the block into a step retry (``dg.RetryRequested``) with
    the policy's backoff, until the retries are used up; then, and for any permanent error at
    once, the project's error is raised.

    The wait happens here, inside the step, rather than in Dagster's executor: the in-process
    executor sleeps between retries with interrupts deferred, so a run terminated (SIGTERM,
    SIGINT, the UI's Terminate) during that sleep would only stop when it ended. Inside a step
    Dagster raises the interrupt at once, which cancels the wait."""
    try:
        yield
    except Exception as error:
        shown = project_error(error)
        if not is_transient(error):
            raise
        policy = RetryPolicy.from_env()
        attempt = context.retry_number
        if attempt >= policy.retries:
            context.log.error(f"still failing after {policy.retries} retries: {shown}")
            if any(link is shown for link in _chain(error)):
                raise
            raise shown from error  # DuckDB's raw lock error, explained
        delay = policy.delay(attempt, random.random())
        context.log.warning(f"{shown} (retry {attempt + 1} of {policy.retries} in {delay:.1f} s)")
        time.sleep(delay)
        raise dg.RetryRequested(max_retries=policy.retries, seconds_to_wait=0) from shown
