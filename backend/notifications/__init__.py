"""Notifications: signed outbound webhooks to product owners, from a durable outbox."""
