"""Writing IDX files (MNIST's format) for tests: tiny stand-ins for the real digits and their labels."""

import gzip
from pathlib import Path

import numpy as np

MNIST_STEMS = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def write_idx(path: Path, array: np.ndarray, type_code: int = 0x08) -> None:
    """``array`` as an IDX file (gzipped when ``path`` ends in .gz), big-endian as the format stores it."""
    header = bytes([0, 0, type_code, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    payload = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    with (gzip.open if str(path).endswith(".gz") else open)(path, "wb") as handle:
        handle.write(payload)


def write_tiny_mnist(folder: Path, train_count: int = 12, test_count: int = 10, seed: int = 0) -> None:
    """The four MNIST files, gzipped, with random 28x28 digits and labels cycling through 0-9."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, count in (("train", train_count), ("t10k", test_count)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (count, 28, 28), dtype=np.uint8))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", (np.arange(count) % 10).astype(np.uint8))
