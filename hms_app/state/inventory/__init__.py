"""The inventory screens' states, one module per screen: the managers' dashboard
(/analytics/inventory). States hold what is on screen: small figures, one page of a drill-down."""
