"""The patient chart's states: ``ChartState`` (the patient, the banner, the tab) in ``page``, and one
substate per tab (summary, encounters with their notes, vitals, problems, allergies, medications,
immunizations, documents), each in its own module, so that an event on one tab sends only its vars."""
