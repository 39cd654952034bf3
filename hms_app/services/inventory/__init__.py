"""Inventory: stock items, stores and the stock ledger, suppliers and purchase orders, counts, and
the equipment register with its maintenance. One module per concern; callers import the module
they need (nothing is re-exported here)."""
