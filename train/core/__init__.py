"""What every network system's training shares: the loop with exact resume (`loop`),
checkpoint files (`checkpoints`), where a step runs (`runtime`), run records (`logs`), the
optional perceptual loss (`perceptual`), evaluation figures (`metrics`, `scoring`) and the
demo's video files (`video`). THA1 (`thagen.train.tha1`) and THA3 (`thagen.train.tha3_training`)
build on it."""
