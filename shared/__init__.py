"""Code both services import: event contract, certno validation, money, Kafka and DB plumbing."""
