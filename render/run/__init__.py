"""Running a manifest: the runner, backends (local pool, Ray), parts, merge, status, recheck."""
