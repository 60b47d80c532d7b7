"""``retroface doctor``: do the database, the index files and the data directory agree?

Why: enrollment and ingest commit one unit at a time and index files are
saved after the commit, so a kill (power cut, out-of-memory, SIGKILL) never
loses a committed record but may leave an index that lags the database, the
temp file of an atomic write, a partial upload, or a job or search marked
"running" for ever. Doctor names each check as a finding with a count and
says what ``--repair`` does about it. Without ``repair`` nothing changes.
Each repair commits its own audit event (ids, counts and file names, never
data). The audit chain is checked and never "repaired": a broken chain is
an incident, answered from a signed export or a backup.

Work that looks abandoned (a running job, a temp file, an unreferenced
upload) is only treated as such once nothing has touched it for
``stale_after``: a server or a job may still be writing it. Run repairs
while no server or job is running.

The checks live in five modules, one per part of the data directory:
``database``, ``records``, ``interrupted`` (work left running), ``indexes``
and ``files``; ``run`` runs them in order.
"""

from retroface.services.operations.doctor.database import schema_heads, sqlite_path
from retroface.services.operations.doctor.files import upload_key
from retroface.services.operations.doctor.findings import DEFAULT_STALE_AFTER, DoctorReport, Finding
from retroface.services.operations.doctor.run import run_doctor

__all__ = [
    "DEFAULT_STALE_AFTER",
    "DoctorReport",
    "Finding",
    "run_doctor",
    "schema_heads",
    "sqlite_path",
    "upload_key",
]
