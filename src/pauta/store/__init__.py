"""The metadata store (SQLAlchemy on SQLite or PostgreSQL) and the result store."""
