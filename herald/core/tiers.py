"""The loyalty tiers of the contract, lowest first: every layer names them the same way."""

TIERS: tuple[str, ...] = ("new", "bronze", "silver", "gold", "platinum")
