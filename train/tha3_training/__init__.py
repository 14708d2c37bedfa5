"""Training, evaluating and animating THA3's five networks (`thagen train tha3`).

The networks themselves are `thagen.train.tha3`; this package feeds them thagen's shards through
the shared loop (`thagen.train.core.loop`): `config` (the YAML keys), `geometry` (THA3's crops at any
image size), `models` (building and loading the five networks), `stages` (what each stage reads,
predicts and is scored on), `run` (all stages in order), `evaluate` and `motion` (the demo's poses).
"""
