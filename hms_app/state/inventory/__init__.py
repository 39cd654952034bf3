"""The inventory screens' states, one module per screen: stock on hand (/inventory, ``stock`` with its
transfer, adjustment and write-off dialogs in ``stock_moves``), receiving by scanning
(/inventory/receive), issuing (/inventory/issue), the catalogue (/inventory/items: ``catalogue`` and
``catalogue_stores``; item labels ``label``) and the live low-stock board (/inventory/board);
``stock_common`` holds what they share. Purchasing: the suggested orders and the order list
(/inventory/orders), one order (/inventory/orders/[order_id]), the suppliers (/inventory/suppliers),
the stock counts (/inventory/counts) and one count sheet (/inventory/counts/[count_id]);
``purchase_common`` holds what they share. The managers' dashboard (/analytics/inventory):
``dashboard``.

States hold what is on screen: one page of rows, the line being entered, the filters, the open
dialog. Every list is read in SQL one page at a time and every write goes through
``hms_app/services/inventory/``.
"""
