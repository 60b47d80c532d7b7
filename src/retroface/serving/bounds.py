"""Bounds on the numbers and times a request may carry (ASVS V5: input validation).

Python integers have no size, the database's do: an id beyond 64 bits cannot
even be bound as a SQLite parameter, and a count stored in an ``INTEGER``
column overflows PostgreSQL's 32 bits. Every integer a request carries is
therefore bounded here, so such a value is a 422 naming the field, never a
500 from the driver. Times must say their time zone (``AwareDatetime``): a
naive time is ambiguous and cannot be compared with the server's clock.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

#: The largest id any table can hold (a signed 64-bit integer).
MAX_ID = 2**63 - 1
#: The largest count stored in an ``INTEGER`` column (PostgreSQL's is 32-bit).
MAX_COUNT = 2**31 - 1

#: A row id in a URL path: 1..2**63-1.
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]
