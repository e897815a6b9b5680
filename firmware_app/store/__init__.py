"""The lane's local store: peewee on one SQLite file (WAL, synchronous=FULL)."""
