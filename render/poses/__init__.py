"""Pose vectors as samples and as rotations / morph weights: THA1 and THA2 / THA3 (pure numpy)."""
