"""The weekly report (contract section 11): data from the one metrics module, charts, the email,
and a small ledger so the scheduled report goes out once per week."""
