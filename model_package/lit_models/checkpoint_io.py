"""Checkpoints written atomically on the filesystem that holds them."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.utilities.cloud_io import _is_local_file_protocol
from lightning.pytorch.plugins.io import TorchCheckpointIO


class AtomicCheckpointIO(TorchCheckpointIO):
    """Saves to a temporary file BESIDE the target, fsyncs it, then renames it over the target.

    Lightning's own save serialises to memory and writes through an fsspec transaction, whose
    temporary file lives in ``$TMPDIR``: when that is another filesystem (tmpfs ``/tmp``, cluster
    scratch vs NFS, containers) the final "move" is a copy straight into ``last.ckpt``, and a
    process killed mid-copy leaves it truncated. A rename within one directory is atomic: a
    reader, or a run resumed after SIGKILL, sees the old checkpoint or the new one, never half of
    one. Temporary files of a killed save are removed at the next save of the same path. Remote
    paths (``s3://...``) go through Lightning's save.
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any | None = None) -> None:
        if storage_options is not None or not _is_local_file_protocol(str(path)):
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        prefix = f".{target.name}."
        for stale in target.parent.glob(f"{prefix}*.tmp"):  # left by a save that was killed
            with contextlib.suppress(OSError):
                stale.unlink()
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=prefix, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                torch.save(checkpoint, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        with contextlib.suppress(OSError):  # make the rename itself durable
            directory = os.open(target.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
