"""``hms`` commands that modules bring, each declared in the module registry (``commands``)."""
