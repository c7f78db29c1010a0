"""pystream-migrate: dump and restore PostgreSQL + TimescaleDB databases in pure Python."""

__version__ = "0.1.0"
