"""Analytics: one function per figure: a SQL aggregate to a small DataFrame, then a Plotly figure."""

import plotly.graph_objects as go

# What a screen's state holds before its data is loaded. A tab's first load sends the starting
# value of every page's state, so this must stay tiny: a themed empty figure is about 7.5 KB.
EMPTY_FIGURE = go.Figure(layout={"template": "none"})
