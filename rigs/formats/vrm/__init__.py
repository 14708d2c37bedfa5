"""VRM 0.x / 1.0 avatars: glTF plus the VRM extensions, read into a `Model` (and written, for tests)."""
