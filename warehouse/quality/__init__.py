"""What of the data quality stays in Python. The quarantine, the large-move classification, stale
closes, missing sessions, the anomaly record and the detected market events are dbt models
(dbt_project/models/quality and dbt_project/models/findings); the Dagster checks read them.

- ``rules``: the thresholds (the defaults of the ``quality_rules`` resource, passed to dbt as
  vars) and the quarantine reasons.
- ``bar_rules``: the per-bar rules the raw writes apply to a re-delivered bar before it may replace
  a stored one (the dbt quarantine applies the same rules to the stored bars).
- ``coverage``: the latest completed session of each exchange (exchange_calendars), and the
  tickers the source could not deliver.

The rules are documented with worked examples in docs/QUALITY.md.
"""
