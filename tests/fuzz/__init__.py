"""Fuzzing: every parser of outside input under hypothesis."""
