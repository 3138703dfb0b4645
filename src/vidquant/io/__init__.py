"""Reading and writing: video files, safe checkpoints, JSON reports (imports nothing internal but errors)."""
