"""Data quality of the warehouse: pure, typed rules and the set-based DuckDB SQL that applies them.

- ``rules``: the vocabulary (checks, classifications, quarantine reasons) and the thresholds.
- ``integrity``: impossible raw bars, quarantined (``quality.quarantined_prices``), and whether a
  load is broken rather than carrying a bad tick.
- ``moves``: large one-day moves, classified (market event, corporate action, suspect data,
  idiosyncratic), and the market shocks they add up to.
- ``coverage``: stale closes, missing sessions, freshness of the latest session, source failures.
- ``anomalies``: the record of every flag (``quality.price_anomalies``) and of the detected market
  events (``quality.detected_market_events``).
- ``tables``: the quality tables, declared once, and their set-based writes.
- ``sql``: what the checks' SQL shares: the raw bars of both price tables, the latest load's
  window, parameter binding.

The rules are documented with worked examples in docs/QUALITY.md.
"""
