"""Outcomes and what is learnt from them: people's labels on handoffs, customers' ratings, live metrics from
the store, replaying stored turns under other thresholds (``tactful tune``) and shadow policies."""
