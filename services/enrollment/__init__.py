"""Enrollment: people per insurance year as append-only event streams, published via an outbox."""
