"""Radiology: the imaging catalogue and orders with their safety questions, the modality work list,
DICOM storage (import, C-STORE from modalities, unmatched images), DICOMweb for the viewer, and the
radiologist's reports with the laboratory's critical-result loop.

One module per concern; ``common`` holds what they share. Callers import from the modules.
"""
