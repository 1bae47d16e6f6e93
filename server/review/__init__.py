"""Review: supervisors decide on visits, correct answers; admins reopen."""
