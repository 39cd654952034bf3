"""Services: the domains' rules. Every write validates, authorizes, audits and commits here."""
