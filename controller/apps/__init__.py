"""App lifecycle and the validation of what users give."""
