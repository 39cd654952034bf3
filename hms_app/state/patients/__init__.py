"""The patient screens' states, one module per screen: search, registration, details (with
status, photo and merges), insurance coverage and the wristband."""
