"""OpticalFlowSubsampler (video2dataset's name): Farneback flow on small gray frames.

ffmpeg decodes the source once at ``target_fps`` and downscales it to ``downsample_size`` (short
side); OpenCV (the ``flow`` extra, imported only here) computes the flow between consecutive
frames. Every output's json gets ``optical_flow`` (mean / max magnitude, a per-second series) for
its own span; with ``save_flow`` the flow itself becomes a ``<key>.npy`` member (frames-1 × H × W
× 2). The flow fields stream to a temp file as they are computed, so memory holds two frames.
Magnitudes are in pixels of the downsampled frame per frame step (1 / target_fps seconds).
video2dataset's argument spellings are accepted: ``detector_args`` as its 7 positional Farneback
values, ``is_slurm_task``, and ``fps`` (-1: the source's rate) of its earlier versions.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from subsamplers.base import SampleInput, SampleOutput, SampleSubsampler, SubsamplerArgs, SubsamplerError
from subsamplers.ffmpeg_plan import TranscodePlan
from subsamplers.frame_signals import PairSeries, analysis_fps, frame_size, gray_frames, output_span

# OpenCV's documented Farneback example values (and video2dataset's Cv2Detector defaults)
FARNEBACK_DEFAULTS: dict[str, float | int] = {
    "pyr_scale": 0.5, "levels": 3, "winsize": 15, "iterations": 3, "poly_n": 5, "poly_sigma": 1.2, "flags": 0,
}


class OpticalFlowArgs(SubsamplerArgs):
    detector: Literal["cv2"] = "cv2"
    detector_args: dict[str, float | int] | None = None  # Farneback parameters over FARNEBACK_DEFAULTS
    target_fps: float | None = Field(2.0, gt=0, le=120)  # None: the source's rate
    downsample_size: int = Field(64, ge=8, le=4096)  # short side, pixels
    dtype: Literal["fp16", "fp32"] = "fp16"
    save_flow: bool = False  # write the flow as <key>.npy
    is_slurm_task: bool = False  # video2dataset's (RAFT on GPUs); accepted and unused

    @model_validator(mode="before")
    @classmethod
    def _video2dataset_spellings(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if "fps" in data and "target_fps" not in data:
            fps = data.pop("fps")
            data["target_fps"] = None if isinstance(fps, (int, float)) and fps <= 0 else fps
        positional = data.get("detector_args")
        if isinstance(positional, (list, tuple)):
            if len(positional) != len(FARNEBACK_DEFAULTS):
                raise ValueError(f"detector_args as a list needs {len(FARNEBACK_DEFAULTS)} values ({', '.join(FARNEBACK_DEFAULTS)})")
            data["detector_args"] = dict(zip(FARNEBACK_DEFAULTS, positional, strict=True))
        return data

    @field_validator("detector_args")
    @classmethod
    def _farneback_only(cls, value: dict[str, float | int] | None) -> dict[str, float | int] | None:
        unknown = sorted(set(value or {}) - set(FARNEBACK_DEFAULTS))
        if unknown:
            raise ValueError(f"unknown Farneback parameter {unknown[0]!r}; expected {', '.join(FARNEBACK_DEFAULTS)}")
        return value


def _cv2() -> Any:
    try:
        import cv2
    except ImportError:
        raise SubsamplerError("OpticalFlowSubsampler needs OpenCV: pip install 'curation[flow]'") from None
    return cv2


class OpticalFlowSubsampler(SampleSubsampler):
    name: ClassVar[str] = "OpticalFlowSubsampler"
    stage: ClassVar[int] = 70  # after ClippingSubsampler: the spans are known
    Args: ClassVar[type[SubsamplerArgs]] = OpticalFlowArgs

    def contribute(self, plan: TranscodePlan, sample: SampleInput) -> None:
        args: OpticalFlowArgs = self.args  # type: ignore[assignment]
        probe = sample.probe
        if not probe.has_video or probe.is_image:
            return
        cv2 = _cv2()
        params = {**FARNEBACK_DEFAULTS, **(args.detector_args or {})}
        fps = analysis_fps(args.target_fps, probe)
        size = frame_size(probe, args.downsample_size)
        series = PairSeries(fps=round(fps, 6), size=size)
        dtype = np.float16 if args.dtype == "fp16" else np.float32
        raw = Path(sample.tmp_dir) / f"{sample.key}.flow.raw" if args.save_flow else None
        previous: np.ndarray | None = None
        with contextlib.ExitStack() as stack:
            sink = stack.enter_context(open(raw, "wb")) if raw is not None else None  # noqa: SIM115
            frames = stack.enter_context(contextlib.closing(gray_frames(sample.path, fps, size, plan.timeout("ffmpeg"))))
            for index, frame in enumerate(frames):  # closing: an error here still ends the ffmpeg child at once
                if previous is not None:
                    flow = cv2.calcOpticalFlowFarneback(
                        previous, frame, None, params["pyr_scale"], int(params["levels"]), int(params["winsize"]),
                        int(params["iterations"]), int(params["poly_n"]), params["poly_sigma"], int(params["flags"]))
                    series.add(index / fps, float(np.hypot(flow[..., 0], flow[..., 1]).mean()))
                    if sink is not None:
                        sink.write(flow.astype(dtype).tobytes())
                previous = frame
        plan.finishers.append(lambda output: self._finish(output, series, raw, dtype))

    @staticmethod
    def _finish(output: SampleOutput, series: PairSeries, raw: Path | None, dtype: Any) -> None:
        span = output_span(output.metadata)
        summary = series.summary(span)
        output.metadata["optical_flow"] = summary
        output.metadata["mean_optical_flow_magnitude"] = summary["mean"]  # video2dataset 1.3.0's field, same unit
        if raw is not None:
            chosen = series.indices(span)
            target = raw.with_name(f"{output.key}.flow.npy")
            write_npy_slice(raw, target, dtype, (series.size[1], series.size[0], 2), chosen)
            output.media["npy"] = target


def write_npy_slice(raw: Path, target: Path, dtype: Any, frame_shape: tuple[int, int, int], indices: list[int]) -> None:
    """``target`` = the frames ``indices`` (contiguous, ascending) of a raw array file, as a .npy."""
    frame_bytes = int(np.prod(frame_shape)) * np.dtype(dtype).itemsize
    with open(target, "wb") as out:
        header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False,
                  "shape": (len(indices), *frame_shape)}
        np.lib.format.write_array_header_1_0(out, header)
        if not indices:
            return
        with open(raw, "rb") as source:
            source.seek(indices[0] * frame_bytes)
            remaining = len(indices) * frame_bytes
            while remaining:
                chunk = source.read(min(remaining, 1 << 20))
                if not chunk:
                    raise SubsamplerError("optical flow temp file is shorter than expected")
                out.write(chunk)
                remaining -= len(chunk)
