"""Failed log-ins per client address: the second brake on password guessing.

The service locks a *name* after a few failures (``services.access.users``), which
stops guessing one person's password but not one common password tried
against many names from one machine. This counts failures per address in
a sliding window, in memory: it protects one server process, is lost on a
restart (the per-name lock, counted from the audit log, is not), and is
generous, because a police network often puts many officers behind one
address.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from fastapi import Request

from retroface.errors import AuthorisationError, LockedOutError
from retroface.governance.identity import Principal
from retroface.services import App
from retroface.services.access.users import login


class AddressThrottle:
    def __init__(
        self, max_failures: int, window_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def wait_s(self, address: str) -> float:
        """Seconds until ``address`` may try again (0: it may now)."""
        if self.max_failures <= 0:
            return 0.0
        with self._lock:
            recent = self._recent(address)
            if len(recent) < self.max_failures:
                return 0.0
            return max(0.0, recent[0] + self.window_s - self._clock())

    def failed(self, address: str) -> None:
        with self._lock:
            self._recent(address).append(self._clock())

    def _recent(self, address: str) -> deque[float]:
        """The address's failures still in the window (older ones dropped; caller locks)."""
        now = self._clock()
        # Forget addresses with no failure left in the window (including those only ever
        # checked), so the table holds only addresses that failed recently.
        for key in [k for k, q in self._failures.items() if not q or q[-1] <= now - self.window_s]:
            del self._failures[key]
        recent = self._failures.setdefault(address, deque())
        while recent and recent[0] <= now - self.window_s:
            recent.popleft()
        while len(recent) > self.max_failures:
            recent.popleft()
        return recent


def throttled_login(
    request: Request, application: App, username: str, password: str, hours: int
) -> tuple[str, Principal]:
    """``services.access.users.login``, refused with 429 while the caller's address is throttled."""
    throttle: AddressThrottle = request.app.state.login_throttle
    address = request.client.host if request.client else "unknown"
    wait = throttle.wait_s(address)
    if wait > 0:
        raise LockedOutError(
            "too many failed log-ins from this address: try again later",
            retry_after_s=int(wait) + 1,
        )
    try:
        return login(application, username, password, hours=hours)
    except AuthorisationError:  # a per-name lock (LockedOutError) is not a failure to count
        throttle.failed(address)
        raise
