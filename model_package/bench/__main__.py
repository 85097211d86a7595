"""python -m model_package.bench NAME [options]; NAME is one of the modules of this package."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import model_package.bench as bench


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    names = sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if not m.name.startswith("_"))
    if not argv or argv[0] not in names:
        raise SystemExit(f"usage: python -m model_package.bench NAME [options]; NAME is one of: {', '.join(names)}")
    importlib.import_module(f"model_package.bench.{argv[0]}").main(argv[1:])


if __name__ == "__main__":
    main()
