"""Alembic migrations; shipped inside the wheel as ``pricewatch.migrations``."""
