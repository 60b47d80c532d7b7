"""Connect to a Dask cluster for work that outgrows one machine (footage, bulk enrolment).

One place owns the connection so that every job that can run on a cluster
fails the same way when it cannot: a clear error naming the scheduler, never
a hang or a traceback. Workers must see the same files as the client (a
shared file system or object store mounted at the same paths), because
files are read where they are analysed: evidence bytes never travel through
the scheduler, only results do.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from retroface.errors import InvalidInputError

#: How long to wait for the scheduler before telling the user it cannot be reached.
CONNECT_TIMEOUT = "10s"


@contextmanager
def dask_client(address: str) -> Iterator[Any]:
    """A ``distributed.Client`` connected to ``address``, closed on exit."""
    try:
        from distributed import Client  # noqa: PLC0415 - Dask only for a cluster run
    except ImportError as exc:  # pragma: no cover - distributed is a pinned dependency
        raise InvalidInputError("--dask needs the 'distributed' package") from exc
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError, ValueError) as exc:
        raise InvalidInputError(f"cannot reach the Dask scheduler at {address} ({exc})") from exc
    with client:
        yield client


def completed(futures: list[Any]) -> Iterator[Any]:
    """The results of Dask ``futures`` in completion order (a task's error re-raised here)."""
    from distributed import as_completed  # noqa: PLC0415 - Dask only for a cluster run

    for future in as_completed(futures):  # type: ignore[no-untyped-call]
        yield future.result()
