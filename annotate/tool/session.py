"""One annotation session: the queue, suggestions, front renders and saves, without any HTTP.

The server (annotate/tool/server.py) is a thin layer over this, so everything a person can do in
the page is a plain method here. Blocking work (reading models, writing files) happens in the
caller's thread; the server runs these methods in worker threads.
"""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from thagen.annotate.front.cache import (
    FrontRequest,
    FrontSettings,
    entry_dir,
    load_mapping,
    render_key,
    thumb_settings,
    view_for,
)
from thagen.annotate.front.renders import FrontRenders
from thagen.annotate.tool.catalog import Character
from thagen.annotate.tool.store import Saved, Store, needs_work, read_saved
from thagen.annotate.tool.suggest import Suggestion, cached_suggestion

LOW_CONFIDENCE = 0.8  # below this a suggestion is reviewed first (and shown by --review)


@dataclass
class SessionOptions:
    cache_dir: Path
    annotator: str = ""
    review: bool = False
    front: FrontSettings = field(default_factory=FrontSettings)
    prefetch: int = 3
    render: bool = True  # False: no Blender worker (API-only use)
    thumbs: bool = True  # small renders of the whole queue, after the prefetch, when nothing else waits
    qa_flags: dict[str, list[str]] = field(default_factory=dict)  # id -> ["qa:<flag>"] (qa_flags.py)
    qa_reasons: dict[str, dict[str, str]] = field(default_factory=dict)  # id -> {"qa:<flag>": why}
    held_back: dict[str, float] = field(default_factory=dict)  # id -> when its holding-back render finished


