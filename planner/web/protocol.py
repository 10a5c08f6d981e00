"""What the job runner and a job's process share: states, file names, exit codes.

Kept apart so that :mod:`planner.web.jobs` (the server side) and
:mod:`planner.web.worker` (the job process) both import it, not each other.
"""

from __future__ import annotations

QUEUED, RUNNING, DONE, INVALID, FAILED = "queued", "running", "done", "invalid", "failed"
FINISHED = (DONE, INVALID, FAILED)
RESULT = "result.json"
PROGRESS = "progress.json"
UPLOAD = "upload.xlsx"
LISTS = ("issues", "warnings")  # lists a job may write in full as NAME.txt (the page shows a part)
OUT_OF_MEMORY = 12  # a job process's exit code when it could not even report that (ENOMEM)


def too_large(max_memory_mb: int | None) -> str:
    """Return the message of a job that ran out of memory."""
    allowed = f" ({max_memory_mb} MB)" if max_memory_mb else ""
    return f"the workbook needs more memory than this server allows per job{allowed}"
