"""``sessionlab recover``: rebuild what the database no longer knows, from manifests and backups.

Sources, first found wins for a batch: the backups (newest first; they also
carry vectors of later embedding spaces and the latest session names), then the
manifests beside the audio (``media/{session}/{batch}.json``) and those kept
aside (``kept-aside/media/{session}/...``). A batch the database already knows is
never touched: the database is preferred.

For each session with something to bring back, under the session's lock (the
one the sweep and ``add_batch`` take): find each clip's WAV (in place, or kept
aside: a no-clobber rename brings it back), put the manifest in place, then
insert the session row (when missing) and the batch's rows in one transaction.
If the insert fails, the files go back aside. A clip whose WAV is gone or
unreadable is left out and reported; a batch with no clip left is reported.

Curation comes back too: each session's curation file (``media/{session}/curation.json``
and its kept-aside copies, core.curation_file) is merged into the curation tables
after the batches are rebuilt, an entry winning where it is newer than the row (or
there is no row). Marks of clips no batch brings back stay in the file.

It never overwrites or deletes a file, and a second run finds nothing to do.
"""

from core.recovery.finding import (
    AsideIndex,
    backup_records,
    find_clip,
    manifest_files,
    manifest_records,
)
from core.recovery.rebuild import recover, recover_data_dir
from core.recovery.report import RecoveryReport
from core.recovery.restore import curation_files, deleted_tracks, recover_curation, restore_named_files

__all__ = [
    "AsideIndex",
    "RecoveryReport",
    "backup_records",
    "curation_files",
    "deleted_tracks",
    "find_clip",
    "manifest_files",
    "manifest_records",
    "recover",
    "recover_curation",
    "recover_data_dir",
    "restore_named_files",
]