class Session:
    def __init__(self, catalog: list[Character], options: SessionOptions) -> None:
        self.options = options
        self.by_id = {ch.id: ch for ch in catalog}
        self.catalog = catalog
        self.store = Store(options.annotator)
        self._suggestions: dict[str, Suggestion] = {}
        self._lock = threading.Lock()
        self._measuring: dict[str, threading.Lock] = {}
        self._keys: dict[str, str] = {}
        self._thumb_keys: dict[str, str] = {}
        self._opened: dict[str, float] = {}
        self.durations: list[float] = []
        self.renders = FrontRenders(options.cache_dir, options.front) if options.render else None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._suggest_all, name="suggestions", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self.renders is not None:
            self.renders.close()

    # ----------------------------------------------------------------- suggestions
    def _suggest_all(self) -> None:
        for ch in self.catalog:
            if self._stop.is_set():
                return
            self.suggestion(ch)
        rows = self.rows()
        self.prefetch(None, rows)
        if self.options.thumbs:
            for row in rows:  # the whole queue, in its order, behind anything a person asks for
                self._request(self.by_id[row["id"]], first=False, thumb=True)

    def suggestion(self, ch: Character) -> Suggestion:
        """The character's suggestion, measured once (the page and the background thread may ask
        for the same one at the same time)."""
        with self._lock:
            one = self._measuring.setdefault(ch.id, threading.Lock())
        with one:
            with self._lock:
                known = self._suggestions.get(ch.id)
            if known is None:
                known = cached_suggestion(ch, self.options.cache_dir)
                with self._lock:
                    self._suggestions[ch.id] = known
        return known

    def known_suggestion(self, ch: Character) -> Suggestion | None:
        with self._lock:
            return self._suggestions.get(ch.id)

    # ----------------------------------------------------------------- the queue
    def flags(self, ch: Character, sugg: Suggestion | None, saved: Saved) -> list[str]:
        out = list(self.options.qa_flags.get(ch.id, [])) + (["unreadable file"] if saved.problems else [])
        if saved.stale:
            out.append("model_changed")  # annotated on another version of the model file
        if sugg is not None:
            out += ["error"] if sugg.error else list(sugg.codes)
        return out

    def waiting(self, ch: Character, saved: Saved) -> bool:
        """Held back by QA (`--qa OUT`) and not answered since that render: a person's answer
        saved after it is the fix, waiting for `thagen render ... --redo flagged`."""
        rendered = self.options.held_back.get(ch.id)
        if rendered is None:
            return False
        if needs_work(saved.status):
            return True
        answered = [p.stat().st_mtime for p in (ch.annotation_path, ch.skip_path) if p.is_file()]
        return not answered or max(answered) <= rendered

    def rows(self) -> list[dict[str, Any]]:
        """Every character (or, with review, the low-confidence and flagged ones): those QA held
        back and nobody answered since first, then the rest needing work, least confident first."""
        rows: list[dict[str, Any]] = []
        for ch in self.catalog:
            sugg = self.known_suggestion(ch)
            saved = read_saved(ch)
            conf = None if sugg is None else (0.0 if sugg.error else sugg.confidence)
            flags = self.flags(ch, sugg, saved)
            thumb = "failed" if sugg is not None and sugg.error else self.thumb_state(ch)
            urgent = any(
                f.startswith("qa:") or f in ("error", "unreadable file", "model_changed") for f in flags
            )
            if self.options.review and not (urgent or (conf is not None and conf < LOW_CONFIDENCE)):
                continue
            rows.append(
                {
                    "id": ch.id,
                    "model": ch.label,
                    "status": saved.status,
                    "confidence": conf,
                    "flags": flags,
                    "reasons": self.options.qa_reasons.get(ch.id, {}),
                    "held_back": self.waiting(ch, saved),
                    "urgent": urgent,
                    "thumb": self.image_url(ch, "thumb") if thumb == "ready" else None,
                    "thumb_state": thumb,
                }
            )
        rows.sort(
            key=lambda r: (
                not r["held_back"],  # QA held it back from the training data: the point of --qa
                not needs_work(r["status"]),
                not r["urgent"],  # QA-flagged and failed models first, then least confident
                r["confidence"] is None,
                r["confidence"] or 0.0,
                r["id"],
            )
        )
        return rows

    def progress(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        done = sum(1 for r in rows if not needs_work(r["status"]))
        median = statistics.median(self.durations) if self.durations else None
        left = len(rows) - done
        return {
            "done": done,
            "total": len(rows),
            "median_seconds": median,
            "eta_seconds": None if median is None else median * left,
        }

    def neighbours(self, cid: str, rows: list[dict[str, Any]] | None = None) -> dict[str, str | None]:
        rows = self.rows() if rows is None else rows
        ids = [r["id"] for r in rows]
        open_ids = {r["id"] for r in rows if _open(r)}
        if cid not in ids:
            ids.insert(0, cid)
        i = ids.index(cid)
        after = ids[i + 1 :] + ids[:i]
        return {
            "next": ids[i + 1] if i + 1 < len(ids) else None,
            "prev": ids[i - 1] if i > 0 else None,
            "next_todo": next((j for j in after if j in open_ids), None),
        }

    def first_todo(self) -> str | None:
        return next((r["id"] for r in self.rows() if _open(r)), None)

    # ----------------------------------------------------------------- front renders
    def _request(self, ch: Character, first: bool, thumb: bool = False) -> None:
        """Queue the character's front render (or, with `thumb`, its small queue thumbnail at
        low priority: skipped when the big one, whose thumbnail serves too, is already there)."""
        if self.renders is None:
            return
        sugg = self.suggestion(ch)
        if not sugg.ok or (thumb and self.front_state(ch) in ("ready", "pending")):
            return
        key = self.thumb_key(ch) if thumb else self.key(ch)
        small = thumb_settings(self.options.front) if thumb else None
        top, chin = view_for(sugg.head_top, sugg.chin)
        req = FrontRequest(
            key,
            ch.job,
            top,
            chin,
            sugg.center_x,
            str(entry_dir(self.options.cache_dir, key)),
            str(self.options.cache_dir / "models"),
            size=small.size if small else 0,
            samples=small.samples if small else 0,
        )
        self.renders.request(req, first=first, low=thumb)

    def prefetch(self, after: str | None, rows: list[dict[str, Any]] | None = None) -> None:
        """Render the next few characters that need work while the person is on `after`."""
        rows = self.rows() if rows is None else rows
        ids = [r["id"] for r in rows if needs_work(r["status"]) and r["id"] != after]
        if after is not None and after in self.by_id:
            order = [r["id"] for r in rows]
            pos = order.index(after) if after in order else -1
            ids = [i for i in order[pos + 1 :] if i in ids] + [i for i in order[: max(pos, 0)] if i in ids]
        for cid in ids[: self.options.prefetch]:
            self._request(self.by_id[cid], first=False)

    def key(self, ch: Character) -> str:
        """The character's front-render cache key (computed once per session)."""
        key = self._keys.get(ch.id)
        if key is None:
            key = self._keys[ch.id] = render_key(ch.job, self.options.front)
        return key

    def thumb_key(self, ch: Character) -> str:
        key = self._thumb_keys.get(ch.id)
        if key is None:
            key = self._thumb_keys[ch.id] = render_key(ch.job, thumb_settings(self.options.front))
        return key

    def front_state(self, ch: Character) -> str:
        if self.renders is None:
            return "off"
        return self.renders.state(self.key(ch))

    def thumb_state(self, ch: Character) -> str:
        """ready when the big render's or the small thumbnail render's thumb.png is there."""
        big = self.front_state(ch)
        if big in ("ready", "off") or not self.options.thumbs or self.renders is None:
            return big
        small = self.renders.state(self.thumb_key(ch))
        return "pending" if big == "pending" and small != "ready" else small

    def image_url(self, ch: Character, name: str) -> str:
        return f"/api/characters/{ch.id}/{name}.png"

    def image_file(self, ch: Character, name: str) -> Path | None:
        """The cached PNG; a thumbnail from the small thumbnail render until the big one exists."""
        keys = [self.key(ch)] + ([self.thumb_key(ch)] if name == "thumb" else [])
        for key in keys:
            path = entry_dir(self.options.cache_dir, key) / f"{name}.png"
            if load_mapping(path.parent) is not None and path.is_file():
                return path
        return None

    # ----------------------------------------------------------------- one character
    def detail(self, ch: Character, *, opened: bool = True) -> dict[str, Any]:
        if opened:
            self._opened.setdefault(ch.id, time.monotonic())
        sugg = self.suggestion(ch)
        saved = read_saved(ch)
        self._request(ch, first=True)
        rows = self.rows()
        if opened:
            self.prefetch(ch.id, rows)
        state = "failed" if not sugg.ok else self.front_state(ch)
        image: dict[str, Any] = {"state": state}
        if state == "ready":
            mapping = load_mapping(entry_dir(self.options.cache_dir, self.key(ch)))
            image.update(url=self.image_url(ch, "front"), mapping=mapping.to_dict() if mapping else None)
        elif state == "failed":
            key = self.key(ch)
            image["error"] = sugg.error or (self.renders.failures.get(key, "") if self.renders else "")
        ann = saved.annotation
        return {
            "id": ch.id,
            "model": ch.label,
            "status": saved.status,
            "version": saved.version,
            "suggestion": sugg.to_dict(),
            "annotation": None if ann is None else ann.to_dict(),
            "skip": None if saved.skip is None else vars(saved.skip),
            "problems": saved.problems,
            "flags": self.flags(ch, sugg, saved),
            "reasons": self.options.qa_reasons.get(ch.id, {}),
            "held_back": self.waiting(ch, saved),
            "image": image,
            **self.neighbours(ch.id, rows),
        }

    def _finished(self, ch: Character) -> None:
        opened = self._opened.pop(ch.id, None)
        if opened is not None:
            self.durations.append(time.monotonic() - opened)

    def accept(
        self,
        ch: Character,
        head_top: np.ndarray,
        chin: np.ndarray,
        center_x: float | None,
        version: str,
        notes: str,
    ) -> dict[str, Any]:
        saved = self.store.accept(ch, head_top, chin, center_x, version, notes)
        self._finished(ch)
        return {"status": saved.status, "version": saved.version, **self.neighbours(ch.id)}

    def skip(self, ch: Character, reason: str, version: str) -> dict[str, Any]:
        saved = self.store.skip(ch, reason, version)
        self._finished(ch)
        return {"status": saved.status, "version": saved.version, **self.neighbours(ch.id)}


def _open(row: dict[str, Any]) -> bool:
    """A queue row a person still has to look at."""
    return bool(row["held_back"]) or needs_work(row["status"])
