"""The inventory screens, one module per screen. Purchasing: the suggested orders and the order
list (/inventory/orders), one order (/inventory/orders/[order_id]), the suppliers
(/inventory/suppliers), the stock counts (/inventory/counts) and one count sheet
(/inventory/counts/[count_id]); ``purchase_common`` holds what they share.

States hold what is on screen: one page of rows, the filters, the open dialog. Every list is read
in SQL one page at a time and every write goes through ``hms_app/services/inventory/``.
"""
