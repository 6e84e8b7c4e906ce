"""Email: the message, the mailers (SMTP or an outbox folder), and the ledger that sends each
decision once."""
