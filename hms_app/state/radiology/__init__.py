"""The radiology staff's screens' states, one module per screen: the modality work list with the
radiographer's arrived and started steps (/radiology, ``worklist``), and the unmatched images filed
to an order or discarded (/radiology/unmatched, ``unmatched``). States hold what is on screen;
every write goes through ``hms_app/services/radiology/``; the work list follows the live topic
"imaging"."""
