"""The output folder: training shards, crash-safe JSON-lines journals, where each file lives."""
