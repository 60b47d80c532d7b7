"""The application object: settings, database and a lazily loaded face engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from retroface.faces import EngineSpec, FaceEngine
from retroface.media import MediaLimits
from retroface.settings import Settings
from retroface.store import Database, UnitOfWork, open_database


@dataclass
class App:
    settings: Settings
    db: Database
    engine_spec: EngineSpec
    _engine: FaceEngine | None = field(default=None, repr=False)

    @property
    def engine(self) -> FaceEngine:
        """Models load on first use: commands that need no faces start instantly."""
        if self._engine is None:
            self._engine = FaceEngine.from_spec(self.engine_spec)
        return self._engine

    @property
    def limits(self) -> MediaLimits:
        return MediaLimits(
            max_file_bytes=self.settings.max_file_bytes,
            max_image_pixels=self.settings.max_image_pixels,
        )

    @property
    def actor(self) -> str:
        return self.settings.actor

    def unit_of_work(self) -> UnitOfWork:
        return self.db.unit_of_work()

    @staticmethod
    def now() -> datetime:
        return datetime.now(UTC)

    def close(self) -> None:
        self.db.close()


def open_app(settings: Settings, engine_spec: EngineSpec | None = None) -> App:
    """Open (creating and migrating if needed) the data directory named by the settings."""
    spec = engine_spec or EngineSpec(
        min_face_px=settings.min_face_px, max_detect_pixels=settings.max_detect_pixels
    )
    settings.home.mkdir(parents=True, exist_ok=True)
    db = open_database(settings.url, create_dir=settings.home)
    return App(settings=settings, db=db, engine_spec=spec)
