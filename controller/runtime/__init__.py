"""The Docker engine: containers, images, names and labels, the health gate."""
