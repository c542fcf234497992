"""Tests for flowtrace.storages and flowtrace.flow.storage_pool: the storage adapters and the pool."""
