"""Watching on its own (issue 15): how often each page changes, estimated from its captures
(history, estimator), which pages to fetch next within the fetch budget (planner), the plan as
`palimpsest schedule` and `/schedule` show it (report), and what `palimpsest monitor` keeps
between runs (state)."""
