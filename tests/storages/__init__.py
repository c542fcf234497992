"""Tests for flowtrace.storages: the storage adapters and the pool (flowtrace.storages.pool)."""
