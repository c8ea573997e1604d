"""crm's messaging: the outbox (rendering, queueing, held emails, sending under a lease),
sequences and broadcasts. Import from the module that does the thing
(``apps.crm.messaging.outbox``, ``.sequences``, ``.broadcasts``...)."""
