"""Fuzzing of the checkpoint reader: seed files, mutations, and a runner."""
