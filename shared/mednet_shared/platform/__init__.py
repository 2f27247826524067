"""Thin platform helpers every service uses: settings, Kafka and MongoDB clients, outbox, guard, dead letters."""
