"""thagen.annotate: head-top / chin annotations and the browser tool people mark them with.

`thagen annotate auto` writes the geometric suggestion with its confidence (tool/suggest.py);
`thagen annotate serve` runs the local web tool (`tool/`: server.py for HTTP, bodies.py for
its request checks, session.py for the queue and saves, store.py for what is saved, catalog.py
for which characters, qa_flags.py for what an earlier render flagged; `static/`: the page);
the front pictures come from `front/` (renders.py: the worker process, queue and mapping;
cache.py: what a picture is and its cache entries; blender_worker.py: the Blender side, run in
the worker process only). `thagen annotate merge` merges several annotators' folders
(merge.py). The file format itself is render/framing/annotation_file.py (re-exported by
annotation.py), below the renderer's framing that reads it. See docs/annotation.md.
"""
