"""The population health screens, one module per screen: the dashboard (/population), measures
and care gaps (/population/measures), the cohort builder (/population/cohorts) and the
registries' code sets (/population/registries).

States hold what is on screen: small figures, one page of patients, the filter values. Every
patient list is read in SQL one page at a time and audited by the service.
"""
