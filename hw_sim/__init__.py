"""Simulated lane hardware."""
