"""Event delivery to other systems: the outbox relay, webhooks and the NATS JetStream event stream."""
