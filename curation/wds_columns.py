"""The columns of a row planned from an input tar, and what the worker reads back of the plan.

Kept apart from ``wds_plan`` so that a worker reprocessing shards imports only these names, not
the planner and the Arrow compute kernels it sorts and filters with (~10 MB per process).
"""

from __future__ import annotations

from typing import Any

COL_TAR = "__wds_tar__"
COL_SOURCE_KEY = "__wds_source_key__"
COL_MEMBERS = "__wds_members__"  # JSON {ext: [offset, size]}
COL_JSON = "__wds_json__"  # the sample's json (sidecar parquet fields filled in), as text
COL_CAPTION = "__wds_caption__"
COL_ERROR = "__wds_error__"  # why the sample cannot be processed, or null
COL_WARNINGS = "__wds_warnings__"  # JSON list of what was odd but not fatal
COL_INDEX = "__wds_index__"  # position in the input tar
COL_SOURCE = "__wds_source__"  # which input tar (only while table subsamplers run)


def shard_problems(manifest: dict[str, Any], shard_id: int) -> list[str]:
    """What was wrong with the input tar behind one shard (truncated, unreadable), as planned."""
    entry = next(e for e in manifest["shards"] if e[0] == shard_id)
    return list(manifest["sources"][entry[1]].get("problems") or [])
