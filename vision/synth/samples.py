"""Regenerate the committed example scans in ``sample_images/xray/``.

Run: ``python -m vision.synth.samples [--out sample_images/xray]``. For each scene kind it writes a clean
and a threat false-colour PNG, one JPEG, the raw 16-bit high/low TIFF pair of the luggage threat scan and
``labels.json`` (boxes and classes of every file). The scans are small (640 px or so) so
the folder stays well under 3 MB.
"""

from __future__ import annotations

import argparse
import io
import json
import pathlib

import numpy as np
from PIL import Image

from vision.synth.scene import Scan, generate

PROFILE = "aurora160"
SEEDS = {"parcel": 3, "luggage": 1, "vehicle": 2}
WIDTH = {"parcel": 560, "luggage": 640, "vehicle": 720}


def _labels(scan: Scan) -> list[dict[str, object]]:
    return [{"label": i.label, "bbox": i.bbox} for i in scan.instances]


def _tiff(transmission: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.round(transmission * 65535.0).astype(np.uint16)).save(
        buf, format="TIFF", compression="tiff_deflate"
    )
    return buf.getvalue()


def write_samples(out: pathlib.Path) -> list[pathlib.Path]:
    """Write the example files into ``out`` and return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[pathlib.Path] = []
    labels: dict[str, object] = {}
    for kind, seed in SEEDS.items():
        size = (WIDTH[kind], int(WIDTH[kind] * (0.45 if kind == "vehicle" else 0.72)))
        for state, probability in (("clean", 0.0), ("threat", 1.0)):
            scan = generate(kind, seed, PROFILE, threat_probability=probability, size=size)
            name = f"{kind}_{state}"
            path = out / f"{name}.png"
            Image.fromarray(scan.rgb).save(path, optimize=True)
            written.append(path)
            labels[path.name] = {"kind": kind, "scanner": PROFILE, "seed": seed, "objects": _labels(scan)}
            if kind == "luggage" and state == "threat":
                jpeg = out / f"{name}.jpg"
                Image.fromarray(scan.rgb).save(jpeg, quality=88)
                labels[jpeg.name] = labels[path.name]
                for channel, data in (("high", scan.high), ("low", scan.low)):
                    raw = out / f"{name}_{channel}.tiff"
                    raw.write_bytes(_tiff(data))
                    written.append(raw)
                written.append(jpeg)
    (out / "labels.json").write_text(json.dumps(labels, indent=1) + "\n")
    written.append(out / "labels.json")
    return written


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("sample_images/xray"))
    args = parser.parse_args()
    for path in write_samples(args.out):
        print(f"{path}  {path.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
