"""Apps as Docker Swarm services (`runtime.backend = "swarm"`)."""
