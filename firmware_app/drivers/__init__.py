"""Device adapters. Each sits behind a small port in ``ports.py``; the real
adapter talks evdev, pyserial, python-escpos or gpiozero, and hw_sim supplies
simulated hardware underneath the same adapters."""
