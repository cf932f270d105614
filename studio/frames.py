"""Upscale a sequence of frames as a stream: decode, compute and encode overlap.

``python -m sr_core upscale-frames DIR OUT --model swiftsrgan`` (or ``--weights FILE``, a user's
model file of any architecture spandrel recognises, at its own scale) reads every image of ``DIR``
in name order and writes ``OUT/<name>.png``. A fast model on a GPU spends less time on a
frame than PNG decoding and encoding take, so a reader thread decodes ahead and a writer
thread encodes behind the model (Pillow and NumPy release the GIL while they work); the
bounded queues between them keep memory to a few frames. The model runs in the main thread
through :func:`sr_core.inference.upscale_with`, so every frame gets exactly what
``upscale`` would give it. A frame that cannot be read is skipped with its reason and the
stream goes on; the report lists it.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sr_core.errors import SRStudioError
from sr_core.imaging import LoadedImage, open_image, save_image
from sr_core.inference import LoadedModel, UpscaleResult, load_model, upscale_with
from sr_core.protocol import image_files

QUEUE_FRAMES = 4
"""Frames decoded ahead of, and waiting to be encoded behind, the model."""

_END = object()


@dataclass
class FramesReport:
    """What a stream did: frames written, frames skipped (name, reason), wall-clock seconds and model seconds."""

    written: list[Path] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    model_seconds: float = 0.0

    @property
    def frames_per_second(self) -> float:
        return len(self.written) / self.seconds if self.seconds > 0 else 0.0


def _decoded(files: list[Path], pixel_cap: int | None) -> Iterator[tuple[Path, LoadedImage | str]]:
    """Each file with its decoded image, or the reason it cannot be read."""
    for path in files:
        try:
            yield path, open_image(path) if pixel_cap is None else open_image(path, pixel_cap=pixel_cap)
        except (SRStudioError, OSError) as error:
            yield path, str(error)


def _in_thread(produce: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    return thread


def upscale_frames(
    input_dir: str | Path,
    output_dir: str | Path,
    model: str | LoadedModel,
    weights_file: str | Path | None = None,
    tile: int | None = 0,
    pixel_cap: int | None = None,
) -> FramesReport:
    """Upscale every image of ``input_dir`` into ``output_dir`` as PNG, decoding and encoding beside the model.

    ``model`` is a model name (loaded with ``weights_file``, else its bundled weights) or a loaded model, such as
    a user's file (:func:`sr_core.user_models.load_weights_file`), which upscales at its own scale.
    """
    if isinstance(model, str):
        model = load_model(model, weights_file)
    files = image_files(input_dir)
    if not files:
        raise SRStudioError(f"no images found in {input_dir}")
    stems = [path.stem for path in files]
    clashing = sorted({stem for stem in stems if stems.count(stem) > 1})
    if clashing:
        raise SRStudioError(
            f"frames {', '.join(clashing)} exist in several formats and would overwrite each other's PNG"
        )
    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    report = FramesReport()
    decoded: queue.Queue = queue.Queue(maxsize=QUEUE_FRAMES)
    to_write: queue.Queue = queue.Queue(maxsize=QUEUE_FRAMES)
    write_errors: list[BaseException] = []

    def read_ahead() -> None:
        for item in _decoded(files, pixel_cap):
            decoded.put(item)
        decoded.put(_END)

    def write_behind() -> None:
        while (item := to_write.get()) is not _END:
            target, result = item
            try:
                save_image(
                    result.rgb, target, alpha=result.alpha, grayscale=result.grayscale, bit_depth=result.bit_depth
                )
                report.written.append(target)
            except Exception as error:  # noqa: BLE001 - re-raised in the caller's thread; a dead writer would hang the stream
                write_errors.append(error)

    started = time.perf_counter()
    reader, writer = _in_thread(read_ahead), _in_thread(write_behind)
    try:
        while (item := decoded.get()) is not _END:
            path, image = item
            if isinstance(image, str):
                report.skipped.append((path.name, image))
                continue
            result: UpscaleResult = upscale_with(image, model, tile=tile)
            report.model_seconds += result.seconds
            to_write.put((output / f"{path.stem}.png", result))
    finally:
        to_write.put(_END)
        writer.join()
        reader.join(timeout=1)
    report.seconds = time.perf_counter() - started
    if write_errors:
        raise write_errors[0]
    return report
