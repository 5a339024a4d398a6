"""Alembic migrations for PerfBot's database."""
