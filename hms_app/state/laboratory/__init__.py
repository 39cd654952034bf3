"""The laboratory staff's screens' states, one module per screen: the worklist with its result entry
and verification (/lab, ``worklist``), specimen reception by scanning (/lab/reception,
``reception``), the board of open critical results (/lab/critical, ``critical``), the test catalogue
(/lab/catalogue, ``catalogue``) and one test with its ranges and panel members
(/lab/catalogue/[test_id], ``test_detail``); ``common`` holds what they share.

States hold what is on screen: one page of rows, the filters, the open dialog. Every list is read in
SQL one page at a time and every write goes through ``hms_app/services/laboratory/``; the worklist,
reception and critical board follow the live topics "lab" and "critical" as the ward board follows
"beds".
"""
