"""Sync with the store server: the MQTT contract, the paho adapter and the outbox drain."""
