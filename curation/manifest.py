"""The recorded plan as the driver sees it: shard ids, names and row counts from manifest.json.

Kept free of pyarrow so the driver process stays small: it only needs the manifest, while the
workers (which import pyarrow anyway) read the shard rows with ``Plan.read_shard``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from curation.fsutil import read_json
from curation.keys import shard_name

if TYPE_CHECKING:
    import pyarrow as pa

KEY_COLUMN = "__key__"
PLAN_DIR = "_plan"
MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
DATASET_FORMATS = frozenset({"kinetics", "ssv2", "imagefolder"})


@dataclass
class Plan:
    folder: Path
    manifest: dict[str, Any]
    _readers: dict[int, Any] = field(default_factory=dict, repr=False)

    @property
    def shard_ids(self) -> list[int]:
        return [entry[0] for entry in self.manifest["shards"]]

    @property
    def total_rows(self) -> int:
        return sum(entry[3] for entry in self.manifest["shards"])

    def shard_name(self, shard_id: int) -> str:
        named = self.manifest.get("names", {}).get(str(shard_id))  # webdataset input keeps tar names
        return named or shard_name(shard_id, self.manifest["shape"]["oom_shard_count"])

    def read_shard(self, shard_id: int) -> pa.Table:
        """The rows of one input shard (memory-mapped, only this shard's batch)."""
        import pyarrow as pa

        entry = next(e for e in self.manifest["shards"] if e[0] == shard_id)
        _, source_index, batch_index, _ = entry
        ipc = self.folder / self.manifest["sources"][source_index]["ipc"]
        with pa.memory_map(str(ipc)) as source:
            batch = pa.ipc.open_file(source).get_batch(batch_index)
            return pa.Table.from_batches([batch])


def load_plan(folder: Path) -> Plan:
    return Plan(folder, read_json(folder / PLAN_DIR / MANIFEST))
