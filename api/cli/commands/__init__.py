"""The client commands of `fogbank`, one module per subject; each registers on the root app."""
