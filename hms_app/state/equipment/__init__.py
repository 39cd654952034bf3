"""The equipment screens' memory, one module per screen: the register (/equipment), one item with
its plans and work orders (/equipment/<id>) and the live maintenance board (/equipment/board)."""
