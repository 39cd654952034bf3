"""Interoperability: HMS's records as FHIR R4 resources and back, and outside data brought in.

A layer of its own between the HTTP API (and the command line) above and the services below:
it maps, validates and orchestrates; every write it makes goes through a service, or, for a
bulk import, through its own audited transaction.
"""
