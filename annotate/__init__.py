"""thagen.annotate: head-top / chin annotations and the browser tool people mark them with.

`thagen annotate auto` writes the geometric suggestion with its confidence (suggest.py);
`thagen annotate serve` runs the local web tool (server.py: HTTP; session.py: the queue and
saves; store.py: what is saved; catalog.py: which characters; front_render.py and
front_cache.py: the front pictures, rendered by one Blender worker in blender_front.py);
`thagen annotate merge` merges several annotators' folders (merge.py). The file format itself
is render/framing/annotation_file.py (re-exported by annotation.py), below the renderer's
framing that reads it. See docs/annotation.md.
"""
