"""fogbank's domain core: queue, pipeline, git, docker and settings. Knows nothing about HTTP."""
