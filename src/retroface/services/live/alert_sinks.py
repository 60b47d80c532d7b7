"""Where live alerts go besides the database: a JSON-lines file and a webhook.

Neither carries the face crop: an alert names the subject, the score and
the times, and the officer sees the crop in the review queue, inside the
deployment. That keeps biometric images out of files and systems the data
directory's protections do not cover.
"""

from __future__ import annotations

import json
import queue
import threading
from pathlib import Path

import httpx

from retroface.errors import InvalidInputError
from retroface.services.live.deployments import LiveAlertOut

_FIELDS = {"crop_jpeg_base64", "box"}


def alert_record(alert: LiveAlertOut) -> dict[str, object]:
    return alert.model_dump(mode="json", exclude=_FIELDS)


class JsonLinesSink:
    """One JSON object per alert, flushed at once so a reader tailing the file sees it."""

    def __init__(self, path: Path) -> None:
        try:
            self._file = path.open("a", encoding="utf-8")
        except OSError as exc:
            raise InvalidInputError(f"{path}: cannot open for alerts ({exc.strerror})") from exc

    def send(self, alert: LiveAlertOut) -> None:
        self._file.write(json.dumps(alert_record(alert), sort_keys=True) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


class WebhookSink:
    """POST each alert as JSON from a background thread: a slow receiver never slows the camera."""

    def __init__(self, url: str, timeout_s: float = 5.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise InvalidInputError(f"{url}: a webhook is an http(s) URL")
        self.url = url
        self.failures = 0
        self.delivered = 0
        self._queue: queue.Queue[dict[str, object] | None] = queue.Queue()
        self._client = httpx.Client(timeout=timeout_s)
        self._thread = threading.Thread(target=self._deliver, name="live-webhook", daemon=True)
        self._thread.start()

    def send(self, alert: LiveAlertOut) -> None:
        self._queue.put(alert_record(alert))

    def _deliver(self) -> None:
        while (record := self._queue.get()) is not None:
            try:
                self._client.post(self.url, json=record).raise_for_status()
                self.delivered += 1
            except httpx.HTTPError:
                self.failures += 1

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)
        self._client.close()
