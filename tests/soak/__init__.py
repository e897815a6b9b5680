"""Crash, power-loss and storage-fault soaks over the whole checkout."""
