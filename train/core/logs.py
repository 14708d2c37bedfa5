"""Training records: loss curves (JSONL, CSV, a PNG plot drawn with PIL), sample grids, TensorBoard.

matplotlib is not a dependency, so the plot is drawn directly. TensorBoard event files are
written only when the `tensorboard` package is importable.
"""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path

import torch
from PIL import Image, ImageDraw

from thagen.train.data.images import checkerboard, over_background, tensor_to_rgba8


def atomic_save_image(image: Image.Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    image.save(tmp, format=path.suffix.lstrip(".").upper().replace("JPG", "JPEG"))
    os.replace(tmp, path)


class RunLog:
    """Append-only loss log of one stage; on resume, entries after the checkpoint are dropped."""

    def __init__(self, directory: Path, resume_step: int | None = None) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.jsonl = self.dir / "log.jsonl"
        self.csv = self.dir / "loss.csv"
        self.records: list[dict] = []
        if resume_step is not None and self.jsonl.exists():
            for line in self.jsonl.read_text().splitlines():
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue  # a line cut short by a crash
                if rec.get("step", 0) <= resume_step:
                    self.records.append(rec)
        self._rewrite()
        self.tb = None
        try:
            from torch.utils.tensorboard import SummaryWriter  # needs the tensorboard package

            self.tb = SummaryWriter(log_dir=str(self.dir / "tensorboard"), purge_step=resume_step)
        except Exception:  # noqa: BLE001 - TensorBoard is optional
            self.tb = None

    def _rewrite(self) -> None:
        tmp = self.jsonl.with_name("log.jsonl.tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in self.records))
        os.replace(tmp, self.jsonl)
        self._write_csv()

    def _write_csv(self) -> None:
        keys = ["step", "epoch", "loss", "val_loss", "lr", "steps_per_s", "samples_per_s", "time_s"]
        tmp = self.csv.with_name("loss.csv.tmp")
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=keys, extrasaction="ignore")
            w.writeheader()
            for r in self.records:
                w.writerow(r)
        os.replace(tmp, self.csv)

    def add(self, record: dict) -> None:
        self.records.append(record)
        with open(self.jsonl, "a") as f:
            f.write(json.dumps(record) + "\n")
        with open(self.csv, "a", newline="") as f:
            csv.writer(f).writerow(
                [
                    record.get(k, "")
                    for k in (
                        "step",
                        "epoch",
                        "loss",
                        "val_loss",
                        "lr",
                        "steps_per_s",
                        "samples_per_s",
                        "time_s",
                    )
                ]
            )
        if self.tb is not None:
            for k in ("loss", "val_loss", "steps_per_s"):
                if k in record:
                    self.tb.add_scalar(k, record[k], record["step"])

    def plot(self) -> Path:
        path = self.dir / "loss.png"
        atomic_save_image(loss_plot(self.records), path)
        return path

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


def loss_plot(records: list[dict], size: tuple[int, int] = (640, 360)) -> Image.Image:
    """Training (blue) and validation (orange) loss against step, log-scale y axis."""
    w, h = size
    left, right, top, bottom = 60, 15, 15, 35
    im = Image.new("RGB", size, "white")
    d = ImageDraw.Draw(im)
    d.rectangle([left, top, w - right, h - bottom], outline="black")
    series = {
        "loss": [(r["step"], r["loss"]) for r in records if r.get("loss", 0) > 0],
        "val_loss": [(r["step"], r["val_loss"]) for r in records if r.get("val_loss", 0) > 0],
    }
    pts = series["loss"] + series["val_loss"]
    if not pts:
        d.text((left + 10, top + 10), "no loss records yet", fill="black")
        return im
    s0, s1 = min(p[0] for p in pts), max(p[0] for p in pts)
    y0, y1 = math.log10(min(p[1] for p in pts)), math.log10(max(p[1] for p in pts))
    if s1 == s0:
        s1 = s0 + 1
    if y1 - y0 < 1e-6:
        y0, y1 = y0 - 0.5, y1 + 0.5

    def xy(step: float, value: float) -> tuple[float, float]:
        x = left + (step - s0) / (s1 - s0) * (w - left - right)
        y = top + (y1 - math.log10(value)) / (y1 - y0) * (h - top - bottom)
        return x, y

    for t in range(5):  # y ticks
        v = 10 ** (y0 + (y1 - y0) * t / 4)
        _, y = xy(s0, v)
        d.line([left - 4, y, left, y], fill="black")
        d.text((2, y - 6), f"{v:.3g}", fill="black")
    for t in range(5):  # x ticks
        s = s0 + (s1 - s0) * t / 4
        x, _ = xy(s, 10**y0)
        d.line([x, h - bottom, x, h - bottom + 4], fill="black")
        d.text((x - 12, h - bottom + 6), f"{int(s)}", fill="black")
    for name, colour in (("loss", (31, 119, 180)), ("val_loss", (255, 127, 14))):
        line = [xy(s, v) for s, v in series[name]]
        if len(line) > 1:
            d.line(line, fill=colour, width=2)
        elif line:
            x, y = line[0]
            d.ellipse([x - 2, y - 2, x + 2, y + 2], fill=colour)
    d.text((left + 8, top + 4), "train loss", fill=(31, 119, 180))
    d.text((left + 90, top + 4), "val loss", fill=(255, 127, 14))
    d.text((w // 2 - 10, h - 14), "step", fill="black")
    return im


def image_grid(columns: list[tuple[str, torch.Tensor]], rows: int = 4) -> Image.Image:
    """One column per (title, (B, 4, H, W) batch), one row per sample, over a checkerboard."""
    b, _, h, w = columns[0][1].shape
    rows = min(rows, b)
    pad = 14
    im = Image.new("RGB", (w * len(columns), h * rows + pad), "white")
    d = ImageDraw.Draw(im)
    board = checkerboard(h, w)
    for c, (title, batch) in enumerate(columns):
        d.text((c * w + 3, 1), title, fill="black")
        for r in range(rows):
            tile = over_background(tensor_to_rgba8(batch[r]), board)
            im.paste(Image.fromarray(tile), (c * w, pad + r * h))
    return im


def save_grid(columns: list[tuple[str, torch.Tensor]], path: Path, rows: int = 4) -> Path:
    atomic_save_image(image_grid(columns, rows), path)
    return path
