"""Analytics: one function per figure: a SQL aggregate to a small DataFrame, then a Plotly figure."""
