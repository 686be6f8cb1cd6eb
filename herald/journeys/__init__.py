"""Journeys (contract section 14): multi-step automation with waits, branches, goals and
holdouts, above campaigns. A journey's message steps are campaigns of their own, so every message
passes the one send policy and the one ledger (see :mod:`herald.journeys.engine`)."""
