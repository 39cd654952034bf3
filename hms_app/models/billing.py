"""Billing tables: catalogue, price lists, charges, invoices, payments, claims, expenses (placeholder)."""
