"""Commit -> image: the build context and the streamed docker build."""
