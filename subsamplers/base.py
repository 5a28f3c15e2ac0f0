"""The two subsampler contracts.

Table subsamplers run once at planning time over the whole input table (a class subset needs the
global view). Sample subsamplers never run ffmpeg themselves: each one *contributes* to a shared
``TranscodePlan`` (clip spans, filters, codec options, metadata) and ``subsamplers.ffmpeg_plan``
compiles the contributions into ONE ffmpeg invocation per source video. That is what makes a
resize + fps + clip chain cost one decode and one encode instead of one per step.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict

from curation.probe import ProbeInfo

if TYPE_CHECKING:
    import pyarrow as pa


class SubsamplerError(Exception):
    """The sample cannot be transformed; it is recorded as ``failed_to_subsample``."""


class SubsamplerArgs(BaseModel):
    """Base for every subsampler's arguments: unknown keys are config errors."""

    model_config = ConfigDict(extra="forbid")


class TableSubsampler(ABC):
    """Runs at plan time over the whole table (Arrow), before keys and shards are assigned."""

    name: ClassVar[str]
    Args: ClassVar[type[SubsamplerArgs]] = SubsamplerArgs

    def __init__(self, args: SubsamplerArgs) -> None:
        self.args = args

    @abstractmethod
    def apply(self, table: pa.Table, output_folder: Path) -> pa.Table:
        """Return the rows to keep (may add columns); may write reports into output_folder."""


@dataclass
class SampleInput:
    """One fetched source sample, as the chain sees it."""

    key: str
    path: Path
    probe: ProbeInfo
    metadata: dict[str, Any]
    clips: Any = None  # raw value of the table's clip column, parsed by ClippingSubsampler
    tmp_dir: Path = Path("/tmp")


@dataclass
class SampleOutput:
    """One output sample: the source itself, or one clip of it."""

    key: str
    media: dict[str, Path] = field(default_factory=dict)  # extension -> file to write
    metadata: dict[str, Any] = field(default_factory=dict)  # merged into <key>.json


class SampleSubsampler(ABC):
    """Contributes filters, clip spans, options or metadata to one sample's transcode plan.

    ``stage`` fixes the order inside the chain whatever the order in the config file.
    """

    name: ClassVar[str]
    stage: ClassVar[int]
    Args: ClassVar[type[SubsamplerArgs]] = SubsamplerArgs

    def __init__(self, args: SubsamplerArgs) -> None:
        self.args = args

    @abstractmethod
    def contribute(self, plan: Any, sample: SampleInput) -> None:
        """Add this subsampler's part to ``plan`` (a ``subsamplers.ffmpeg_plan.TranscodePlan``)."""
